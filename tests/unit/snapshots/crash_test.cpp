// Crash safety: a child process writes versions into a store (ingest,
// publish, retention, GC) and is SIGKILLed at seeded random moments. After
// every kill the parent opens the store afresh and checks that every visible
// version is complete: its manifest verifies, every chunk re-hashes, and the
// rebuilt files are exactly the bytes that version was made from. Every chunk
// file in the store, referenced or not, must re-hash too (whole or absent).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "snapshots/errors.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/rebuild.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;
namespace fs = std::filesystem;

constexpr std::uint64_t seed = 0x5eed'c4a5'4001ULL;
// A fixed number of kills, not as many as fit in a time budget: a loaded
// machine or a sanitizer build makes the test slower, never failed.
constexpr int kills_max = 30;

// The bytes of version seq: a slowly changing "memory" and a fresh "disk layer".
Bytes memory_of(std::uint64_t seq) {
  Bytes b = random_bytes(512 << 10, seed);
  testing::mutate_pages(b, 8, seed + seq);
  return b;
}
Bytes disk_of(std::uint64_t seq) { return random_bytes(60000 + (seq % 7) * 1000, seed * 31 + seq); }

StoreOptions options() {
  StoreOptions o;
  o.gc_grace = std::chrono::seconds(0);  // the child is the only writer
  return o;
}

[[noreturn]] void writer_main(const fs::path& root) {
  try {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    Store store(root, testing::test_key(), options());
    const Chunker chunker;
    const fs::path input = root.parent_path() / "input";
    fs::create_directories(input);
    store.apply_retention("web", 2);  // what a killed predecessor may not have done
    for (int round = 0; round < 100000; ++round) {
      const auto newest = store.newest("web");
      const std::uint64_t seq = newest ? newest->seq + 1 : 1;
      testing::write_file(input / "memory", memory_of(seq));
      testing::write_file(input / "vda", disk_of(seq));
      NewVersion req{"web",       {1, seq},
                     newest,      static_cast<std::int64_t>(seq),
                     "<domain/>", {{"memory", input / "memory"}, {"vda.qcow2", input / "vda"}}};
      write_version(store, chunker, req);
      if (seq > 1) store.mark_committed("web", {1, seq - 1});
      store.apply_retention("web", 2);
      if (seq % 3 == 0) store.gc();
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "writer: %s\n", e.what());
    ::_exit(2);
  }
}

// Every chunk file decodes to bytes with its name; returns how many.
std::size_t check_every_chunk_file(const Store& store) {
  std::size_t n = 0;
  Bytes plain;
  for (const auto& e : fs::recursive_directory_iterator(store.chunks().dir())) {
    const auto id = ChunkId::from_hex(e.path().filename().string());
    if (!id) continue;
    store.chunks().read(*id, plain);  // throws ChunkCorrupt on a torn file
    ++n;
  }
  return n;
}

// Temp files left by the killed writer (evidence the kill hit mid-write).
std::size_t temp_files(const fs::path& root) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) n += e.path().filename().string().starts_with(".tmp-");
  return n;
}

// Returns the number of versions visible.
std::size_t check_store(const fs::path& root, const fs::path& scratch) {
  Store store(root, testing::test_key(), options());
  const auto versions = store.versions("web");
  for (const Version v : versions) {
    SCOPED_TRACE("version " + to_string(v));
    fs::remove_all(scratch);
    rebuild_version(store, "web", v, scratch);  // verifies the MAC and re-hashes every chunk
    EXPECT_EQ(testing::read_file(scratch / "memory"), memory_of(v.seq));
    EXPECT_EQ(testing::read_file(scratch / "vda.qcow2"), disk_of(v.seq));
  }
  check_every_chunk_file(store);
  return versions.size();
}

// How long the writer takes per version on this machine (sanitizers, a busy
// disk): kills are then spread over a few versions' time, so they land in
// every phase (ingest, commit, publish, retention, GC) and the writer still
// makes progress between kills.
std::chrono::microseconds calibrate(const fs::path& root) {
  const pid_t pid = ::fork();
  if (pid == 0) writer_main(root);
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t newest = 0;
  while (newest < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const Store store(root, testing::test_key(), options());
    newest = store.newest("web").value_or(Version{}).seq;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto per_version = (std::chrono::steady_clock::now() - start) / std::max<std::uint64_t>(newest, 1);
  return std::chrono::duration_cast<std::chrono::microseconds>(per_version);
}

TEST(CrashSafety, Rule_WriterKilledAnywhere_EveryVisibleVersionCompleteAndVerifies) {
  const testing::TempDir dir;
  const fs::path root = dir / "store";
  std::mt19937_64 rng(seed);
  const auto start = std::chrono::steady_clock::now();
  const std::chrono::microseconds per_version = calibrate(root);
  int kills = 0;
  std::size_t versions_seen = 0;
  std::size_t max_visible = 0;
  int kills_mid_write = 0;
  std::size_t temps_before = temp_files(root);
  for (; kills < kills_max; ++kills) {
    const auto delay = std::chrono::microseconds(rng() % (2 * per_version.count() + 1));
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) writer_main(root);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer stopped by itself (status " << status << ") before kill " << kills;
    SCOPED_TRACE("after kill " + std::to_string(kills) + " (seed " + std::to_string(seed) + ", " +
                 std::to_string(delay.count()) + " us)");
    kills_mid_write += temp_files(root) > temps_before ? 1 : 0;
    std::size_t visible = 0;
    ASSERT_NO_THROW(visible = check_store(root, dir / "check"));
    temps_before = temp_files(root);
    versions_seen += visible;
    max_visible = std::max(max_visible, visible);
    if (HasFailure()) return;
  }
  Store store(root, testing::test_key(), options());
  const auto newest = store.newest("web");
  ASSERT_TRUE(newest.has_value()) << "no version was ever published: the kills came too early to test anything";
  EXPECT_GT(newest->seq, 3u) << "retention and GC never ran";
  // 2 committed + 2 above the watermark, + 1 published before its writer
  // died ahead of retention.
  EXPECT_LE(max_visible, 5u) << "retention bounds the versions kept";
  EXPECT_GE(kills_mid_write, kills / 10) << "too few kills landed while chunk files were being written";
  std::printf(
      "[ crash    ] %d kills (%d left temp files behind) in %.1f s (%.0f ms per version), newest version %s, "
      "%zu version checks\n",
      kills, kills_mid_write, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
      static_cast<double>(per_version.count()) / 1000.0, to_string(*newest).c_str(), versions_seen);
}

}  // namespace
}  // namespace vmrep::snapshots

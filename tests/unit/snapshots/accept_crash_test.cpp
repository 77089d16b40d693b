// Crash safety of the receiving end: a child process plays a backup that
// takes pushed versions (pack + manifest delivered into incoming/, as a
// pusher leaves them) with accept_incoming(), then retention and GC, and is
// SIGKILLed at seeded random moments. accept_incoming() makes chunk data
// durable with one syncfs() and only then renames chunk names into place
// (bulk_writer.hpp), so after every kill the parent checks what that order
// must guarantee: every visible version rebuilds to exactly its bytes, and
// every chunk file in the store re-hashes (whole or absent). Finally a fresh
// accept_incoming() takes whatever the killed child left in incoming/.
//
// A SIGKILL tests the order of operations, not the disk cache: what the
// process wrote survives it. The syncfs-before-rename order is what carries
// the same guarantee across a power loss.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "snapshots/incoming.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/pack.hpp"
#include "snapshots/rebuild.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t seed = 0xacce'97c4'a5ULL;
constexpr std::uint64_t versions_max = 80;  // more than 24 kills reach: kills land in work, not pause()
constexpr int kills_max = 24;  // fixed, not a time budget: a slow machine only makes it slower

Bytes memory_of(std::uint64_t seq) {
  Bytes b = testing::random_bytes(768 << 10, seed);
  testing::mutate_pages(b, 4 + seq % 5, seed + seq);
  return b;
}

StoreOptions options() {
  StoreOptions o;
  o.gc_grace = std::chrono::seconds(0);  // the child is the only writer
  return o;
}

// What a primary would push: for each version, the pack of all its chunks
// (the receiver skips the ones it has) and the manifest, in `outbox`.
void prepare_outbox(const fs::path& dir, const fs::path& outbox) {
  Store source(dir / "source", testing::test_key(), options());
  fs::create_directories(outbox);
  for (std::uint64_t seq = 1; seq <= versions_max; ++seq) {
    testing::write_file(dir / "memory", memory_of(seq));
    NewVersion req{"web",       {1, seq}, std::nullopt, static_cast<std::int64_t>(seq),
                   "<domain/>", {{"memory", dir / "memory"}}};
    const Manifest m = write_version(source, Chunker{}, req);
    std::vector<ChunkId> ids;
    for (const ChunkRef& c : m.files[0].chunks) ids.push_back(c.id);
    write_pack(source.chunks(), ids, outbox / ("1." + std::to_string(seq) + ".pack"));
    fs::copy_file(source.manifest_path("web", {1, seq}), outbox / ("1." + std::to_string(seq) + ".manifest"));
  }
}

// A pusher's delivery: the pack, then the manifest, each by rename.
void deliver(const fs::path& outbox, const fs::path& incoming, std::uint64_t seq) {
  for (const char* suffix : {".pack", ".manifest"}) {
    const std::string name = "1." + std::to_string(seq) + suffix;
    fs::copy_file(outbox / name, incoming / (".tmp-" + name), fs::copy_options::overwrite_existing);
    fs::rename(incoming / (".tmp-" + name), incoming / name);
  }
}

[[noreturn]] void backup_main(const fs::path& root, const fs::path& outbox) {
  try {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    Store store(root, testing::test_key(), options());
    const fs::path incoming = root / "incoming" / "web";
    fs::create_directories(incoming);
    accept_incoming(store);  // what a killed predecessor left
    for (;;) {
      const auto newest = store.newest("web");
      const std::uint64_t seq = newest ? newest->seq + 1 : 1;
      if (seq > versions_max) ::pause();  // the parent kills us
      deliver(outbox, incoming, seq);
      const AcceptStats st = accept_incoming(store);
      if (!st.errors.empty()) throw std::runtime_error(st.errors.front());
      if (seq > 1) store.mark_committed("web", {1, seq - 1});
      store.apply_retention("web", 2);
      if (seq % 3 == 0) store.gc();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "backup: %s\n", e.what());
    ::_exit(2);
  }
}

std::size_t temp_files(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.path().filename().string().starts_with(".tmp-");
  return n;
}

std::size_t check_store(const fs::path& root, const fs::path& scratch) {
  Store store(root, testing::test_key(), options());
  const auto versions = store.versions("web");
  for (const Version v : versions) {
    SCOPED_TRACE("version " + to_string(v));
    fs::remove_all(scratch);
    rebuild_version(store, "web", v, scratch);  // MAC, and every chunk re-hashed
    EXPECT_EQ(testing::read_file(scratch / "memory"), memory_of(v.seq));
  }
  Bytes plain;
  for (const auto& e : fs::recursive_directory_iterator(store.chunks().dir())) {
    if (const auto id = ChunkId::from_hex(e.path().filename().string())) store.chunks().read(*id, plain);
  }
  return versions.size();
}

TEST(AcceptCrashSafety, Rule_BackupKilledAnywhereInAccept_EveryVisibleVersionCompleteAndEveryChunkWhole) {
  const testing::TempDir dir;
  const fs::path root = dir / "backup";
  const fs::path outbox = dir / "outbox";
  prepare_outbox(dir.path(), outbox);
  std::mt19937_64 rng(seed);
  // How long a version takes here (one syncfs each, on a shared disk): kills
  // are spread over about two versions' time.
  const auto t0 = std::chrono::steady_clock::now();
  {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) backup_main(root, outbox);
    while (Store(root, testing::test_key(), options()).newest("web").value_or(Version{}).seq < 3 &&
           std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  const std::uint64_t calibrated = Store(root, testing::test_key(), options()).newest("web").value_or(Version{}).seq;
  const auto per_version = std::chrono::duration_cast<std::chrono::microseconds>(
      (std::chrono::steady_clock::now() - t0) / std::max<std::uint64_t>(calibrated, 1));

  int kills = 0;
  int kills_mid_accept = 0;
  std::size_t temps_before = temp_files(root);
  // At least kills_max kills; past that, more (up to 3 x kills_max) only
  // while none has yet landed mid-write: where kills land depends on the
  // machine's load, and a run in which none did would show nothing.
  for (; kills < kills_max || (kills_mid_accept == 0 && kills < 3 * kills_max); ++kills) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) backup_main(root, outbox);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (2 * per_version.count() + 1)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the backup failed by itself: " << status;
    SCOPED_TRACE("after kill " + std::to_string(kills));
    kills_mid_accept += temp_files(root) > temps_before ? 1 : 0;
    ASSERT_NO_THROW(check_store(root, dir / "check"));
    temps_before = temp_files(root);
    if (HasFailure()) return;
  }
  EXPECT_GE(kills_mid_accept, 1) << "no kill landed while chunks or incoming files were being written";
  Store store(root, testing::test_key(), options());
  const AcceptStats last = accept_incoming(store);
  EXPECT_TRUE(last.errors.empty()) << last.errors.front();
  EXPECT_NO_THROW(check_store(root, dir / "check"));
  const auto newest = store.newest("web");
  ASSERT_TRUE(newest.has_value());
  EXPECT_GT(newest->seq, 3u);
  std::printf("[ crash    ] %d kills (%d mid-write), newest version %s, %.0f ms per version\n", kills,
              kills_mid_accept, to_string(*newest).c_str(), static_cast<double>(per_version.count()) / 1000.0);
}

}  // namespace
}  // namespace vmrep::snapshots

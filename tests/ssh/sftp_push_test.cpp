// SFTP push against a real OpenSSH sshd on loopback (tests/ssh/sshd_fixture).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "snapshots/errors.hpp"
#include "snapshots/incoming.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/rebuild.hpp"
#include "snapshots/store.hpp"
#include "tests/ssh/push_support.hpp"
#include "tests/ssh/sshd_fixture.hpp"
#include "tests/support/file_bytes.hpp"
#include "transport/sftp/pusher.hpp"
#include "transport/sftp/session.hpp"

namespace vmrep::tests::ssh {
namespace {

namespace fs = std::filesystem;
namespace snap = vmrep::snapshots;
namespace sftp = vmrep::transport::sftp;
using vmrep::test::read_bytes;
using vmrep::test::write_bytes;

std::size_t remote_chunk_files(const fs::path& root) {
  std::size_t n = 0;
  if (!fs::exists(root / "chunks")) return 0;
  for (const auto& e : fs::recursive_directory_iterator(root / "chunks")) {
    if (e.is_regular_file() && snap::ChunkId::from_hex(e.path().filename().string())) ++n;
  }
  return n;
}

class SftpPush : public PushFixture {
 protected:
  // The tests written for one remote file per chunk keep that path
  // (pack_threshold = never); the pack tests pass the default.
  static constexpr std::uint64_t never = ~std::uint64_t{0};
  sftp::Pusher pusher(sftp::ProgressFn progress = {}, unsigned parallel = 3, std::uint64_t pack_threshold = never) {
    sftp::PushOptions o;
    o.remote_root = remote_root_.string();
    o.parallel_sessions = parallel;
    o.pack_threshold_chunks = pack_threshold;
    o.progress = std::move(progress);
    return sftp::Pusher(*local_, sshd_->endpoint(), o);
  }

};

TEST_F(SftpPush, Push_ArrivesWholeAndVerifies) {
  const snap::Bytes image = make_image(3 << 20, 1);
  const snap::Manifest m = add_version(1, image);
  sftp::PushProgress last;
  const sftp::PushStats stats = pusher([&](const sftp::PushProgress& p) { last = p; }).push("web", {1, 1});

  EXPECT_EQ(stats.chunks_referenced, ids_of(m).size());
  EXPECT_EQ(stats.chunks_present, 0u);
  EXPECT_EQ(stats.chunks_sent, stats.chunks_referenced);
  EXPECT_EQ(last.chunks_done, last.chunks_total);
  EXPECT_EQ(last.bytes_done, last.bytes_total);
  EXPECT_EQ(last.bytes_total, stats.bytes_sent());

  snap::Store remote(remote_root_, test_key());
  EXPECT_EQ(remote.load("web", {1, 1}), m);
  EXPECT_EQ(remote.verify("web", {1, 1}).bytes, image.size());
  snap::rebuild_version(remote, "web", {1, 1}, sshd_->dir() / "restored");
  EXPECT_EQ(read_bytes(sshd_->dir() / "restored" / "memory"), image);

  // Pushing it again sends nothing.
  EXPECT_TRUE(pusher().push("web", {1, 1}).already_there);
}

TEST_F(SftpPush, Push_SecondVersionSendsOnlyNewChunks) {
  snap::Bytes image = make_image(3 << 20, 2);
  const snap::Manifest m1 = add_version(1, image);
  pusher().push("web", {1, 1});
  std::mt19937 rng(3);
  for (int i = 0; i < 20; ++i) image[rng() % image.size()] ^= 0x5a;  // scattered small edits
  const snap::Manifest m2 = add_version(2, image);

  const auto old_ids = ids_of(m1);
  std::size_t expected_new = 0;
  for (const auto& id : ids_of(m2)) expected_new += old_ids.contains(id) ? 0 : 1;
  ASSERT_GT(expected_new, 0u);
  ASSERT_LT(expected_new, ids_of(m2).size() / 4);

  const sftp::PushStats stats = pusher().push("web", {1, 2});
  EXPECT_EQ(stats.chunks_sent, expected_new);
  EXPECT_EQ(stats.chunks_present, ids_of(m2).size() - expected_new);
  snap::Store remote(remote_root_, test_key());
  EXPECT_EQ(remote.verify("web", {1, 2}).bytes, image.size());
}

TEST_F(SftpPush, Push_KilledMidwayResumesWithoutResending) {
  const snap::Manifest m = add_version(1, make_image(3 << 20, 4));
  const std::size_t total = ids_of(m).size();
  constexpr std::uint64_t kill_after = 40;
  auto killer = [](const sftp::PushProgress& p) {
    if (p.chunks_done >= kill_after) throw std::runtime_error("killed by test");
  };
  EXPECT_THROW(pusher(killer).push("web", {1, 1}), std::runtime_error);

  snap::Store remote(remote_root_, test_key());
  EXPECT_TRUE(remote.versions("web").empty()) << "no manifest before every chunk is in";
  const std::size_t arrived = remote_chunk_files(remote_root_);
  EXPECT_GE(arrived, kill_after);
  EXPECT_LT(arrived, total);

  const sftp::PushStats stats = pusher().push("web", {1, 1});
  EXPECT_EQ(stats.chunks_present, arrived);
  EXPECT_EQ(stats.chunks_sent, total - arrived) << "finished chunks are not sent again";
  EXPECT_EQ(remote.verify("web", {1, 1}).chunks, m.files[0].chunks.size());
}

const std::uint64_t default_threshold = sftp::PushOptions{}.pack_threshold_chunks;

TEST_F(SftpPush, Pack_FirstPushArrivesWholeAndVerifiesAfterAccept) {
  const snap::Bytes image = make_image(3 << 20, 11);
  const snap::Manifest m = add_version(1, image);
  sftp::PushProgress last;
  const sftp::PushStats stats =
      pusher([&](const sftp::PushProgress& p) { last = p; }, 3, default_threshold).push("web", {1, 1});
  ASSERT_TRUE(stats.packed);
  EXPECT_EQ(stats.chunks_sent, ids_of(m).size());
  EXPECT_EQ(stats.chunk_bytes_sent, stats.pack_bytes);
  EXPECT_EQ(stats.pack_resumed_from, 0u);
  EXPECT_EQ(last.bytes_done, last.bytes_total);
  EXPECT_EQ(last.chunks_done, last.chunks_total);
  EXPECT_EQ(remote_chunk_files(remote_root_), 0u) << "chunks arrive in one pack";

  snap::Store remote(remote_root_, test_key());
  EXPECT_TRUE(remote.versions("web").empty()) << "not visible before accept_incoming";
  EXPECT_TRUE(pusher({}, 3, default_threshold).push("web", {1, 1}).already_there) << "delivered, awaiting accept";
  const snap::AcceptStats accepted = snap::accept_incoming(remote);
  ASSERT_TRUE(accepted.errors.empty()) << accepted.errors.front();
  ASSERT_EQ(accepted.published.size(), 1u);
  EXPECT_EQ(accepted.published[0].chunks_unpacked, ids_of(m).size());
  EXPECT_EQ(remote.load("web", {1, 1}), m);
  EXPECT_EQ(remote.verify("web", {1, 1}).bytes, image.size());
  snap::rebuild_version(remote, "web", {1, 1}, sshd_->dir() / "restored");
  EXPECT_EQ(read_bytes(sshd_->dir() / "restored" / "memory"), image);
  EXPECT_TRUE(fs::is_empty(remote_root_ / "incoming" / "web")) << "incoming files removed";
  EXPECT_TRUE(pusher({}, 3, default_threshold).push("web", {1, 1}).already_there);
}

TEST_F(SftpPush, Pack_KilledMidwayResumesByAppending) {
  const snap::Manifest m = add_version(1, make_image(6 << 20, 12));
  std::uint64_t sent_before_kill = 0;
  auto killer = [&](const sftp::PushProgress& p) {
    sent_before_kill = p.bytes_done;
    if (p.bytes_done >= p.bytes_total / 2) throw std::runtime_error("killed by test");
  };
  EXPECT_THROW(pusher(killer, 3, default_threshold).push("web", {1, 1}), std::runtime_error);
  const fs::path part = remote_root_ / "incoming" / "web" / "1.1.pack.part";
  ASSERT_TRUE(fs::exists(part));
  const std::uint64_t part_size = fs::file_size(part);
  // Writes are pipelined: what was in flight when the push stopped arrived too.
  EXPECT_GE(part_size, sent_before_kill);
  EXPECT_LE(part_size, sent_before_kill + sftp::PushOptions{}.pack_window_bytes + sftp::PushOptions{}.pack_write_bytes);
  snap::Store remote(remote_root_, test_key());
  EXPECT_TRUE(snap::accept_incoming(remote).published.empty()) << "no manifest before the pack is whole";
  EXPECT_TRUE(remote.versions("web").empty());

  const sftp::PushStats stats = pusher({}, 3, default_threshold).push("web", {1, 1});
  ASSERT_TRUE(stats.packed);
  EXPECT_EQ(stats.pack_resumed_from, part_size);
  EXPECT_EQ(stats.chunk_bytes_sent, stats.pack_bytes - part_size) << "finished bytes are not sent again";
  EXPECT_LE(sent_before_kill + stats.chunk_bytes_sent, stats.pack_bytes + sftp::PushOptions{}.pack_window_bytes);
  const snap::AcceptStats accepted = snap::accept_incoming(remote);
  ASSERT_TRUE(accepted.errors.empty()) << accepted.errors.front();
  EXPECT_EQ(remote.verify("web", {1, 1}).chunks, m.files[0].chunks.size());
}

// The backup's sshd itself dies (SIGKILL, with its session processes) while
// the pack streams: the pusher sees a dead connection, not an exception of
// ours. sshd comes back on the same port and key; the next push appends.
TEST_F(SftpPush, Pack_SshdKilledMidwayThenRestarted_ResumesAndArrivesWhole) {
  const snap::Bytes image = make_image(8 << 20, 15);
  const snap::Manifest m = add_version(1, image);
  std::size_t killed = 0;
  std::uint64_t done_at_kill = 0;
  auto kill_sshd = [&](const sftp::PushProgress& p) {
    if (killed == 0 && p.bytes_done >= p.bytes_total / 2) {
      done_at_kill = p.bytes_done;
      killed = sshd_->kill_hard();
    }
  };
  EXPECT_THROW(pusher(kill_sshd, 3, default_threshold).push("web", {1, 1}), std::runtime_error);
  ASSERT_GE(killed, 2u) << "the listener and at least the connection's sshd";
  const fs::path part = remote_root_ / "incoming" / "web" / "1.1.pack.part";
  ASSERT_TRUE(fs::exists(part));
  const std::uint64_t part_size = fs::file_size(part);
  EXPECT_GT(part_size, 0u);
  EXPECT_FALSE(fs::exists(remote_root_ / "incoming" / "web" / "1.1.manifest"));

  sshd_->restart();
  const sftp::PushStats stats = pusher({}, 3, default_threshold).push("web", {1, 1});
  ASSERT_TRUE(stats.packed);
  EXPECT_GT(stats.pack_resumed_from, 0u) << "resumed, not started over";
  EXPECT_EQ(stats.pack_resumed_from, part_size);
  EXPECT_LT(part_size, stats.pack_bytes) << "the kill hit mid-way";
  EXPECT_GE(done_at_kill, stats.pack_bytes / 2);
  EXPECT_EQ(stats.chunk_bytes_sent, stats.pack_bytes - part_size) << "finished bytes are not sent again";

  snap::Store remote(remote_root_, test_key());
  const snap::AcceptStats accepted = snap::accept_incoming(remote);
  ASSERT_TRUE(accepted.errors.empty()) << accepted.errors.front();
  ASSERT_EQ(accepted.published.size(), 1u);
  EXPECT_EQ(remote.load("web", {1, 1}), m);
  EXPECT_EQ(remote.verify("web", {1, 1}).bytes, image.size());
  snap::rebuild_version(remote, "web", {1, 1}, sshd_->dir() / "restored");
  EXPECT_EQ(read_bytes(sshd_->dir() / "restored" / "memory"), image);
}

TEST_F(SftpPush, Pack_CorruptPackIsRefusedByAccept) {
  add_version(1, make_image(3 << 20, 13));
  ASSERT_TRUE(pusher({}, 3, default_threshold).push("web", {1, 1}).packed);
  const fs::path pack = remote_root_ / "incoming" / "web" / "1.1.pack";
  {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(pack) / 2));
    f.put('\x5a');
    f.seekp(static_cast<std::streamoff>(fs::file_size(pack) / 2 + 1));
    f.put('\xa5');
  }
  snap::Store remote(remote_root_, test_key());
  const snap::AcceptStats accepted = snap::accept_incoming(remote);
  EXPECT_TRUE(accepted.published.empty());
  ASSERT_EQ(accepted.errors.size(), 1u);
  EXPECT_NE(accepted.errors[0].find(pack.string() + ": record at offset "), std::string::npos) << accepted.errors[0];
  EXPECT_TRUE(remote.versions("web").empty());
  // Refused versions are dropped from incoming/, so a new push repairs it.
  const sftp::PushStats again = pusher({}, 3, default_threshold).push("web", {1, 1});
  EXPECT_FALSE(again.already_there);
  EXPECT_TRUE(snap::accept_incoming(remote).errors.empty());
  EXPECT_EQ(remote.verify("web", {1, 1}).bytes, 3u << 20);
}

TEST_F(SftpPush, Pack_BelowThresholdSendsChunkFiles) {
  const snap::Manifest m = add_version(1, make_image(256 << 10, 14));
  ASSERT_LE(ids_of(m).size(), default_threshold);
  const sftp::PushStats stats = pusher({}, 3, default_threshold).push("web", {1, 1});
  EXPECT_FALSE(stats.packed);
  EXPECT_EQ(stats.chunks_sent, ids_of(m).size());
  snap::Store remote(remote_root_, test_key());
  EXPECT_EQ(remote.load("web", {1, 1}), m);
  EXPECT_EQ(remote.verify("web", {1, 1}).bytes, 256u << 10);
}

// Guest memory arrives on the backup as chunks and packs: nothing the push
// creates there may be readable by other local users (it was 0644 in 0755).
TEST_F(SftpPush, EverythingAPushCreates_IsOwnerOnly) {
  add_version(1, make_image(256 << 10, 21));
  pusher().push("web", {1, 1});                              // chunk files
  add_version(2, make_image(3 << 20, 22));
  pusher({}, 3, default_threshold).push("web", {1, 2});     // one pack
  std::size_t files = 0, dirs = 0;
  for (const auto& e : fs::recursive_directory_iterator(remote_root_)) {
    const fs::perms p = fs::symlink_status(e.path()).permissions();
    EXPECT_EQ(p & (fs::perms::group_all | fs::perms::others_all), fs::perms::none)
        << e.path() << " is open to group or others";
    (e.is_directory() ? dirs : files) += 1;
  }
  EXPECT_GT(files, 2u);
  EXPECT_GT(dirs, 2u);
}

TEST_F(SftpPush, HostKey_UnknownIsRefused) {
  std::ofstream(sshd_->known_hosts(), std::ios::trunc) << "";
  try {
    sftp::Session session(sshd_->endpoint());
    FAIL() << "connected to an unknown host";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("is not in " + sshd_->known_hosts().string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("ssh-keyscan -p " + std::to_string(sshd_->port()) + " -t ed25519 127.0.0.1 >> "),
              std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST_F(SftpPush, HostKey_ChangedIsRefused) {
  make_key(sshd_->dir() / "other_key");
  std::ifstream in(sshd_->dir() / "other_key.pub");
  std::string other;
  std::getline(in, other);
  std::ofstream(sshd_->known_hosts(), std::ios::trunc) << "[127.0.0.1]:" << sshd_->port() << " " << other << "\n";
  try {
    sftp::Session session(sshd_->endpoint());
    FAIL() << "connected to a host whose key changed";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does NOT match"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ssh-keyscan"), std::string::npos) << msg;
  }
}

TEST_F(SftpPush, Manifest_BadMacIsRefusedByReceiver) {
  add_version(1, make_image(256 << 10, 5));
  pusher().push("web", {1, 1});
  // The backup's cluster key differs: the MAC does not verify.
  snap::Store stranger(remote_root_, test_key(9));
  EXPECT_THROW(stranger.load("web", {1, 1}), snap::ManifestError);
  // Same key, but the MAC on disk was tampered with.
  snap::Store remote(remote_root_, test_key());
  const fs::path file = remote.manifest_path("web", {1, 1});
  std::string text;
  {
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = text.find("\"mac\":\"") + 7;
  text[at] = text[at] == '0' ? '1' : '0';
  std::ofstream(file, std::ios::trunc) << text;
  EXPECT_THROW(remote.load("web", {1, 1}), snap::ManifestError);
}

TEST_F(SftpPush, PushFile_CopiesBytes) {
  const snap::Bytes data = make_image((1 << 20) + 12345, 6);
  write_bytes(sshd_->dir() / "plain", data);
  sftp::Session session(sshd_->endpoint());
  EXPECT_EQ(session.push_file(sshd_->dir() / "plain", (sshd_->dir() / "copy").string()), data.size());
  EXPECT_EQ(read_bytes(sshd_->dir() / "copy"), data);
}

}  // namespace
}  // namespace vmrep::tests::ssh

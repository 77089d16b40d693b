// What a push costs in round trips (issue 14): against a version the backup
// acknowledged, a small constant whatever the number of chunks and shard
// directories; the SSH session is kept between pushes; an interrupted pack
// is reused by the next version's push. Real sshd on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <stdexcept>

#include "snapshots/incoming.hpp"
#include "tests/ssh/push_support.hpp"
#include "transport/sftp/pusher.hpp"

namespace vmrep::tests::ssh {
namespace {

namespace fs = std::filesystem;
namespace snap = vmrep::snapshots;
namespace sftp = vmrep::transport::sftp;

// Round trips a push may cost beyond the windows of its stream: open, close,
// rename of the pack; open, write, close, rename of the manifest.
constexpr std::uint64_t fixed_round_trips_max = 8;

class PushRoundTrips : public PushFixture {
 protected:
  // `edits` scattered one-byte changes.
  static void edit(snap::Bytes& image, int edits, std::uint32_t seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < edits; ++i) image[rng() % image.size()] ^= 0x5a;
  }
  std::size_t accept_all() {
    snap::Store remote(remote_root_, test_key());
    const snap::AcceptStats got = snap::accept_incoming(remote);
    EXPECT_TRUE(got.errors.empty()) << got.errors.front();
    return got.published.size();
  }
  void expect_verifies(snap::Version v, std::size_t bytes) {
    snap::Store remote(remote_root_, test_key());
    EXPECT_EQ(remote.verify("web", v).bytes, bytes);
  }
  static std::uint64_t windows(const sftp::PushStats& s) {
    const std::uint64_t w = sftp::PushOptions{}.pack_window_bytes;
    return (s.pack_bytes + w - 1) / w;
  }
  // Distinct shard directories (first id byte) of the chunks `m` has and `base` lacks.
  static std::size_t new_shards(const snap::Manifest& base, const snap::Manifest& m) {
    const auto old_ids = ids_of(base);
    std::set<std::uint8_t> shards;
    for (const auto& id : ids_of(m))
      if (!old_ids.contains(id)) shards.insert(id.bytes[0]);
    return shards.size();
  }
};

TEST_F(PushRoundTrips, NextVersionAgainstAckedBase_CostsAConstantNumberOfRoundTrips) {
  snap::Bytes image = make_image(8 << 20, 21);
  const snap::Manifest m1 = add_version(1, image);
  sftp::Pusher pusher(*local_, sshd_->endpoint(), options());
  const sftp::PushStats first = pusher.push("web", {1, 1}, sftp::BackupEmpty{});
  EXPECT_FALSE(first.listed) << "an empty backup is not listed";
  ASSERT_EQ(accept_all(), 1u);

  edit(image, 10, 22);
  const snap::Manifest m2 = add_version(2, image);
  const sftp::PushStats small = pusher.push("web", {1, 2}, sftp::BackupHolds{{{1, 1}}});
  ASSERT_EQ(accept_all(), 1u);
  expect_verifies({1, 2}, image.size());

  edit(image, 1500, 23);
  const snap::Manifest m3 = add_version(3, image);
  const sftp::PushStats large = pusher.push("web", {1, 3}, sftp::BackupHolds{{{1, 1}, {1, 2}}});
  ASSERT_EQ(accept_all(), 1u);
  expect_verifies({1, 3}, image.size());

  ASSERT_GE(new_shards(m2, m3), 200u) << "the large delta touches most shard directories";
  ASSERT_GE(large.chunks_sent, 10 * small.chunks_sent);
  for (const auto* s : {&small, &large}) {
    EXPECT_FALSE(s->listed);
    EXPECT_FALSE(s->connected) << "the session is kept between pushes";
    EXPECT_TRUE(s->packed);
    EXPECT_LE(s->round_trips, fixed_round_trips_max + windows(*s))
        << s->chunks_sent << " chunks, " << s->pack_bytes << " pack bytes";
  }
  std::cout << "round trips: small delta " << small.round_trips << " (" << small.chunks_sent << " chunks), large delta "
            << large.round_trips << " (" << large.chunks_sent << " chunks, " << large.pack_bytes << " bytes)\n";
  EXPECT_EQ(small.base, (snap::Version{1, 1}));
  EXPECT_EQ(large.base, (snap::Version{1, 2})) << "the newest held version is the base";
  EXPECT_EQ(small.round_trips - windows(small), large.round_trips - windows(large))
      << "independent of the number of chunks and shard directories";

  // The listing it replaces, for contrast: one per shard directory and more.
  edit(image, 10, 24);
  add_version(4, image);
  const sftp::PushStats listed = pusher.push("web", {1, 4}, sftp::BackupUnknown{});
  EXPECT_TRUE(listed.listed);
  EXPECT_GT(listed.round_trips, 250u);
  std::cout << "round trips: listed " << listed.round_trips << "\n";
}

TEST_F(PushRoundTrips, HeldVersionIsAlreadyThere_NothingSent) {
  add_version(1, make_image(1 << 20, 31));
  sftp::Pusher pusher(*local_, sshd_->endpoint(), options());
  const sftp::PushStats s = pusher.push("web", {1, 1}, sftp::BackupHolds{{{1, 1}}});
  EXPECT_TRUE(s.already_there);
  EXPECT_EQ(s.bytes_sent(), 0u);
  EXPECT_EQ(s.round_trips, 0u);
}

TEST_F(PushRoundTrips, BaseNotHeldLocally_FallsBackToListing) {
  add_version(1, make_image(1 << 20, 32));
  sftp::Pusher pusher(*local_, sshd_->endpoint(), options());
  const sftp::PushStats s = pusher.push("web", {1, 1}, sftp::BackupHolds{{{9, 9}}});
  EXPECT_TRUE(s.listed);
  EXPECT_FALSE(s.base);
  accept_all();
  expect_verifies({1, 1}, 1 << 20);
}

TEST_F(PushRoundTrips, Session_KeptBetweenPushes_RenewedAfterTheBackupsSshdRestarted) {
  snap::Bytes image = make_image(1 << 20, 41);
  add_version(1, image);
  sftp::Pusher pusher(*local_, sshd_->endpoint(), options());
  EXPECT_TRUE(pusher.push("web", {1, 1}, sftp::BackupEmpty{}).connected);
  accept_all();
  edit(image, 5, 42);
  add_version(2, image);
  EXPECT_FALSE(pusher.push("web", {1, 2}, sftp::BackupHolds{{{1, 1}}}).connected);
  accept_all();

  ASSERT_GT(sshd_->kill_hard(), 0u);
  sshd_->restart();
  edit(image, 5, 43);
  add_version(3, image);
  const sftp::PushStats s = pusher.push("web", {1, 3}, sftp::BackupHolds{{{1, 2}}});
  EXPECT_TRUE(s.connected) << "the dead session was replaced, the push went through";
  ASSERT_EQ(accept_all(), 1u);
  expect_verifies({1, 3}, image.size());
}

TEST_F(PushRoundTrips, InterruptedPack_IsReusedByTheNextVersionsPush) {
  snap::Bytes image = make_image(6 << 20, 51);
  add_version(1, image);
  sftp::Pusher pusher(*local_, sshd_->endpoint(), options());
  std::uint64_t acked_before_kill = 0;
  auto killer = [&](const sftp::PushProgress& p) {
    acked_before_kill = p.bytes_done;
    if (p.bytes_done >= p.bytes_total / 2) throw std::runtime_error("link lost (test)");
  };
  EXPECT_THROW(pusher.push("web", {1, 1}, sftp::BackupEmpty{}, killer), std::runtime_error);
  const fs::path part1 = remote_root_ / "incoming" / "web" / "1.1.pack.part";
  ASSERT_TRUE(fs::exists(part1));

  // The link came back one interval later: the next version goes instead.
  edit(image, 40, 52);
  add_version(2, image);
  const sftp::PushStats s = pusher.push("web", {1, 2}, sftp::BackupEmpty{});
  EXPECT_GT(s.pack_reused_records, 0u);
  EXPECT_GE(s.pack_resumed_from, acked_before_kill / 2) << "the interrupted bytes count";
  EXPECT_EQ(s.chunk_bytes_sent, s.pack_bytes - s.pack_resumed_from) << "finished records are not sent again";
  EXPECT_FALSE(fs::exists(part1)) << "the old part became the new version's pack";
  ASSERT_EQ(accept_all(), 1u);
  expect_verifies({1, 2}, image.size());
}

}  // namespace
}  // namespace vmrep::tests::ssh

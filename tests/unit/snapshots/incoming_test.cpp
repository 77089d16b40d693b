// accept_incoming() on a backup store: packs delivered into incoming/ as a
// pusher leaves them (pack, then manifest), no sshd involved.
#include "snapshots/incoming.hpp"

#include <gtest/gtest.h>

#include <set>

#include "snapshots/ingest.hpp"
#include "snapshots/pack.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

namespace fs = std::filesystem;

// Puts `data` as version (1, seq) into `source`, and delivers to `backup`'s
// incoming/ the pack of the chunks `backup` lacks, then the manifest.
Manifest deliver(Store& source, Store& backup, std::uint64_t seq, const Bytes& data, const fs::path& scratch) {
  testing::write_file(scratch, data);
  const Manifest m =
      write_version(source, Chunker{}, {"web", {1, seq}, std::nullopt, 0, "<domain/>", {{"memory", scratch}}});
  std::vector<ChunkId> ids;
  for (const ChunkRef& c : m.files[0].chunks) ids.push_back(c.id);
  const fs::path in = backup.root() / "incoming" / "web";
  fs::create_directories(in);
  write_pack(source.chunks(), backup.chunks().missing(ids), in / ("1." + std::to_string(seq) + ".pack"));
  fs::copy_file(source.manifest_path("web", {1, seq}), in / ("1." + std::to_string(seq) + ".manifest"));
  return m;
}

TEST(Incoming, Rule_ChunkNotFromThePackIsRehashed_ACorruptOneRefusesTheVersion) {
  const testing::TempDir dir;
  Store source(dir / "source", testing::test_key());
  Store backup(dir / "backup", testing::test_key());
  Bytes data = testing::random_bytes(4 << 20, 31);  // about 500 chunks: several re-hash threads
  const Manifest m1 = deliver(source, backup, 1, data, dir / "memory");
  const AcceptStats first = accept_incoming(backup);
  ASSERT_TRUE(first.errors.empty()) << first.errors.front();
  EXPECT_EQ(first.published.at(0).chunks_rehashed, 0u) << "every chunk came in the pack";

  // v2 shares most chunks with v1; one shared chunk rots on the backup.
  testing::mutate_pages(data, 20, 32);
  const Manifest m2 = deliver(source, backup, 2, data, dir / "memory");
  std::set<ChunkId> in_v1;
  for (const ChunkRef& c : m1.files[0].chunks) in_v1.insert(c.id);
  std::vector<ChunkId> shared;
  for (const ChunkRef& c : m2.files[0].chunks) {
    if (in_v1.contains(c.id)) shared.push_back(c.id);
  }
  ASSERT_GT(shared.size(), 256u);
  const ChunkId rotten = shared[shared.size() / 2 + 1];  // not the first: another thread's share
  testing::flip_byte(backup.chunks().path_of(rotten), 3);

  const AcceptStats second = accept_incoming(backup);
  ASSERT_EQ(second.errors.size(), 1u);
  EXPECT_NE(second.errors[0].find(rotten.hex()), std::string::npos) << second.errors[0];
  EXPECT_FALSE(backup.has_version("web", {1, 2}));
  EXPECT_TRUE(backup.has_version("web", {1, 1}));
}

}  // namespace
}  // namespace vmrep::snapshots

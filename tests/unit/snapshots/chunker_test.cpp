#include "snapshots/chunker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "snapshots/errors.hpp"
#include "snapshots/gear_table.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;

std::vector<ChunkId> chunk_ids(const Chunker& chunker, ByteView data) {
  std::vector<ChunkId> ids;
  for (const std::size_t len : chunker.split(data)) {
    ids.push_back(sha256(data.first(len)));
    data = data.subspan(len);
  }
  return ids;
}

// Chunks of `after` whose id is not among the chunks of `before`.
std::size_t new_chunks(const std::vector<ChunkId>& before, const std::vector<ChunkId>& after) {
  const std::set<ChunkId> old(before.begin(), before.end());
  return static_cast<std::size_t>(
      std::count_if(after.begin(), after.end(), [&](const ChunkId& id) { return !old.contains(id); }));
}

void expect_bounds(const ChunkerConfig& c, const std::vector<std::size_t>& sizes, std::size_t total) {
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), total);
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    ASSERT_GE(sizes[i], c.chunk_bytes_min) << "chunk " << i;
    ASSERT_LE(sizes[i], c.chunk_bytes_max) << "chunk " << i;
  }
  EXPECT_LE(sizes.back(), c.chunk_bytes_max);
}

TEST(GearTable, Rule_Committed_IsSplitmix64OfItsSeed) {
  std::uint64_t state = gear_table_seed;
  for (std::size_t i = 0; i < gear_table.size(); ++i) {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    ASSERT_EQ(gear_table[i], z) << "gear_table[" << i << "] was edited";
  }
}

TEST(Chunker, Rule_SameBytes_SameCuts) {
  const Bytes data = random_bytes(4 << 20, 1);
  const Chunker a;
  const Chunker b;
  EXPECT_EQ(a.split(data), b.split(data));
  EXPECT_EQ(a.split(data), a.split(data));
}

// Chunk boundaries are part of the on-disk format: a change here makes every
// stored chunk useless for deduplication. Update only on purpose.
TEST(Chunker, Rule_Defaults_CutsNeverChangeAcrossBuilds) {
  const Bytes data = random_bytes(1 << 20, 7);
  const std::vector<std::size_t> sizes = Chunker().split(data);
  const std::vector<std::size_t> first(sizes.begin(), sizes.begin() + 6);
  EXPECT_EQ(first, (std::vector<std::size_t>{8377, 13792, 10298, 10757, 13676, 9368}));
  EXPECT_EQ(sizes.size(), 114u);
}

TEST(Chunker, Rule_RandomData_EveryChunkWithinMinAndMax) {
  const Bytes data = random_bytes(8 << 20, 2);
  const ChunkerConfig c;
  expect_bounds(c, Chunker(c).split(data), data.size());
}

TEST(Chunker, Rule_SmallConfig_EveryChunkWithinMinAndMax) {
  const ChunkerConfig c{256, 1024, 4096};
  const Bytes data = random_bytes(2 << 20, 3);
  expect_bounds(c, Chunker(c).split(data), data.size());
}

TEST(Chunker, Rule_ConstantData_CutAtMaxOrContentButWithinBounds) {
  const ChunkerConfig c;
  for (const std::uint8_t fill : {0x00, 0xff, 0x5a}) {
    const Bytes data(3 << 20, fill);
    expect_bounds(c, Chunker(c).split(data), data.size());
  }
}

TEST(Chunker, Rule_TailShorterThanMin_IsOneChunk) {
  const Chunker chunker;
  const Bytes data = random_bytes(1000, 4);
  EXPECT_EQ(chunker.split(data), std::vector<std::size_t>{1000});
  EXPECT_TRUE(chunker.split(ByteView{}).empty());
}

TEST(Chunker, Rule_NormalizedChunking_AverageNearConfigured) {
  const Bytes data = random_bytes(16 << 20, 5);
  const auto sizes = Chunker().split(data);
  const double mean = static_cast<double>(data.size()) / static_cast<double>(sizes.size());
  EXPECT_GT(mean, 6.0 * 1024) << sizes.size() << " chunks";
  EXPECT_LT(mean, 12.0 * 1024) << sizes.size() << " chunks";
}

TEST(Chunker, Rule_InsertOneByteNearStart_AllButAFewChunksUnchanged) {
  const Bytes original = random_bytes(16 << 20, 6);
  Bytes shifted = original;
  shifted.insert(shifted.begin() + 100, std::uint8_t{0xab});
  const Chunker chunker;
  const auto before = chunk_ids(chunker, original);
  const auto after = chunk_ids(chunker, shifted);
  ASSERT_GT(before.size(), 1000u);
  // The edit touches the chunk it lands in; the cut after it may move once.
  EXPECT_LE(new_chunks(before, after), 3u) << "of " << after.size();
}

TEST(Chunker, Rule_DeleteAndOverwriteInTheMiddle_OnlyNearbyChunksChange) {
  const Bytes original = random_bytes(16 << 20, 8);
  Bytes edited = original;
  edited.erase(edited.begin() + (5 << 20), edited.begin() + (5 << 20) + 17);
  std::fill(edited.begin() + (11 << 20), edited.begin() + (11 << 20) + 300, std::uint8_t{0});
  const Chunker chunker;
  EXPECT_LE(new_chunks(chunk_ids(chunker, original), chunk_ids(chunker, edited)), 6u);
}

TEST(Chunker, Rule_BadConfig_RefusedWithTheReason) {
  EXPECT_NE(validate(ChunkerConfig{32, 8192, 65536}).find("chunk_bytes_min"), std::string::npos);
  EXPECT_NE(validate(ChunkerConfig{2048, 6000, 65536}).find("power of two"), std::string::npos);
  EXPECT_NE(validate(ChunkerConfig{8192, 8192, 65536}).find("chunk_bytes_avg"), std::string::npos);
  EXPECT_NE(validate(ChunkerConfig{2048, 8192, 8192}).find("chunk_bytes_max"), std::string::npos);
  EXPECT_NE(validate(ChunkerConfig{2048, 8192, 4 << 20}).find("limit"), std::string::npos);
  EXPECT_THROW(Chunker(ChunkerConfig{2048, 8192, 8192}), SnapshotError);
  EXPECT_EQ(validate(ChunkerConfig{}), "");
}

TEST(FileChunker, Rule_StreamingFile_SameChunksAsWholeBuffer) {
  const testing::TempDir dir;
  const Bytes data = random_bytes((5 << 20) + 12345, 9);
  testing::write_file(dir / "f", data);
  const Chunker chunker;
  FileChunker reader(chunker, dir / "f");
  std::vector<std::size_t> streamed;
  std::size_t offset = 0;
  while (const auto chunk = reader.next()) {
    ASSERT_TRUE(std::equal(chunk->begin(), chunk->end(), data.begin() + static_cast<std::ptrdiff_t>(offset)));
    offset += chunk->size();
    streamed.push_back(chunk->size());
  }
  EXPECT_EQ(streamed, chunker.split(data));
  EXPECT_EQ(reader.bytes_done(), data.size());
  EXPECT_LE(reader.buffer_bytes(), std::size_t{1} << 20);
}

TEST(FileChunker, Rule_EmptyFile_NoChunks_MissingFile_Error) {
  const testing::TempDir dir;
  testing::write_file(dir / "empty", ByteView{});
  const Chunker chunker;
  FileChunker reader(chunker, dir / "empty");
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_THROW(FileChunker(chunker, dir / "absent"), SnapshotError);
}

}  // namespace
}  // namespace vmrep::snapshots

#include "snapshots/pack.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "snapshots/errors.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;
using testing::TempDir;

// `n` chunks of 1..12 KiB in `store`, half compressible.
std::vector<ChunkId> fill(ChunkStore& store, std::size_t n, std::uint64_t seed) {
  std::vector<ChunkId> ids;
  for (std::size_t i = 0; i < n; ++i) {
    Bytes b = random_bytes(1024 + (i * 977) % 11000, seed + i);
    if (i % 2 == 0) std::fill(b.begin() + static_cast<std::ptrdiff_t>(b.size() / 2), b.end(), std::uint8_t{0});
    ids.push_back(store.put(b));
  }
  return ids;
}

std::vector<std::uint64_t> record_offsets(const ChunkStore& store, const std::vector<ChunkId>& ids) {
  std::vector<std::uint64_t> out;
  std::uint64_t at = pack_header_bytes;
  for (const auto& id : ids) {
    out.push_back(at);
    at += pack_record_header_bytes + *store.stored_bytes(id);
  }
  return out;
}

void expect_refused(ChunkStore& store, const std::filesystem::path& pack, std::uint64_t offset, const std::string& what) {
  try {
    unpack_into(store, pack);
    FAIL() << "accepted " << pack;
  } catch (const SnapshotError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(pack.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("offset " + std::to_string(offset) + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(Pack, Rule_RoundTrip_EveryChunkArrivesVerified) {
  const TempDir dir;
  ChunkStore src(dir / "src");
  ChunkStore dst(dir / "dst");
  const auto ids = fill(src, 40, 1);
  const auto size = write_pack(src, ids, dir / "p.pack");
  EXPECT_EQ(size, std::filesystem::file_size(dir / "p.pack"));
  const UnpackStats s = unpack_into(dst, dir / "p.pack");
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.records, ids.size());
  EXPECT_EQ(s.chunks_written, ids.size());
  EXPECT_EQ(s.bytes, size);
  EXPECT_EQ(s.ids, ids);
  for (const auto& id : ids) EXPECT_EQ(dst.read(id), src.read(id));
  // Again: nothing new.
  EXPECT_EQ(unpack_into(dst, dir / "p.pack").chunks_written, 0u);
}

TEST(Pack, Rule_ReadAt_AnyOffsetGivesTheSameBytes) {
  const TempDir dir;
  ChunkStore src(dir / "src");
  const auto ids = fill(src, 10, 2);
  write_pack(src, ids, dir / "p.pack");
  const Bytes whole = testing::read_file(dir / "p.pack");
  PackSource source(src, ids);
  ASSERT_EQ(source.size(), whole.size());
  for (std::uint64_t at : {std::uint64_t{0}, std::uint64_t{5}, std::uint64_t{44}, std::uint64_t{1000}, source.size() - 3}) {
    Bytes got(777);
    const std::size_t n = source.read_at(at, got);
    ASSERT_EQ(n, std::min<std::uint64_t>(777, whole.size() - at));
    EXPECT_TRUE(std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n), whole.begin() + static_cast<std::ptrdiff_t>(at)));
  }
}

TEST(Pack, Rule_TruncatedTail_TakesWholeRecordsOnly) {
  const TempDir dir;
  ChunkStore src(dir / "src");
  const auto ids = fill(src, 12, 3);
  write_pack(src, ids, dir / "p.pack");
  const Bytes whole = testing::read_file(dir / "p.pack");
  const auto offsets = record_offsets(src, ids);
  // Cut in the middle of record 7's body, and inside record 9's header.
  for (const auto& [cut, expected] : std::vector<std::pair<std::uint64_t, std::size_t>>{
           {offsets[7] + pack_record_header_bytes + 3, 7}, {offsets[9] + 10, 9}, {offsets[4], 4}, {20, 0}}) {
    ChunkStore dst(dir / ("dst" + std::to_string(cut)));
    testing::write_file(dir / "cut.pack", ByteView(whole.data(), cut));
    const UnpackStats s = unpack_into(dst, dir / "cut.pack");
    EXPECT_FALSE(s.complete);
    EXPECT_EQ(s.records, expected) << "cut at " << cut;
    for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(dst.contains(ids[i]), i < expected) << i;
  }
}

TEST(Pack, Rule_CorruptRecord_RefusedNamingOffset) {
  const TempDir dir;
  ChunkStore src(dir / "src");
  ChunkStore dst(dir / "dst");
  const auto ids = fill(src, 8, 4);
  write_pack(src, ids, dir / "p.pack");
  const auto offsets = record_offsets(src, ids);
  testing::flip_byte(dir / "p.pack", offsets[5] + pack_record_header_bytes + 20);
  expect_refused(dst, dir / "p.pack", offsets[5], ids[5].hex());
  EXPECT_FALSE(dst.contains(ids[5]));
  EXPECT_TRUE(dst.missing(std::vector<ChunkId>{ids[5], ids[6], ids[7]}).size() == 3) << "nothing after it";
}

TEST(Pack, Rule_OversizeLength_Refused) {
  const TempDir dir;
  ChunkStore src(dir / "src");
  ChunkStore dst(dir / "dst");
  const auto ids = fill(src, 3, 5);
  write_pack(src, ids, dir / "p.pack");
  Bytes whole = testing::read_file(dir / "p.pack");
  const auto offsets = record_offsets(src, ids);
  // Length field of record 1 := 0xFFFFFFF0.
  for (int i = 0; i < 4; ++i) whole[offsets[1] + 32 + static_cast<std::size_t>(i)] = i == 0 ? 0xF0 : 0xFF;
  testing::write_file(dir / "big.pack", whole);
  expect_refused(dst, dir / "big.pack", offsets[1], "out of bounds");
  for (int i = 0; i < 4; ++i) whole[offsets[1] + 32 + static_cast<std::size_t>(i)] = 0;
  testing::write_file(dir / "zero.pack", whole);
  expect_refused(dst, dir / "zero.pack", offsets[1], "out of bounds");
}

TEST(Pack, Rule_BadHeader_Refused) {
  const TempDir dir;
  ChunkStore src(dir / "src");
  ChunkStore dst(dir / "dst");
  const auto ids = fill(src, 2, 6);
  write_pack(src, ids, dir / "p.pack");
  Bytes whole = testing::read_file(dir / "p.pack");
  whole[7] = 2;
  testing::write_file(dir / "v2.pack", whole);
  expect_refused(dst, dir / "v2.pack", 0, "unknown pack format version 2");
  whole[7] = 1;
  whole[0] = 'X';
  testing::write_file(dir / "magic.pack", whole);
  expect_refused(dst, dir / "magic.pack", 0, "bad magic");
  whole[0] = 'V';
  whole[8] = 1;  // declares 1 record, holds 2
  testing::write_file(dir / "count.pack", whole);
  expect_refused(dst, dir / "count.pack", record_offsets(src, ids)[1], "more records");
}

}  // namespace
}  // namespace vmrep::snapshots

// snapshots/standby: a standby directory follows version after version by
// writing only the chunks that differ at their offset, and always ends up
// byte for byte the version's files.
#include "snapshots/standby.hpp"

#include <gtest/gtest.h>

#include "snapshots/errors.hpp"
#include "snapshots/ingest.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;
using testing::TempDir;

struct Versions {
  TempDir dir;
  Store store{dir / "store", testing::test_key()};
  Chunker chunker;

  Manifest make(Version v, std::vector<std::pair<std::string, Bytes>> files) {
    IngestStats stats;
    ChunkWriter writer(store.chunks());
    Manifest m;
    m.service = "web";
    m.version = v;
    for (auto& [name, data] : files) m.files.push_back({name, ingest_bytes(writer, chunker, data, stats)});
    writer.commit();
    return m;
  }
};

TEST(Standby, Rule_FirstUpdate_WritesEveryFileWhole) {
  Versions t;
  const Bytes memory = random_bytes(1 << 20, 1), disk = random_bytes(300000, 2);
  const Manifest m = t.make({1, 1}, {{"memory", memory}, {"disk.vda.0.qcow2", disk}});
  const StandbyStats s = update_standby(t.store.chunks(), m, nullptr, t.dir / "standby");
  EXPECT_EQ(testing::read_file(t.dir / "standby" / "memory"), memory);
  EXPECT_EQ(testing::read_file(t.dir / "standby" / "disk.vda.0.qcow2"), disk);
  EXPECT_EQ(s.files, 2u);
  EXPECT_EQ(s.chunks_kept, 0u);
  EXPECT_EQ(s.bytes_written, memory.size() + disk.size());
}

TEST(Standby, Rule_NextVersion_WritesOnlyChangedChunksAndMatchesExactly) {
  Versions t;
  Bytes memory = random_bytes(4 << 20, 3);
  const Manifest v1 = t.make({1, 1}, {{"memory", memory}, {"gone", random_bytes(5000, 4)}});
  update_standby(t.store.chunks(), v1, nullptr, t.dir / "standby");

  testing::mutate_pages(memory, 20, 5);      // scattered changes
  memory.resize(memory.size() - 70000);      // and a shorter file
  const Manifest v2 = t.make({1, 2}, {{"memory", memory}, {"new", random_bytes(1000, 6)}});
  const StandbyStats s = update_standby(t.store.chunks(), v2, &v1, t.dir / "standby");
  EXPECT_EQ(testing::read_file(t.dir / "standby" / "memory"), memory);
  EXPECT_FALSE(std::filesystem::exists(t.dir / "standby" / "gone")) << "files the version does not name go";
  EXPECT_TRUE(std::filesystem::exists(t.dir / "standby" / "new"));
  EXPECT_GT(s.chunks_kept, s.chunks_written) << "most chunks stay where they are";
  EXPECT_LT(s.bytes_written * 4, memory.size());
}

TEST(Standby, Rule_ShiftedContent_IsRewrittenNotTrustedByIdAlone) {
  Versions t;
  Bytes memory = random_bytes(1 << 20, 7);
  const Manifest v1 = t.make({1, 1}, {{"memory", memory}});
  update_standby(t.store.chunks(), v1, nullptr, t.dir / "standby");
  memory.insert(memory.begin(), 777, std::uint8_t{9});  // every later chunk moves by 777 bytes
  const Manifest v2 = t.make({1, 2}, {{"memory", memory}});
  update_standby(t.store.chunks(), v2, &v1, t.dir / "standby");
  EXPECT_EQ(testing::read_file(t.dir / "standby" / "memory"), memory);
}

TEST(Standby, Rule_CorruptChunk_IsAnErrorNamingIt) {
  Versions t;
  const Manifest m = t.make({1, 1}, {{"memory", random_bytes(100000, 8)}});
  const ChunkId bad = m.files[0].chunks[0].id;
  testing::flip_byte(t.store.chunks().path_of(bad), 20);
  try {
    update_standby(t.store.chunks(), m, nullptr, t.dir / "standby");
    FAIL() << "a flipped byte must not reach the standby";
  } catch (const ChunkCorrupt& e) {
    EXPECT_EQ(e.id(), bad);
  }
}

}  // namespace
}  // namespace vmrep::snapshots

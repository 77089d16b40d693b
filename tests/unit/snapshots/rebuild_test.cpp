#include "snapshots/rebuild.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "snapshots/errors.hpp"
#include "snapshots/ingest.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;
using testing::TempDir;

struct Fixture {
  TempDir dir;
  Store store{dir / "store", testing::test_key()};
  Manifest m;

  // Files: memory (random with a 512 KiB zero run), empty, small.
  Bytes memory = [] {
    Bytes b = random_bytes(2 << 20, 1);
    std::fill(b.begin() + (1 << 20), b.begin() + (3 << 19), std::uint8_t{0});
    return b;
  }();
  Bytes small = random_bytes(100, 2);

  Fixture() {
    IngestStats stats;
    const Chunker chunker;
    ChunkWriter writer(store.chunks());
    m.service = "web";
    m.version = {2, 7};
    m.files = {{"memory", ingest_bytes(writer, chunker, memory, stats)},
               {"empty", {}},
               {"small.bin", ingest_bytes(writer, chunker, small, stats)}};
    writer.commit();
    store.publish(m);
  }

  std::vector<std::string> entries(const std::filesystem::path& d) const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(d)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST(Rebuild, Rule_Version_RebuiltToExactBytesWithHoles) {
  Fixture f;
  const RebuildStats stats = rebuild_version(f.store, "web", {2, 7}, f.dir / "out" / "nested");
  const auto out = f.dir / "out" / "nested";
  EXPECT_EQ(testing::read_file(out / "memory"), f.memory);
  EXPECT_EQ(testing::read_file(out / "small.bin"), f.small);
  EXPECT_TRUE(testing::read_file(out / "empty").empty());
  EXPECT_EQ(f.entries(out), (std::vector<std::string>{"empty", "memory", "small.bin"}));
  EXPECT_EQ(stats.files, 3u);
  EXPECT_EQ(stats.bytes, f.memory.size() + f.small.size());
  EXPECT_GE(stats.hole_bytes, 400000u) << "the zero run is mostly all-zero chunks";
  struct stat st {};
  ASSERT_EQ(::stat((out / "memory").c_str(), &st), 0);
  EXPECT_LT(static_cast<std::uint64_t>(st.st_blocks) * 512, f.memory.size()) << "sparse";
}

TEST(Rebuild, Rule_FlippedByteInAChunk_FailsNamingChunkAndFile_LeavesNoFile) {
  Fixture f;
  const ChunkRef victim = f.m.files[0].chunks[5];
  testing::flip_byte(f.store.chunks().path_of(victim.id), 40);
  const auto out = f.dir / "out";
  std::filesystem::create_directories(out);
  const std::string previous = "previous";
  testing::write_file(out / "memory", testing::view(previous));
  try {
    rebuild_version(f.store, "web", {2, 7}, out);
    FAIL() << "corruption not detected";
  } catch (const ChunkCorrupt& e) {
    EXPECT_EQ(e.id(), victim.id);
    const std::string what = e.what();
    EXPECT_NE(what.find(victim.id.hex()), std::string::npos) << what;
    EXPECT_NE(what.find("'memory'"), std::string::npos) << what;
  }
  EXPECT_EQ(f.entries(out), std::vector<std::string>{"memory"}) << "no temp file left behind";
  EXPECT_EQ(testing::read_file(out / "memory"), Bytes(previous.begin(), previous.end()));
  EXPECT_THROW(f.store.verify("web", {2, 7}), ChunkCorrupt);
}

TEST(Rebuild, Rule_MissingChunk_FailsAsMissing) {
  Fixture f;
  const ChunkRef victim = f.m.files[2].chunks[0];
  std::filesystem::remove(f.store.chunks().path_of(victim.id));
  try {
    rebuild(f.store.chunks(), f.m, f.dir / "out");
    FAIL();
  } catch (const ChunkMissing& e) {
    EXPECT_EQ(e.id(), victim.id);
    EXPECT_NE(std::string(e.what()).find("'small.bin'"), std::string::npos) << e.what();
  }
}

TEST(Rebuild, Rule_ChunkOfWrongSize_Refused) {
  Fixture f;
  Manifest lying = f.m;
  lying.files[2].chunks[0].size += 1;  // an authentic manifest never says this; rebuild checks anyway
  EXPECT_THROW(rebuild(f.store.chunks(), lying, f.dir / "out"), ChunkCorrupt);
}

TEST(Rebuild, Rule_AbsentVersion_Refused) {
  Fixture f;
  EXPECT_THROW(rebuild_version(f.store, "web", {9, 9}, f.dir / "out"), SnapshotError);
}

}  // namespace
}  // namespace vmrep::snapshots

#include "snapshots/store.hpp"

#include <gtest/gtest.h>

#include <set>

#include "snapshots/errors.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/rebuild.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;
using testing::TempDir;

StoreOptions no_grace() {
  StoreOptions o;
  o.gc_grace = std::chrono::seconds(0);
  return o;
}

// Writes `data` as the single file "memory" of version v of `service`.
Manifest put_version(Store& store, const std::string& service, Version v, const Bytes& data,
                     IngestStats* stats = nullptr) {
  IngestStats local;
  Manifest m;
  m.service = service;
  m.version = v;
  m.created_unix_ms = 1000;
  m.domain_xml = "<domain/>";
  ChunkWriter writer(store.chunks());
  m.files.push_back({"memory", ingest_bytes(writer, Chunker(), data, local)});
  writer.commit();
  store.publish(m);
  if (stats) *stats = local;
  return m;
}

std::vector<ChunkId> ids_of(const Manifest& m) {
  std::vector<ChunkId> ids;
  for (const auto& f : m.files) {
    for (const auto& c : f.chunks) ids.push_back(c.id);
  }
  return ids;
}

std::vector<Version> seqs(std::initializer_list<std::uint64_t> s) {
  std::vector<Version> out;
  for (const auto v : s) out.push_back({1, v});
  return out;
}

TEST(Store, Rule_WriteVersionFromFiles_LoadsVerifiesAndRebuildsExactly) {
  const TempDir dir;
  Store store(dir / "store", testing::test_key());
  const Bytes memory = random_bytes((3 << 20) + 17, 1);
  const Bytes disk = random_bytes(700000, 2);
  testing::write_file(dir / "mem.img", memory);
  testing::write_file(dir / "vda.qcow2", disk);
  NewVersion req{"web",         {4, 1},      Version{4, 0},
                 1700000000000, "<domain/>", {{"memory", dir / "mem.img"}, {"vda.qcow2", dir / "vda.qcow2"}}};
  IngestStats stats;
  const Manifest m = write_version(store, Chunker(), req, &stats);
  EXPECT_EQ(stats.bytes, memory.size() + disk.size());
  EXPECT_EQ(stats.new_chunks, stats.chunks);

  EXPECT_EQ(store.versions("web"), (std::vector<Version>{{4, 1}}));
  EXPECT_EQ(store.load("web", {4, 1}), m);
  EXPECT_EQ(store.verify("web", {4, 1}).bytes, memory.size() + disk.size());
  const RebuildStats r = rebuild_version(store, "web", {4, 1}, dir / "restore");
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(testing::read_file(dir / "restore" / "memory"), memory);
  EXPECT_EQ(testing::read_file(dir / "restore" / "vda.qcow2"), disk);
}

TEST(Store, Rule_Versions_ListedInTermThenSeqOrder) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());
  const Bytes data = random_bytes(10000, 3);
  for (const Version v : {Version{2, 5}, Version{10, 1}, Version{3, 0}, Version{2, 10}})
    put_version(store, "db", v, data);
  EXPECT_EQ(store.versions("db"), (std::vector<Version>{{2, 5}, {2, 10}, {3, 0}, {10, 1}}));
  EXPECT_EQ(store.newest("db"), (Version{10, 1}));
  EXPECT_EQ(store.services(), std::vector<std::string>{"db"});
  EXPECT_TRUE(store.versions("other").empty());
  EXPECT_FALSE(store.newest("other").has_value());
  EXPECT_THROW(store.versions("../etc"), SnapshotError);
}

TEST(Store, Rule_PublishWithMissingChunk_RefusedAndNothingVisible) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());
  Manifest m;
  m.service = "web";
  m.version = {1, 1};
  m.files.push_back({"memory", {{sha256(random_bytes(100, 4)), 100}}});
  EXPECT_THROW(store.publish(m), ChunkMissing);
  EXPECT_TRUE(store.versions("web").empty());
}

TEST(Store, Rule_Versions_Immutable) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());
  Manifest m = put_version(store, "web", {1, 1}, random_bytes(5000, 5));
  EXPECT_NO_THROW(store.publish(m)) << "same bytes again: a no-op";
  m.created_unix_ms += 1;
  EXPECT_THROW(store.publish(m), SnapshotError);
  EXPECT_EQ(store.load("web", {1, 1}).created_unix_ms, 1000);
}

TEST(Store, Rule_ManifestUnderAnotherVersionsName_Refused) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());
  put_version(store, "web", {1, 1}, random_bytes(5000, 6));
  std::filesystem::copy_file(store.manifest_path("web", {1, 1}), store.manifest_path("web", {1, 2}));
  try {
    store.load("web", {1, 2});
    FAIL();
  } catch (const ManifestError& e) {
    EXPECT_EQ(e.field(), "version");
  }
}

TEST(Store, Rule_RetentionWithWatermark_KeepsKCommittedKInFlightAndPinned) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key(), no_grace());
  for (std::uint64_t s = 1; s <= 10; ++s) put_version(store, "web", {1, s}, random_bytes(3000, s));
  store.mark_committed("web", {1, 6});
  store.mark_committed("web", {1, 4});  // never lowers
  EXPECT_EQ(store.committed_watermark("web"), (Version{1, 6}));
  const Pin pin = store.pin("web", {1, 3});
  const RetentionResult r = store.apply_retention("web", 2);
  EXPECT_EQ(r.kept, seqs({3, 5, 6, 9, 10}));
  EXPECT_EQ(r.removed, seqs({1, 2, 4, 7, 8}));
  EXPECT_EQ(store.versions("web"), seqs({3, 5, 6, 9, 10}));
  EXPECT_EQ(store.newest_committed("web"), (Version{1, 6}));
  EXPECT_EQ(store.pinned("web"), seqs({3}));
}

TEST(Store, Rule_RetentionWithoutWatermark_KeepsNewestKAndPinned_PinReleaseFreesIt) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key(), no_grace());
  for (std::uint64_t s = 1; s <= 6; ++s) put_version(store, "web", {1, s}, random_bytes(3000, s));
  Pin pin = store.pin("web", {1, 1});
  Pin second = store.pin("web", {1, 1});
  EXPECT_EQ(store.apply_retention("web", 3).kept, seqs({1, 4, 5, 6}));
  pin.release();
  EXPECT_EQ(store.apply_retention("web", 3).kept, seqs({1, 4, 5, 6})) << "still pinned once";
  second = Pin();
  EXPECT_EQ(store.apply_retention("web", 3).removed, seqs({1}));
  EXPECT_FALSE(store.newest_committed("web").has_value());
  EXPECT_THROW(store.apply_retention("web", 0), SnapshotError);
}

TEST(Store, Rule_Gc_DeletesOnlyUnreferencedChunks) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key(), no_grace());
  Bytes data = random_bytes(2 << 20, 7);
  std::vector<Manifest> ms;
  for (std::uint64_t s = 1; s <= 4; ++s) {
    testing::mutate_pages(data, 40, s);
    ms.push_back(put_version(store, "web", {1, s}, data));
  }
  put_version(store, "db", {1, 1}, random_bytes(100000, 8));
  const auto before = store.usage();
  store.apply_retention("web", 1);
  const GcStats gc = store.gc();
  EXPECT_GT(gc.sweep.chunks_deleted, 0u);
  EXPECT_EQ(gc.manifests, 2u);
  EXPECT_TRUE(gc.unverified_manifests.empty());
  const std::set<ChunkId> live = [&] {
    const auto ids = ids_of(ms.back());
    std::set<ChunkId> s(ids.begin(), ids.end());
    for (const auto& id : ids_of(store.load("db", {1, 1}))) s.insert(id);
    return s;
  }();
  EXPECT_EQ(gc.sweep.chunks_kept, live.size());
  for (const ChunkId& id : ids_of(ms.front())) EXPECT_EQ(store.chunks().contains(id), live.contains(id));
  EXPECT_NO_THROW(store.verify("web", {1, 4}));
  EXPECT_NO_THROW(store.verify("db", {1, 1}));
  EXPECT_EQ(store.usage().chunk_files, live.size());
  EXPECT_LT(store.usage().chunk_bytes, before.chunk_bytes);
  EXPECT_EQ(store.gc().sweep.chunks_deleted, 0u) << "nothing left to delete";
}

TEST(Store, Rule_GcGrace_KeepsYoungUnreferencedChunks) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());                       // default grace: an hour
  const ChunkId orphan = store.chunks().put(random_bytes(5000, 9));  // a transfer's, before its manifest
  const GcStats gc = store.gc();
  EXPECT_EQ(gc.sweep.chunks_young, 1u);
  EXPECT_EQ(gc.sweep.chunks_deleted, 0u);
  EXPECT_TRUE(store.chunks().contains(orphan));
}

TEST(Store, Rule_Gc_SweepsAbandonedIncomingOlderThanGrace_KeepsDeliveredAndYoung) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());  // default grace: an hour
  const auto in = dir / "s" / "incoming" / "web";
  std::filesystem::create_directories(in);
  const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(2);
  const auto make = [&](const std::string& name, bool aged) {
    testing::write_file(in / name, testing::view("x"));
    if (aged) std::filesystem::last_write_time(in / name, old);
  };
  make("1.1.pack.part", true);             // a push that never came back
  make("1.2.pack.part", false);            // one still appending
  make(".tmp-1.3.manifest-ab12", true);    // a pusher died before its rename
  make("1.4.pack", true);                  // died between pack and manifest
  make("1.5.pack", true);                  // delivered, waiting for accept_incoming
  make("1.5.manifest", true);

  EXPECT_EQ(store.gc().incoming_deleted, 3u);
  EXPECT_FALSE(std::filesystem::exists(in / "1.1.pack.part"));
  EXPECT_TRUE(std::filesystem::exists(in / "1.2.pack.part"));
  EXPECT_FALSE(std::filesystem::exists(in / ".tmp-1.3.manifest-ab12"));
  EXPECT_FALSE(std::filesystem::exists(in / "1.4.pack"));
  EXPECT_TRUE(std::filesystem::exists(in / "1.5.pack"));
  EXPECT_TRUE(std::filesystem::exists(in / "1.5.manifest"));
  EXPECT_EQ(store.gc().incoming_deleted, 0u);
}

TEST(Store, Rule_GcWithUnverifiableManifest_KeepsEveryIdItNames) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key(), no_grace());
  const Manifest m = put_version(store, "web", {1, 1}, random_bytes(300000, 10));
  const auto path = store.manifest_path("web", {1, 1});
  Bytes text = testing::read_file(path);
  const std::string s(text.begin(), text.end());
  const auto at = s.find("\"created_unix_ms\":1000");
  text[at + 18] = '2';  // the MAC no longer verifies
  testing::write_file(path, text);
  EXPECT_THROW(store.load("web", {1, 1}), ManifestError);
  const GcStats gc = store.gc();
  EXPECT_EQ(gc.unverified_manifests, std::vector<std::string>{path.string()});
  EXPECT_EQ(gc.sweep.chunks_deleted, 0u);
  for (const ChunkId& id : ids_of(m)) EXPECT_TRUE(store.chunks().contains(id));
}

TEST(Store, Rule_Usage_ReportsSizePerService) {
  const TempDir dir;
  Store store(dir / "s", testing::test_key());
  const Bytes shared = random_bytes(200000, 11);
  put_version(store, "web", {1, 1}, shared);
  put_version(store, "web", {1, 2}, random_bytes(100000, 12));
  put_version(store, "db", {2, 1}, shared);
  const StoreUsage u = store.usage();
  ASSERT_EQ(u.services.size(), 2u);
  const ServiceUsage& web = u.services.at("web");
  const ServiceUsage& db = u.services.at("db");
  EXPECT_EQ(web.versions, 2u);
  EXPECT_EQ(web.newest_bytes, 100000u);
  EXPECT_EQ(db.newest_bytes, 200000u);
  EXPECT_GT(web.stored_bytes, db.stored_bytes);
  EXPECT_EQ(u.chunk_files, web.chunks) << "db's chunks are all shared with web";
  EXPECT_GT(db.stored_bytes, 200000u) << "random data does not compress";
}

// The receiving side of a push, as a pusher drives it: ask what is missing,
// send those chunks' stored form, then the manifest last.
TEST(Store, Rule_PushFlow_OnlyMissingChunksCrossAndManifestComesLast) {
  const TempDir dir;
  Store primary(dir / "primary", testing::test_key());
  Store backup(dir / "backup", testing::test_key());
  const auto push = [&](const Manifest& m) {
    const std::vector<ChunkId> ids = ids_of(m);
    const std::vector<ChunkId> need = backup.chunks().missing(ids);
    ChunkWriter writer(backup.chunks());
    for (const ChunkId& id : need) writer.put_encoded(id, primary.chunks().read_encoded(id));
    writer.commit();
    const Bytes text = testing::read_file(primary.manifest_path(m.service, m.version));
    backup.publish_received(std::string(text.begin(), text.end()), "from primary");
    return need.size();
  };
  Bytes image = random_bytes(4 << 20, 13);
  IngestStats first;
  const Manifest v1 = put_version(primary, "web", {1, 1}, image, &first);
  EXPECT_EQ(push(v1), first.new_chunks);
  EXPECT_NO_THROW(backup.verify("web", {1, 1}));

  testing::mutate_pages(image, 30, 14);  // ~3% of 1024 pages
  IngestStats second;
  const Manifest v2 = put_version(primary, "web", {1, 2}, image, &second);
  const std::size_t sent = push(v2);
  EXPECT_EQ(sent, second.new_chunks);
  EXPECT_LE(sent, 2 * 30u) << "a changed page touches one or two chunks";
  EXPECT_LT(sent * 5, ids_of(v2).size()) << "scattered 4 KiB pages: each costs a ~9 KiB chunk or two";
  EXPECT_EQ(backup.load("web", {1, 2}), v2);

  // Chunk files another process wrote straight into the store (as
  // sftp-server would) are re-hashed before the version may appear.
  Store third(dir / "third", testing::test_key());
  for (const ChunkId& id : ids_of(v1)) {
    std::filesystem::create_directories(third.chunks().path_of(id).parent_path());
    std::filesystem::copy_file(primary.chunks().path_of(id), third.chunks().path_of(id));
  }
  testing::flip_byte(third.chunks().path_of(v1.files[0].chunks[7].id), 30);
  const Bytes v1_text = testing::read_file(primary.manifest_path("web", {1, 1}));
  const std::string v1_manifest(v1_text.begin(), v1_text.end());
  EXPECT_THROW(third.publish_received(v1_manifest, "sftp", Store::ChunkCheck::rehash), ChunkCorrupt);
  EXPECT_FALSE(third.has_version("web", {1, 1}));
  third.chunks().quarantine(v1.files[0].chunks[7].id);
  third.chunks().put_encoded(v1.files[0].chunks[7].id, primary.chunks().read_encoded(v1.files[0].chunks[7].id));
  third.publish_received(v1_manifest, "sftp", Store::ChunkCheck::rehash);
  EXPECT_TRUE(third.has_version("web", {1, 1}));

  // A manifest whose MAC fails never becomes a version.
  Bytes forged = testing::read_file(primary.manifest_path("web", {1, 2}));
  std::string text(forged.begin(), forged.end());
  text.replace(text.find("\"seq\":2"), 7, "\"seq\":3");
  EXPECT_THROW(backup.publish_received(text, "forged"), ManifestError);
  EXPECT_FALSE(backup.has_version("web", {1, 3}));
}

}  // namespace
}  // namespace vmrep::snapshots

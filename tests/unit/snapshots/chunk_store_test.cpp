#include "snapshots/chunk_store.hpp"

#include <gtest/gtest.h>
#include <zstd.h>

#include "snapshots/chunk_codec.hpp"
#include "snapshots/chunk_writer.hpp"
#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;
using testing::TempDir;

Bytes text_chunk(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>("vmrep checkpoint page "[i % 22]);
  return b;
}

bool mentions(const std::exception& e, const ChunkId& id) {
  return std::string(e.what()).find(id.hex()) != std::string::npos;
}

TEST(ChunkStore, Rule_Put_StoredCompressedUnderItsHash) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  const Bytes plain = text_chunk(8192);
  bool written = false;
  const ChunkId id = store.put(plain, &written);
  EXPECT_TRUE(written);
  EXPECT_EQ(id, sha256(plain));
  const std::string hex = id.hex();
  EXPECT_EQ(store.path_of(id), dir / "chunks" / hex.substr(0, 2) / hex);
  const Bytes stored = testing::read_file(store.path_of(id));
  EXPECT_LT(stored.size(), plain.size() / 4) << "zstd-compressed";
  EXPECT_EQ(ZSTD_getFrameContentSize(stored.data(), stored.size()), plain.size());
  EXPECT_EQ(store.read(id), plain);
}

TEST(ChunkStore, Rule_PutTwice_WritesOnce) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  const Bytes plain = random_bytes(5000, 1);
  bool written = true;
  store.put(plain);
  EXPECT_EQ(store.put(plain, &written), sha256(plain));
  EXPECT_FALSE(written);
}

TEST(ChunkStore, Rule_FlippedByteInStoredChunk_ReadFailsNamingTheChunk) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  // Random bytes are stored raw inside the frame: a flip there passes zstd
  // and only the hash can catch it. Text compresses: a flip breaks the frame.
  for (const Bytes& plain : {random_bytes(8192, 2), text_chunk(8192)}) {
    const ChunkId id = store.put(plain);
    const auto size = *store.stored_bytes(id);
    testing::flip_byte(store.path_of(id), size / 2);
    try {
      store.read(id);
      FAIL() << "corruption not detected";
    } catch (const ChunkCorrupt& e) {
      EXPECT_EQ(e.id(), id);
      EXPECT_TRUE(mentions(e, id)) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

TEST(ChunkStore, Rule_AbsentChunk_ReadFailsAsMissing) {
  const TempDir dir;
  const ChunkStore store(dir / "chunks");
  const ChunkId id = sha256(random_bytes(10, 3));
  try {
    store.read(id);
    FAIL();
  } catch (const ChunkMissing& e) {
    EXPECT_TRUE(mentions(e, id)) << e.what();
  }
}

TEST(ChunkStore, Rule_ReceivedPlainBytes_VerifiedBeforeWrite) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  const Bytes plain = random_bytes(3000, 4);
  const ChunkId claimed = sha256(random_bytes(3000, 5));
  EXPECT_THROW(store.put_plain(claimed, plain), ChunkCorrupt);
  EXPECT_FALSE(store.contains(claimed));
  store.put_plain(sha256(plain), plain);
  EXPECT_EQ(store.read(sha256(plain)), plain);
}

TEST(ChunkStore, Rule_ReceivedStoredForm_VerifiedThenKeptAsIs) {
  const TempDir dir;
  ChunkStore sender(dir / "a");
  ChunkStore receiver(dir / "b");
  const ChunkId id = sender.put(text_chunk(20000));
  Bytes wire = sender.read_encoded(id);
  receiver.put_encoded(id, wire);
  EXPECT_EQ(testing::read_file(receiver.path_of(id)), wire);

  const ChunkId other = sender.put(random_bytes(9000, 6));
  Bytes bad = sender.read_encoded(other);
  bad[bad.size() / 2] ^= 0x80;
  EXPECT_THROW(receiver.put_encoded(other, bad), ChunkCorrupt);
  EXPECT_FALSE(receiver.contains(other));
  EXPECT_THROW(receiver.put_encoded(other, wire), ChunkCorrupt) << "another chunk's bytes";
}

TEST(ChunkStore, Rule_MissingList_AbsentIdsInOrderWithoutDuplicates) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  const ChunkId a = store.put(random_bytes(100, 7));
  const ChunkId b = sha256(random_bytes(100, 8));
  const ChunkId c = store.put(random_bytes(100, 9));
  const ChunkId d = sha256(random_bytes(100, 10));
  const std::vector<ChunkId> asked{d, a, b, d, c, b};
  EXPECT_EQ(store.missing(asked), (std::vector<ChunkId>{d, b}));
  EXPECT_TRUE(store.missing(std::vector<ChunkId>{a, c}).empty());
}

TEST(ChunkStore, Rule_Quarantine_CorruptChunkBecomesMissingAndCanBeResent) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  ChunkStore peer(dir / "peer");
  const Bytes plain = random_bytes(7000, 11);
  const ChunkId id = store.put(plain);
  peer.put(plain);
  testing::flip_byte(store.path_of(id), 100);
  EXPECT_THROW(store.read(id), ChunkCorrupt);
  EXPECT_EQ(store.put(plain), id) << "a present chunk is not rewritten";
  EXPECT_THROW(store.read(id), ChunkCorrupt);
  EXPECT_TRUE(store.quarantine(id));
  EXPECT_EQ(store.missing(std::vector<ChunkId>{id}), std::vector<ChunkId>{id});
  store.put_encoded(id, peer.read_encoded(id));
  EXPECT_EQ(store.read(id), plain);
  EXPECT_FALSE(store.quarantine(sha256(random_bytes(5, 12))));
}

TEST(ChunkWriter, Rule_Batch_InvisibleUntilCommitThenWhole) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  std::vector<ChunkId> ids;
  {
    ChunkWriter writer(store, 1000);
    bool written = false;
    for (std::uint64_t i = 0; i < 50; ++i) ids.push_back(writer.put(random_bytes(3000, 100 + i), &written));
    writer.put(random_bytes(3000, 100), &written);
    EXPECT_FALSE(written) << "already in the batch";
    EXPECT_EQ(writer.pending(), 50u);
    EXPECT_EQ(store.missing(ids).size(), 50u) << "nothing visible before commit";
    writer.commit();
    EXPECT_TRUE(store.missing(ids).empty());
    for (std::uint64_t i = 0; i < 50; ++i) EXPECT_EQ(store.read(ids[i]), random_bytes(3000, 100 + i));
    writer.put(random_bytes(3000, 999));  // abandoned: never committed
  }
  EXPECT_FALSE(store.contains(sha256(random_bytes(3000, 999))));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(store.dir())) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 50u) << "no temp file left behind";
}

TEST(ChunkWriter, Rule_FullBatch_CommitsByItself) {
  const TempDir dir;
  ChunkStore store(dir / "chunks");
  ChunkWriter writer(store, 8);
  std::vector<ChunkId> ids;
  for (std::uint64_t i = 0; i < 20; ++i) ids.push_back(writer.put(random_bytes(100, 200 + i)));
  EXPECT_EQ(writer.pending(), 4u);
  EXPECT_EQ(store.missing(ids).size(), 4u);
}

TEST(ChunkCodec, Rule_NotOneFrameWithContentSize_Refused) {
  const ChunkId id = sha256(text_chunk(100));
  Bytes plain;
  const auto refused = [&](ByteView stored, const char* why) {
    try {
      decode_chunk(id, stored, plain);
      ADD_FAILURE() << why << ": accepted";
    } catch (const ChunkCorrupt& e) {
      EXPECT_TRUE(mentions(e, id)) << why << ": " << e.what();
    }
  };
  refused(ByteView{}, "empty");
  refused(testing::view("definitely not zstd"), "garbage");

  Bytes good = encode_chunk(text_chunk(100));
  Bytes trailing = good;
  trailing.push_back(0);
  refused(trailing, "stray byte after the frame");
  refused(ByteView(good).first(good.size() - 1), "truncated frame");

  // A streamed frame without a content size.
  const Bytes data = text_chunk(100);
  Bytes unsized(ZSTD_compressBound(data.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  ZSTD_outBuffer out{unsized.data(), unsized.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(cctx);
  unsized.resize(out.pos);
  refused(unsized, "no content size");

  // A frame that claims more than any chunk can be.
  const Bytes big(chunk_bytes_limit + 1, 0);
  Bytes huge(ZSTD_compressBound(big.size()));
  huge.resize(ZSTD_compress(huge.data(), huge.size(), big.data(), big.size(), 1));
  refused(huge, "larger than chunk_bytes_limit");

  decode_chunk(id, good, plain);
  EXPECT_EQ(plain, text_chunk(100));
}

}  // namespace
}  // namespace vmrep::snapshots

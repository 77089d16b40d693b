#include "snapshots/chunk_codec.hpp"

#include <zstd.h>

#include <memory>

#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"

namespace vmrep::snapshots {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* thread_cctx() {
  thread_local const std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  if (!ctx) throw SnapshotError("zstd: out of memory (ZSTD_createCCtx)");
  return ctx.get();
}

ZSTD_DCtx* thread_dctx() {
  thread_local const std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  if (!ctx) throw SnapshotError("zstd: out of memory (ZSTD_createDCtx)");
  return ctx.get();
}

[[noreturn]] void corrupt(const ChunkId& id, const std::string& problem) {
  throw ChunkCorrupt(id, "chunk " + id.hex() + ": " + problem);
}

}  // namespace

Bytes encode_chunk(ByteView plain, int level) {
  if (plain.empty() || plain.size() > chunk_bytes_limit) {
    throw SnapshotError("encode_chunk: " + std::to_string(plain.size()) + " bytes is not a chunk size (1.." +
                        std::to_string(chunk_bytes_limit) + ")");
  }
  Bytes out(ZSTD_compressBound(plain.size()));
  // ZSTD_compressCCtx writes the content size into the frame header.
  const std::size_t n = ZSTD_compressCCtx(thread_cctx(), out.data(), out.size(), plain.data(), plain.size(), level);
  if (ZSTD_isError(n)) throw SnapshotError(std::string("zstd: compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

void decode_chunk(const ChunkId& expected, ByteView stored, Bytes& plain) {
  const unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) corrupt(expected, "stored bytes are not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) corrupt(expected, "zstd frame does not record its content size");
  if (size == 0 || size > chunk_bytes_limit) {
    corrupt(expected, "zstd frame claims " + std::to_string(size) + " bytes, not a chunk size");
  }
  const std::size_t frame = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
  if (ZSTD_isError(frame)) corrupt(expected, std::string("zstd frame is damaged: ") + ZSTD_getErrorName(frame));
  if (frame != stored.size()) {
    corrupt(expected, std::to_string(stored.size() - frame) + " stray bytes after the zstd frame");
  }
  plain.resize(static_cast<std::size_t>(size));
  const std::size_t n = ZSTD_decompressDCtx(thread_dctx(), plain.data(), plain.size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) corrupt(expected, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != plain.size()) {
    corrupt(expected, "decompressed to " + std::to_string(n) + " bytes, frame says " + std::to_string(size));
  }
  const ChunkId actual = sha256(plain);
  if (actual != expected) corrupt(expected, "content hashes to " + actual.hex() + " (corrupt or wrong chunk)");
}

}  // namespace vmrep::snapshots

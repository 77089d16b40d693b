#pragma once
// The stored form of a chunk: exactly one zstd frame that records its content
// size, nothing before or after it. `zstd -dc FILE | sha256sum` prints the
// file's own name. The same bytes go over the wire, so a pusher can send a
// stored chunk file as it is and the receiver verifies it with decode_chunk().
//
// Thread safety: every function may be called from any thread; each thread
// reuses its own zstd contexts.

#include "snapshots/hash.hpp"

namespace vmrep::snapshots {

inline constexpr int compression_level_default = 1;

// Compresses one chunk (1..chunk_bytes_limit bytes) at zstd `level`.
Bytes encode_chunk(ByteView plain, int level = compression_level_default);

// Decompresses `stored` into `plain` (reusing its capacity) and checks that
// it hashes to `expected`. Throws ChunkCorrupt naming `expected` when the
// bytes are not one zstd frame with a content size in 1..chunk_bytes_limit,
// do not decompress to exactly that size, or hash to another id. Never
// allocates more than chunk_bytes_limit for the result, whatever the input.
void decode_chunk(const ChunkId& expected, ByteView stored, Bytes& plain);

}  // namespace vmrep::snapshots

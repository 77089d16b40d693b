// Arbitrary bytes as a stored chunk, read as the store reads one from disk or
// a receiver takes one from the wire: decode_chunk() must refuse anything that
// is not exactly one zstd frame of 1..chunk_bytes_limit bytes hashing to the
// expected id, with ChunkCorrupt naming that id (any other exception, crash,
// sanitizer report, or allocation beyond the limit is a bug).
//
// Input: byte 0 picks how the expected id is chosen.
//   even: bytes 1..32 are the id, the rest is the stored chunk;
//   odd:  bytes 1.. are the stored chunk, and the id is the SHA-256 of what
//         plain zstd makes of them (so valid frames reach the accepting path).
#include <zstd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "snapshots/chunk_codec.hpp"
#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"

using namespace vmrep::snapshots;

namespace {

ChunkId id_of_plain_zstd(ByteView stored) {
  const unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > chunk_bytes_limit) return ChunkId{};
  Bytes plain(static_cast<std::size_t>(size));
  const std::size_t n = ZSTD_decompress(plain.data(), plain.size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) return ChunkId{};
  plain.resize(n);
  return sha256(plain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  ChunkId expected;
  ByteView stored(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    if (stored.size() < expected.bytes.size()) return 0;
    std::memcpy(expected.bytes.data(), stored.data(), expected.bytes.size());
    stored = stored.subspan(expected.bytes.size());
  } else {
    expected = id_of_plain_zstd(stored);
  }
  Bytes plain;
  try {
    decode_chunk(expected, stored, plain);
  } catch (const ChunkCorrupt& e) {
    if (e.id() != expected) std::abort();
    return 0;
  }
  // Accepted: the bytes are what the id says, and re-encoding round trips.
  if (plain.empty() || plain.size() > chunk_bytes_limit || sha256(plain) != expected) std::abort();
  Bytes again;
  decode_chunk(expected, encode_chunk(plain), again);
  if (again != plain) std::abort();
  return 0;
}

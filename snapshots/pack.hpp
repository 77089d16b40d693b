#pragma once
// A pack: many stored chunk files back to back in one file, so a transfer of
// thousands of missing chunks is one stream instead of one remote file each.
//
//   header  "VMRPACK" 0x01 (8 bytes: magic + format version 1)
//           u32 LE record count
//           32 bytes: SHA-256 of the record ids concatenated (raw), in order
//   record  32 bytes raw chunk id, u32 LE stored length (1..pack_record_bytes_max),
//           then the chunk's stored form (chunk_codec.hpp), as in its chunk file
//
// The content is a pure function of the id list (stored forms are immutable:
// the name is the hash of the plain bytes and the receiver checks it), so a
// sender that was interrupted can resume by appending at the receiver's size,
// and the header digest tells a receiver or resumer which list a pack is for.
//
// Contracts of unpack_into():
//  - Every record is bounded (length <= pack_record_bytes_max) and every chunk
//    goes through a BulkWriter (bulk_writer.hpp: decoded and re-hashed on
//    several threads, one syncfs() before any name appears): nothing
//    unverified becomes visible, and what is visible is durable but for its
//    directory entries (Store::publish syncs those before a manifest).
//  - A malformed or corrupt record (or header, or a record count beyond the
//    header's) is a SnapshotError, one line, naming the pack and the byte offset
//    of the record. The verified records before it stay (valid chunks); it and
//    everything after it are dropped.
//  - A truncated tail (end of file inside a header or a record) is not an
//    error: it stops there and reports how many whole records were taken, so
//    a partial pack is still useful.
//
// Thread safety: free functions; PackSource is used by one thread at a time.

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "snapshots/chunk_store.hpp"
#include "snapshots/chunker.hpp"

namespace vmrep::snapshots {

inline constexpr std::size_t pack_header_bytes = 8 + 4 + 32;
inline constexpr std::size_t pack_record_header_bytes = 32 + 4;
// A stored chunk is one zstd frame of at most chunk_bytes_limit plain bytes;
// zstd's worst-case expansion is far below 1/128 + 1 KiB at that size.
inline constexpr std::size_t pack_record_bytes_max = chunk_bytes_limit + chunk_bytes_limit / 128 + 1024;
inline constexpr std::uint32_t pack_records_max = 1u << 24;

// SHA-256 of the ids (raw, concatenated in order): the header's digest.
ChunkId pack_digest(std::span<const ChunkId> ids);

// Produces the bytes of the pack of `ids` (read from `chunks`), from any
// offset, without holding more than one chunk in memory.
class PackSource {
 public:
  // ChunkMissing when an id is not in `chunks`.
  PackSource(const ChunkStore& chunks, std::vector<ChunkId> ids);

  std::uint64_t size() const { return size_; }
  const std::vector<ChunkId>& ids() const { return ids_; }
  ChunkId digest() const { return digest_; }
  // The header bytes (pack_header_bytes).
  Bytes header() const;
  // Copies up to out.size() bytes from `offset`; returns how many (0 at the end).
  // SnapshotError when a chunk file changed size since construction.
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out);

 private:
  const ChunkStore& chunks_;
  std::vector<ChunkId> ids_;
  std::vector<std::uint64_t> starts_;  // offset of each record
  std::uint64_t size_ = 0;
  ChunkId digest_;
  std::size_t cached_ = static_cast<std::size_t>(-1);
  Bytes record_;  // the cached record, header included
};

// Writes the pack of `ids` to `path` (created or truncated; not fsynced).
// Returns its size.
std::uint64_t write_pack(const ChunkStore& chunks, std::span<const ChunkId> ids, const std::filesystem::path& path);

struct UnpackStats {
  std::uint64_t records = 0;          // whole records taken (verified)
  std::uint64_t records_declared = 0;  // the header's count
  std::uint64_t chunks_written = 0;   // new to the store
  std::uint64_t bytes = 0;            // pack bytes consumed (header + whole records)
  bool complete = false;              // every declared record was there
  std::vector<ChunkId> ids;           // of the records taken, in order
};

// Verifies and stores every record of the pack at `pack_path` (see above).
UnpackStats unpack_into(ChunkStore& chunks, const std::filesystem::path& pack_path);
// The same from an open file (read from its current offset; not closed):
// for a pack the caller opened without following links. `name` names it.
UnpackStats unpack_fd_into(ChunkStore& chunks, int fd, const std::string& name);
// The same over bytes in memory (`name` names them in errors): for the fuzzer.
UnpackStats unpack_bytes_into(ChunkStore& chunks, ByteView pack, const std::string& name);

}  // namespace vmrep::snapshots

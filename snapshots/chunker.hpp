#pragma once
// Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with a gear
// rolling hash and normalized chunking. A cut point depends only on the bytes
// near it, so inserting or deleting bytes changes the chunks around the edit
// and leaves the rest (and their ids) as they were.
//
// Normalized chunking: below chunk_bytes_avg a cut needs log2(avg)+2 hash bits
// to be zero (hard), from avg on only log2(avg)-2 (easy), which pulls chunk
// sizes towards the average. The first chunk_bytes_min bytes of a chunk are
// skipped (never a cut), and a chunk is cut at chunk_bytes_max regardless.
//
// Pure and thread-safe: a Chunker is immutable after construction.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "snapshots/hash.hpp"

namespace vmrep::snapshots {

// No chunk anywhere (chunker, store, manifest) is larger than this.
inline constexpr std::size_t chunk_bytes_limit = std::size_t{1} << 20;

struct ChunkerConfig {
  std::uint32_t chunk_bytes_min = 2 * 1024;
  std::uint32_t chunk_bytes_avg = 8 * 1024;  // a power of two
  std::uint32_t chunk_bytes_max = 64 * 1024;

  friend bool operator==(const ChunkerConfig&, const ChunkerConfig&) = default;
};

// Empty when valid, else the problem in one line. Valid: 64 <= min < avg <
// max <= chunk_bytes_limit, avg a power of two.
std::string validate(const ChunkerConfig& config);

class Chunker {
 public:
  explicit Chunker(ChunkerConfig config = {});  // SnapshotError when invalid

  // Length of the chunk that starts at data[0]. Contract: `data` holds at
  // least chunk_bytes_max bytes, or every byte left in the stream (then the
  // stream's last chunk may be shorter than chunk_bytes_min). 0 only for
  // empty data.
  std::size_t next_chunk_bytes(ByteView data) const;

  // The lengths of all chunks of a whole buffer, in order.
  std::vector<std::size_t> split(ByteView data) const;

  const ChunkerConfig& config() const { return config_; }
  std::uint64_t mask_small() const { return mask_small_; }  // below avg
  std::uint64_t mask_large() const { return mask_large_; }  // from avg on

 private:
  ChunkerConfig config_;
  std::uint64_t mask_small_ = 0;
  std::uint64_t mask_large_ = 0;
};

// Reads one file front to back and hands out its chunks, holding at most
// buffer_bytes() of it in memory. Single-threaded; the view next() returns
// stays valid until the next call.
class FileChunker {
 public:
  FileChunker(const Chunker& chunker, const std::filesystem::path& file);  // SnapshotError if unreadable
  ~FileChunker();
  FileChunker(const FileChunker&) = delete;
  FileChunker& operator=(const FileChunker&) = delete;

  // The next chunk; nullopt at end of file. SnapshotError on a read error.
  std::optional<ByteView> next();

  std::uint64_t bytes_done() const { return done_; }
  std::size_t buffer_bytes() const { return buffer_.size(); }

 private:
  void refill();

  const Chunker& chunker_;
  std::string path_;
  int fd_ = -1;
  Bytes buffer_;
  std::size_t begin_ = 0;  // first byte not yet handed out
  std::size_t end_ = 0;    // one past the last byte read
  bool eof_ = false;
  std::uint64_t done_ = 0;
};

}  // namespace vmrep::snapshots

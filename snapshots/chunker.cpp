#include "snapshots/chunker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "snapshots/errors.hpp"
#include "snapshots/gear_table.hpp"

namespace vmrep::snapshots {
namespace {

// A mask of `bits` one-bits spread over the top 48 bits of the hash. With the
// gear hash (h << 1) + gear[b], bit k depends on the last k+1 bytes, so high
// bits make every cut depend on a window of up to 64 bytes, and spreading them
// keeps the cut probability at 2^-bits (the FastCDC paper's padded masks).
std::uint64_t spread_mask(unsigned bits) {
  std::uint64_t mask = 0;
  for (unsigned i = 0; i < bits; ++i) mask |= std::uint64_t{1} << (63 - i * 48 / bits);
  return mask;
}

}  // namespace

std::string validate(const ChunkerConfig& c) {
  const auto n = [](std::uint32_t v) { return std::to_string(v); };
  if (c.chunk_bytes_min < 64) return "chunk_bytes_min " + n(c.chunk_bytes_min) + " is below 64";
  if (!std::has_single_bit(c.chunk_bytes_avg)) {
    return "chunk_bytes_avg " + n(c.chunk_bytes_avg) + " is not a power of two";
  }
  if (c.chunk_bytes_avg <= c.chunk_bytes_min) {
    return "chunk_bytes_avg " + n(c.chunk_bytes_avg) + " must be above chunk_bytes_min " + n(c.chunk_bytes_min);
  }
  if (c.chunk_bytes_max <= c.chunk_bytes_avg) {
    return "chunk_bytes_max " + n(c.chunk_bytes_max) + " must be above chunk_bytes_avg " + n(c.chunk_bytes_avg);
  }
  if (c.chunk_bytes_max > chunk_bytes_limit) {
    return "chunk_bytes_max " + n(c.chunk_bytes_max) + " is above the limit " + std::to_string(chunk_bytes_limit);
  }
  return {};
}

Chunker::Chunker(ChunkerConfig config) : config_(config) {
  if (const std::string problem = validate(config_); !problem.empty()) {
    throw SnapshotError("chunker: " + problem);
  }
  const auto bits = static_cast<unsigned>(std::countr_zero(config_.chunk_bytes_avg));
  mask_small_ = spread_mask(bits + 2);
  mask_large_ = spread_mask(bits - 2);
}

std::size_t Chunker::next_chunk_bytes(ByteView data) const {
  std::size_t n = data.size();
  if (n <= config_.chunk_bytes_min) return n;
  n = std::min<std::size_t>(n, config_.chunk_bytes_max);
  const std::size_t normal = std::min<std::size_t>(n, config_.chunk_bytes_avg);
  const std::uint8_t* p = data.data();
  std::uint64_t h = 0;
  std::size_t i = config_.chunk_bytes_min;
  for (; i < normal; ++i) {
    h = (h << 1) + gear_table[p[i]];
    if ((h & mask_small_) == 0) return i + 1;
  }
  for (; i < n; ++i) {
    h = (h << 1) + gear_table[p[i]];
    if ((h & mask_large_) == 0) return i + 1;
  }
  return n;
}

std::vector<std::size_t> Chunker::split(ByteView data) const {
  std::vector<std::size_t> sizes;
  while (!data.empty()) {
    const std::size_t len = next_chunk_bytes(data);
    sizes.push_back(len);
    data = data.subspan(len);
  }
  return sizes;
}

FileChunker::FileChunker(const Chunker& chunker, const std::filesystem::path& file)
    : chunker_(chunker), path_(file.string()) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_errno("cannot open", path_, errno);
  // Bounded: a few max-size chunks, at least 1 MiB so reads stay large.
  buffer_.resize(std::max<std::size_t>(4 * std::size_t{chunker_.config().chunk_bytes_max}, std::size_t{1} << 20));
}

FileChunker::~FileChunker() {
  if (fd_ >= 0) ::close(fd_);
}

void FileChunker::refill() {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (!eof_ && end_ < buffer_.size()) {
    const ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path_, errno);
    }
    if (got == 0) eof_ = true;
    end_ += static_cast<std::size_t>(got);
  }
}

std::optional<ByteView> FileChunker::next() {
  if (!eof_ && end_ - begin_ < chunker_.config().chunk_bytes_max) refill();
  if (begin_ == end_) return std::nullopt;
  const ByteView window(buffer_.data() + begin_, end_ - begin_);
  const std::size_t len = chunker_.next_chunk_bytes(window);
  begin_ += len;
  done_ += len;
  return window.first(len);
}

}  // namespace vmrep::snapshots

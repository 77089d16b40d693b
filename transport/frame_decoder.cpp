// FrameDecoder: splits one connection's byte stream into frames.
//
// Memory contract: the buffer holds only bytes that were fed and not yet
// consumed; nothing is reserved from a length prefix, so a peer that
// announces a huge frame costs nothing until it actually sends the bytes,
// and an announced length over the maximum is an error as soon as the four
// prefix bytes are in. Consumed bytes are dropped (compaction) before new
// ones are appended, so a long-lived connection does not grow its buffer.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "transport/codec.hpp"

namespace vmrep::transport {
namespace {

constexpr std::size_t kPrefixBytes = 4;
// An idle decoder keeps at most this much capacity; a burst of large frames
// does not pin its peak buffer for the connection's lifetime.
constexpr std::size_t kIdleCapacityBytes = 64 * 1024;

std::uint32_t read_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
         std::uint32_t{u[3]};
}

}  // namespace

// Protobuf parses at most INT_MAX bytes at once; a larger maximum is clamped.
FrameDecoder::FrameDecoder(std::size_t max_frame_bytes)
    : max_(std::min<std::size_t>(max_frame_bytes, INT_MAX)) {}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  // Compact: drop what next() already consumed.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    if (buffer_.capacity() > kIdleCapacityBytes && bytes.size() <= kIdleCapacityBytes) {
      buffer_.shrink_to_fit();
    }
  } else if (offset_ > 0) {
    buffer_.erase(0, offset_);
  }
  offset_ = 0;
  buffer_.append(bytes.data(), bytes.size());
}

FrameDecoder::Status FrameDecoder::next(wire::Frame& out, std::string& error) {
  if (failed_) {
    error = "decoder failed earlier";
    return Status::error;
  }
  const std::size_t available = buffer_.size() - offset_;
  if (available < kPrefixBytes) return Status::need_more;
  const std::uint32_t length = read_be32(buffer_.data() + offset_);
  if (length == 0 || length > max_) {
    failed_ = true;
    error = length == 0 ? std::string("frame of 0 bytes")
                        : "frame of " + std::to_string(length) + " bytes exceeds " + std::to_string(max_);
    buffer_.clear();
    buffer_.shrink_to_fit();
    offset_ = 0;
    return Status::error;
  }
  if (available - kPrefixBytes < length) return Status::need_more;

  const char* body = buffer_.data() + offset_ + kPrefixBytes;
  offset_ += kPrefixBytes + length;
  out.Clear();
  bool parsed = false;
  {
    // A peer's bytes must not reach stderr: protobuf logs (ERROR) every string
    // field that is not UTF-8. The failure itself is reported below.
    google::protobuf::LogSilencer quiet;
    parsed = out.ParseFromArray(body, static_cast<int>(length));
  }
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  if (!parsed) {
    failed_ = true;
    error = "malformed protobuf";
    return Status::error;
  }
  if (out.version() != kWireVersion) {
    failed_ = true;
    error = "wire version " + std::to_string(out.version()) + ", expected " + std::to_string(kWireVersion);
    return Status::error;
  }
  return Status::frame;
}

}  // namespace vmrep::transport

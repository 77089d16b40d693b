#pragma once
// Peer frames: length-prefixed protobuf, and the mapping between the wire
// messages and the pure consensus messages. Everything that arrives from a
// peer passes through here first; nothing here throws on bad input.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "consensus/message.hpp"
#include "transport/peer.pb.h"

namespace vmrep::transport {

inline constexpr std::uint32_t kWireVersion = 1;
inline constexpr std::size_t kDefaultMaxFrameBytes = 1 << 20;

// 4-byte big-endian length + the serialized frame (version set to kWireVersion).
std::string encode_frame(wire::Frame frame);

// Incremental decoder for one connection's byte stream.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  enum class Status { need_more, frame, error };
  void feed(std::string_view bytes);
  // frame: `out` holds the next frame. error: `error` says why in one line
  // ("frame of 9000000 bytes exceeds 1048576", "malformed protobuf",
  // "wire version 7, expected 1"); the connection must be closed.
  Status next(wire::Frame& out, std::string& error);

 private:
  std::size_t max_;
  std::string buffer_;
  std::size_t offset_ = 0;
  bool failed_ = false;
};

wire::Consensus to_wire(std::uint32_t instance, const consensus::Message& m);
// nullopt with a one-line `error` when the body is missing or a field is out
// of its domain (the consensus core validates values and keys again).
std::optional<consensus::Message> from_wire(const wire::Consensus& m, std::string& error);

// Versions (term.seq) on the wire are below this in both parts, like the
// consensus's epochs: a term near 2^64 would wrap the next term to 0.
inline constexpr std::uint64_t kVersionPartLimit = std::uint64_t{1} << 62;

// False with a one-line `error` ("inventory.versions[3].term 18446744073709551615
// is out of range") when any version in a replica message is out of range;
// the frame is then dropped whole.
bool replica_in_domain(const wire::Replica& m, std::string& error);

}  // namespace vmrep::transport

// Arbitrary peer bytes into FrameDecoder, fed in pseudo-random split sizes
// (derived from the input, so every run of one input is the same), and
// from_wire on every decoded consensus frame. Checked besides sanitizer
// reports:
//   - splitting does not matter: the split feed yields exactly the frames and
//     the final status of one whole feed;
//   - an error is final: next() keeps answering error;
//   - every decoded frame has kWireVersion and re-encodes to a frame that
//     decodes to the same bytes;
//   - from_wire(to_wire(from_wire(x))) == from_wire(x).
// Two decoders run: the default maximum, and a small one so oversize paths
// are reached with short inputs.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "transport/codec.hpp"

using namespace vmrep;
using transport::FrameDecoder;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frame_fuzz: %s\n", what);
  std::abort();
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct Outcome {
  std::vector<std::string> frames;  // serialized
  FrameDecoder::Status last = FrameDecoder::Status::need_more;
  std::string error;
};

// A replica frame is in domain, or refused with one line naming the field.
void check_replica(const wire::Frame& frame) {
  if (!frame.has_replica()) return;
  std::string error;
  if (!transport::replica_in_domain(frame.replica(), error) &&
      (error.empty() || error.find('\n') != std::string::npos))
    fail("replica_in_domain error is not one line");
}

void check_consensus(const wire::Frame& frame) {
  check_replica(frame);
  if (!frame.has_consensus()) return;
  std::string error;
  auto msg = transport::from_wire(frame.consensus(), error);
  if (!msg) {
    if (error.empty() || error.find('\n') != std::string::npos) fail("from_wire error is not one line");
    return;
  }
  const wire::Consensus again = transport::to_wire(frame.consensus().instance(), *msg);
  auto back = transport::from_wire(again, error);
  if (!back || !(*back == *msg)) fail("from_wire/to_wire round trip differs");
}

// Drains `d`; returns false once it reported an error.
bool drain(FrameDecoder& d, Outcome& out) {
  wire::Frame frame;
  for (;;) {
    std::string error;
    const auto status = d.next(frame, error);
    if (status == FrameDecoder::Status::need_more) return true;
    if (status == FrameDecoder::Status::error) {
      if (error.empty() || error.find('\n') != std::string::npos) fail("decoder error is not one line");
      out.last = status;
      out.error = error;
      if (d.next(frame, error) != FrameDecoder::Status::error) fail("error is not final");
      return false;
    }
    if (frame.version() != transport::kWireVersion) fail("decoded frame of another version");
    out.frames.push_back(frame.SerializeAsString());

    // Re-encode and decode: the same frame comes back.
    FrameDecoder again;
    again.feed(transport::encode_frame(frame));
    wire::Frame copy;
    std::string copy_error;
    if (again.next(copy, copy_error) != FrameDecoder::Status::frame) fail("re-encoded frame does not decode");
    if (copy.SerializeAsString() != out.frames.back()) fail("re-encoded frame differs");

    check_consensus(frame);
  }
}

Outcome decode_whole(std::string_view bytes, std::size_t max) {
  FrameDecoder d(max);
  Outcome out;
  d.feed(bytes);
  drain(d, out);
  return out;
}

Outcome decode_split(std::string_view bytes, std::size_t max, std::uint64_t seed) {
  FrameDecoder d(max);
  Outcome out;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::uint64_t r = splitmix64(seed);
    // Mostly small pieces, sometimes single bytes, sometimes large ones.
    std::size_t n = (r & 3) == 0 ? 1 : (r & 3) == 1 ? 1 + (r >> 8) % 4096 : 1 + (r >> 8) % 17;
    n = std::min(n, bytes.size() - at);
    d.feed(bytes.substr(at, n));
    at += n;
    if (!drain(d, out)) break;
  }
  return out;
}

void compare(const Outcome& whole, const Outcome& split) {
  if (whole.frames != split.frames) fail("split feed yields other frames");
  if (whole.last != split.last || whole.error != split.error) fail("split feed ends otherwise");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::uint64_t seed = size;
  for (std::size_t i = 0; i < size && i < 16; ++i) seed = seed * 131 + data[i];

  for (const std::size_t max : {transport::kDefaultMaxFrameBytes, std::size_t{64}}) {
    const Outcome whole = decode_whole(bytes, max);
    compare(whole, decode_split(bytes, max, seed));
    compare(whole, decode_split(bytes, max, seed ^ 0x5555));
  }
  return 0;
}

// Arbitrary peer bytes all the way into the consensus core: frames decoded as
// the daemon decodes them, every consensus message stepped into a node (from
// a sender id taken from the input), ticks in between, and the node's
// invariants checked after every step. Any crash, sanitizer report or
// invariant violation is a bug.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "consensus/invariants.hpp"
#include "consensus/node.hpp"
#include "transport/codec.hpp"

using namespace vmrep;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  consensus::NodeConfig c;
  c.n = 1 + data[0] % 7;
  c.self = 1 + data[1] % c.n;
  consensus::Node node(c);
  transport::FrameDecoder decoder(64 * 1024);
  decoder.feed(std::string_view(reinterpret_cast<const char*>(data + 2), size - 2));
  wire::Frame frame;
  std::string error;
  std::uint32_t i = 0;
  while (decoder.next(frame, error) == transport::FrameDecoder::Status::frame) {
    node.tick();
    if (!frame.has_consensus()) continue;
    auto msg = transport::from_wire(frame.consensus(), error);
    if (!msg) continue;
    auto from = static_cast<consensus::NodeId>(1 + (frame.consensus().instance() + i++) % (c.n + 1));
    consensus::Key before = node.key();
    std::uint64_t wraps = node.instance().wraps();
    node.step(from, *msg);
    std::vector<std::string> found;
    consensus::invariants::check_state(node, found);
    consensus::invariants::check_transition(before, wraps, node, found);
    if (!found.empty()) {
      std::fprintf(stderr, "invariant violated: %s\n", found.front().c_str());
      std::abort();
    }
    node.take_outbox();
    node.take_events();
  }
  return 0;
}

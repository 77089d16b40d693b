#pragma once
// Heartbeat failure detector with the properties of ◇S:
//  - strong completeness: a crashed peer is never heard again, so its silence
//    passes its timeout and it stays suspected;
//  - a peer not yet heard since start is suspected only after the largest
//    timeout (start-up grace; completeness still holds, a little later);
//  - eventual weak accuracy: hearing a suspected peer proves the suspicion
//    false and raises that peer's timeout by `backoff_ticks` (up to a cap), so
//    once timeouts exceed the real delays no correct peer is suspected again.
// Pure: time is the number of tick() calls; the owner calls heard_from() for
// every message that arrives from a peer.

#include <cstdint>
#include <vector>

#include "consensus/event.hpp"

namespace vmrep::consensus {

struct DetectorConfig {
  std::uint32_t suspect_after_ticks = 6;       // initial timeout
  std::uint32_t suspect_after_ticks_max = 40;  // cap on adaptive growth
  std::uint32_t backoff_ticks = 4;             // growth per false suspicion
};

struct PeerLiveness {
  std::uint32_t silent_ticks = 0;
  std::uint32_t timeout_ticks = 0;
  bool suspected = false;
  // Heard at least once since the detector started. Until then the peer gets
  // the largest timeout: a node that just (re)started has links still coming
  // up, and suspecting everyone at once would let it seize the coordinator
  // role and move the primary for nothing.
  bool heard = false;
  friend bool operator==(const PeerLiveness&, const PeerLiveness&) = default;
};

class FailureDetector {
 public:
  FailureDetector(NodeId self, std::uint32_t n, DetectorConfig config);

  // One unit of time passed. Appends a Suspected event per new suspicion.
  void tick(std::vector<Event>& events);
  // A message from `peer` arrived. Appends Trusted if it was suspected.
  void heard_from(NodeId peer, std::vector<Event>& events);

  // The peer said it is leaving (clean shutdown): suspect it now rather than
  // after its timeout. Hearing it again later clears this like any suspicion.
  void peer_left(NodeId peer, std::vector<Event>& events);

  bool suspects(NodeId peer) const;
  // Worst-case ticks from a crash to its suspicion, whatever the state.
  std::uint32_t detection_bound_ticks() const { return config_.suspect_after_ticks_max + 1; }

  // The effective configuration (the constructor orders the timeouts).
  const DetectorConfig& config() const { return config_; }

  // Arbitrary state in (self-stabilization tests); out-of-range fields are
  // clamped so the detector is valid again from the next tick.
  const std::vector<PeerLiveness>& peers() const { return peers_; }
  void load(std::vector<PeerLiveness> peers);

 private:
  void sanitize();

  NodeId self_;
  DetectorConfig config_;
  std::vector<PeerLiveness> peers_;  // index id-1; own entry unused
};

}  // namespace vmrep::consensus

#include "consensus/failure_detector.hpp"

#include <algorithm>

namespace vmrep::consensus {

FailureDetector::FailureDetector(NodeId self, std::uint32_t n, DetectorConfig config)
    : self_(self), config_(config), peers_(n) {
  config_.suspect_after_ticks = std::max<std::uint32_t>(config_.suspect_after_ticks, 1);
  config_.suspect_after_ticks_max =
      std::max(config_.suspect_after_ticks_max, config_.suspect_after_ticks);
  for (auto& p : peers_) p.timeout_ticks = config_.suspect_after_ticks;
}

void FailureDetector::tick(std::vector<Event>& events) {
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    NodeId id = static_cast<NodeId>(i + 1);
    if (id == self_) continue;
    auto& p = peers_[i];
    // Saturate: silence beyond the largest timeout tells nothing more.
    if (p.silent_ticks <= config_.suspect_after_ticks_max) ++p.silent_ticks;
    std::uint32_t limit = p.heard ? p.timeout_ticks : config_.suspect_after_ticks_max;
    if (!p.suspected && p.silent_ticks > limit) {
      p.suspected = true;
      events.push_back(Suspected{id});
    }
  }
}

void FailureDetector::heard_from(NodeId peer, std::vector<Event>& events) {
  if (peer == kNoNode || peer > peers_.size() || peer == self_) return;
  auto& p = peers_[peer - 1];
  p.silent_ticks = 0;
  p.heard = true;
  if (p.suspected) {
    p.suspected = false;
    p.timeout_ticks = std::min(p.timeout_ticks + config_.backoff_ticks,
                               config_.suspect_after_ticks_max);
    events.push_back(Trusted{peer, p.timeout_ticks});
  }
}

void FailureDetector::peer_left(NodeId peer, std::vector<Event>& events) {
  if (peer == kNoNode || peer > peers_.size() || peer == self_) return;
  auto& p = peers_[peer - 1];
  p.silent_ticks = config_.suspect_after_ticks_max + 1;
  if (!p.suspected) {
    p.suspected = true;
    events.push_back(Suspected{peer});
  }
}

bool FailureDetector::suspects(NodeId peer) const {
  if (peer == kNoNode || peer > peers_.size() || peer == self_) return false;
  return peers_[peer - 1].suspected;
}

void FailureDetector::load(std::vector<PeerLiveness> peers) {
  peers.resize(peers_.size());
  peers_ = std::move(peers);
  sanitize();
}

void FailureDetector::sanitize() {
  for (auto& p : peers_) {
    p.timeout_ticks = std::clamp(p.timeout_ticks, config_.suspect_after_ticks,
                                 config_.suspect_after_ticks_max);
    p.silent_ticks = std::min(p.silent_ticks, config_.suspect_after_ticks_max + 1);
  }
  peers_[self_ - 1] = PeerLiveness{0, config_.suspect_after_ticks, false, false};
}

}  // namespace vmrep::consensus

#include "consensus/invariants.hpp"

#include "consensus/decided_log.hpp"

namespace vmrep::consensus::invariants {
namespace {

std::string node_prefix(const Node& node) {
  return "node " + std::to_string(node.self()) + ": ";
}

std::string key_text(Key k) {
  return "(" + std::to_string(k.epoch) + "," + std::to_string(k.round) + ")";
}

}  // namespace

void check_state(const Node& node, std::vector<std::string>& out) {
  const InstanceState& s = node.instance().state();
  const NodeConfig& c = node.config();
  if (!key_in_range(s.key)) out.push_back(node_prefix(node) + "key out of range " + key_text(s.key));
  if (s.log.recent.size() > c.log_window)
    out.push_back(node_prefix(node) + "decided log holds " + std::to_string(s.log.recent.size()) +
                  " entries, window is " + std::to_string(c.log_window));
  if (!decided_log::well_formed(s.log, s.key.epoch))
    out.push_back(node_prefix(node) + "decided log not increasing below epoch " + std::to_string(s.key.epoch));
  if (s.peers.size() != c.n) out.push_back(node_prefix(node) + "peer table size != n");
  if (s.phase == Phase::proposed && !node.instance().is_coordinator())
    out.push_back(node_prefix(node) + "proposing while not coordinator of round " +
                  std::to_string(s.key.round));
  Value v = node.proposal();
  if (v == kNoNode || v > c.n) out.push_back(node_prefix(node) + "proposal is not a node id");
  const DetectorConfig& d = node.detector().config();
  for (const PeerLiveness& p : node.detector().peers()) {
    if (p.timeout_ticks < d.suspect_after_ticks || p.timeout_ticks > d.suspect_after_ticks_max)
      out.push_back(node_prefix(node) + "detector timeout outside its bounds");
  }
}

void check_transition(Key old_key, std::uint64_t wraps_before, const Node& after, std::vector<std::string>& out) {
  Key new_key = after.key();
  bool wrapped = after.instance().wraps() != wraps_before;
  if (new_key < old_key && !wrapped)
    out.push_back(node_prefix(after) + "key went backwards " + key_text(old_key) + " -> " +
                  key_text(new_key));
}

}  // namespace vmrep::consensus::invariants

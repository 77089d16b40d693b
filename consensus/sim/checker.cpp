#include "consensus/sim/checker.hpp"

#include <algorithm>

#include "consensus/decided_log.hpp"
#include "consensus/invariants.hpp"
#include "consensus/sim/simulator.hpp"

namespace vmrep::consensus::sim {
namespace {

constexpr std::size_t kMaxViolations = 100;

}  // namespace

// The bounds follow the algorithm's critical path (see docs in README):
//  detection = max timeout + 1 tick + the last message's delay;
//  a round per dead coordinator (at most n-1), each one tick plus a delay to
//  spread the new key;
//  an epoch = epoch_min_ticks + propose, ack, decide (3 delays) + a heartbeat
//  for peers to be known; two epochs: the first may still carry a proposal
//  made before the detection.
Bounds bounds_for(const SimConfig& c) {
  const NodeConfig& nc = c.node;
  std::uint64_t d = c.link.max_delay_ticks();
  Bounds b;
  b.detection_ticks = nc.detector.suspect_after_ticks_max + 1 + d;
  std::uint64_t rounds = std::uint64_t{c.n} * (1 + d);
  std::uint64_t epoch = nc.epoch_min_ticks + 3 * d + nc.heartbeat_every_ticks + 1;
  b.failover_ticks = b.detection_ticks + rounds + 2 * epoch;
  b.convergence_ticks = b.failover_ticks + 2 * epoch;
  return b;
}

Checker::Checker(const SimConfig& config) : bounds_(config.bounds ? *config.bounds : bounds_for(config)) {}

void Checker::report(const std::string& what) {
  if (violations_.size() < kMaxViolations) violations_.push_back("tick " + std::to_string(now_) + ": " + what);
}

void Checker::on_fault(const Simulator& sim) {
  last_fault_tick_ = sim.now();
  components_.clear();
}

void Checker::check_node(const Node& node, Key before, std::uint64_t wraps_before, std::uint64_t now) {
  now_ = now;
  std::vector<std::string> found;
  invariants::check_state(node, found);
  invariants::check_transition(before, wraps_before, node, found);
  for (const auto& f : found) report(f);
}

void Checker::after_tick(const Simulator& sim) {
  now_ = sim.now();
  std::map<std::uint32_t, std::vector<NodeId>> live_by_group;
  for (NodeId id = 1; id <= sim.n(); ++id) {
    if (!sim.live(id)) continue;
    // Group = lowest node id it is connected to, whatever the partition.
    NodeId g = id;
    for (NodeId o = 1; o < id; ++o)
      if (sim.connected(o, id)) { g = o; break; }
    live_by_group[g].push_back(id);
  }
  for (const auto& [group, live] : live_by_group) check_component(sim, group, live);
  track_convergence(sim);
}

void Checker::check_component(const Simulator& sim, std::uint32_t group, const std::vector<NodeId>& live) {
  auto [it, inserted] = components_.try_emplace(group);
  Component& c = it->second;
  if (inserted) c.primary_seen_tick = last_fault_tick_;
  bool serving = std::any_of(live.begin(), live.end(), [&](NodeId id) { return sim.node(id)->is_primary(); });
  if (serving) c.primary_seen_tick = now_;
  if (!c.failover_flagged && now_ - c.primary_seen_tick > bounds_.failover_ticks) {
    c.failover_flagged = true;
    report("component of node " + std::to_string(group) + " without a primary for more than " +
           std::to_string(bounds_.failover_ticks) + " ticks");
  }
  if (now_ - last_fault_tick_ <= bounds_.convergence_ticks) return;

  NodeId p = sim.node(live.front())->primary();
  bool agreed = std::find(live.begin(), live.end(), p) != live.end() &&
                std::all_of(live.begin(), live.end(), [&](NodeId id) { return sim.node(id)->primary() == p; });
  if (!agreed && !c.agreement_flagged) {
    c.agreement_flagged = true;
    std::string views;
    for (NodeId id : live) views += " " + std::to_string(id) + "->" + std::to_string(sim.node(id)->primary());
    report("component of node " + std::to_string(group) + " not agreed on a live primary" + views);
  }
  if (agreed) {
    if (c.agreed != kNoNode && c.agreed != p && !c.agreement_flagged) {
      c.agreement_flagged = true;
      report("agreed primary changed " + std::to_string(c.agreed) + " -> " + std::to_string(p) + " with no fault");
    }
    c.agreed = p;
  }
  check_logs(sim, c, live);
}

void Checker::check_logs(const Simulator& sim, Component& c, const std::vector<NodeId>& live) {
  if (c.log_flagged) return;
  for (std::size_t i = 0; i < live.size(); ++i) {
    const DecidedLog& a = sim.node(live[i])->instance().state().log;
    for (std::size_t j = i + 1; j < live.size(); ++j) {
      const DecidedLog& b = sim.node(live[j])->instance().state().log;
      for (const Decision& d : a.recent) {
        const Decision* other = decided_log::find(b, d.epoch);
        if (other != nullptr && decided_log::find(a, d.epoch)->value != other->value) {
          c.log_flagged = true;
          report("nodes " + std::to_string(live[i]) + " and " + std::to_string(live[j]) +
                 " decided differently for epoch " + std::to_string(d.epoch));
          return;
        }
      }
    }
  }
}

void Checker::track_convergence(const Simulator& sim) {
  std::uint32_t primaries = 0;
  NodeId p = kNoNode;
  bool agreed = true;
  bool first = true;
  for (NodeId id = 1; id <= sim.n(); ++id) {
    const Node* node = sim.node(id);
    if (node == nullptr) continue;
    if (node->is_primary()) ++primaries;
    if (first) p = node->primary();
    agreed = agreed && node->primary() == p;
    first = false;
  }
  agreed = agreed && !first && p != kNoNode && sim.live(p);
  if (!agreed) {
    converged_since_.reset();
  } else if (!converged_since_ || p != agreed_primary_) {
    converged_since_ = now_;
    agreed_primary_ = p;
    max_primaries_converged_ = 0;
  }
  if (converged_since_) max_primaries_converged_ = std::max(max_primaries_converged_, primaries);
  max_primaries_overall_ = std::max(max_primaries_overall_, primaries);
}

}  // namespace vmrep::consensus::sim

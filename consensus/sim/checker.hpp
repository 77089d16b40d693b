#pragma once
// Cluster invariants, checked by the simulator after every step and tick.
// A violation is one line, prefixed with its tick; the list is capped.
//
// With the timing bounds B = bounds_for(config), measured from the last fault
// (crash, restart, corruption, partition or heal):
//  - failover: a connected component with a live node is never without a live
//    node that believes itself primary for more than B.failover_ticks;
//  - agreement: past B.convergence_ticks, all live nodes of a component name
//    the same live primary of that component, and it stays the same;
//  - decided sequences: past B.convergence_ticks, two live nodes of a
//    component never hold different values for the same epoch.
// Per node, after every step: consensus/invariants.hpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "consensus/node.hpp"

namespace vmrep::consensus::sim {

struct SimConfig;
class Simulator;

struct Bounds {
  std::uint64_t detection_ticks = 0;    // crash -> suspected by every live node
  std::uint64_t failover_ticks = 0;     // fault -> some node serves as primary
  std::uint64_t convergence_ticks = 0;  // fault -> one agreed primary per component
};

Bounds bounds_for(const SimConfig& config);

class Checker {
 public:
  explicit Checker(const SimConfig& config);

  void on_fault(const Simulator& sim);
  void check_node(const Node& node, Key before, std::uint64_t wraps_before, std::uint64_t now);
  void after_tick(const Simulator& sim);
  void report(const std::string& what);

  const std::vector<std::string>& violations() const { return violations_; }
  const Bounds& bounds() const { return bounds_; }
  std::uint64_t last_fault_tick() const { return last_fault_tick_; }
  // Since when every live node has named the same live primary (whole cluster).
  std::optional<std::uint64_t> converged_since() const { return converged_since_; }
  NodeId agreed_primary() const { return agreed_primary_; }
  std::uint32_t max_primaries_since_converged() const { return max_primaries_converged_; }
  std::uint32_t max_primaries_overall() const { return max_primaries_overall_; }

 private:
  struct Component {
    std::uint64_t primary_seen_tick = 0;  // last tick a node believed itself primary
    NodeId agreed = kNoNode;              // once past the bound
    bool failover_flagged = false;
    bool agreement_flagged = false;
    bool log_flagged = false;
  };

  void check_component(const Simulator& sim, std::uint32_t group, const std::vector<NodeId>& live);
  void check_logs(const Simulator& sim, Component& c, const std::vector<NodeId>& live);
  void track_convergence(const Simulator& sim);

  Bounds bounds_;
  std::uint64_t now_ = 0;
  std::uint64_t last_fault_tick_ = 0;
  std::map<std::uint32_t, Component> components_;
  std::vector<std::string> violations_;
  std::optional<std::uint64_t> converged_since_;
  NodeId agreed_primary_ = kNoNode;
  std::uint32_t max_primaries_converged_ = 0;
  std::uint32_t max_primaries_overall_ = 0;
};

}  // namespace vmrep::consensus::sim

#pragma once
// A deterministic simulator of n consensus nodes: per-link delay with jitter
// (so messages reorder), loss only across a partition, crash, restart with a
// fresh or an arbitrary state, corruption of a live node, partition and heal.
// Every draw comes from one seeded Rng, in a fixed order: the same seed and
// the same calls give the same run, byte for byte.
//
// One tick: deliver the messages due now (in send order), then tick every
// live node in id order; everything a node sends goes on the wire with a
// delay drawn for it. Invariants are checked after every step of every node
// and at the end of every tick (see checker.hpp).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "consensus/node.hpp"
#include "consensus/sim/checker.hpp"
#include "consensus/sim/rng.hpp"

namespace vmrep::consensus::sim {

struct LinkModel {
  std::uint32_t delay_min_ticks = 1;  // per-link base delay is drawn in
  std::uint32_t delay_max_ticks = 3;  //   [delay_min, delay_max]
  std::uint32_t jitter_ticks = 2;     // per message, added: reorders
  std::uint32_t max_delay_ticks() const { return delay_max_ticks + jitter_ticks; }
};

struct SimConfig {
  std::uint32_t n = 5;
  std::uint64_t seed = 1;
  NodeConfig node;  // template: self and n are set per node
  LinkModel link;
  std::optional<Bounds> bounds;  // tests of the checker itself; else bounds_for()
};

class Simulator;

// Told what happens, for timelines and scenario logs.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_fault(const Simulator& sim, const std::string& what) = 0;
  virtual void on_event(const Simulator& sim, NodeId node, const Event& e) = 0;
  virtual void on_tick_end(const Simulator& sim) = 0;
};

class Simulator {
 public:
  explicit Simulator(SimConfig config);

  // Faults, applied at the current tick (before its deliveries).
  void crash(NodeId id);
  void restart(NodeId id, bool corrupt);  // a live node is rebooted
  void corrupt(NodeId id);                // arbitrary state + garbage in flight
  void partition(const std::vector<std::vector<NodeId>>& groups);
  void heal();

  void tick();

  std::uint64_t now() const { return now_; }
  std::uint32_t n() const { return config_.n; }
  const SimConfig& config() const { return config_; }
  bool live(NodeId id) const { return nodes_[id - 1].has_value(); }
  const Node* node(NodeId id) const { return live(id) ? &*nodes_[id - 1] : nullptr; }
  bool connected(NodeId a, NodeId b) const { return group_[a - 1] == group_[b - 1]; }
  bool partitioned() const { return partitioned_; }
  std::uint64_t messages_sent() const { return sent_; }
  std::uint64_t messages_dropped() const { return dropped_; }
  const Checker& checker() const { return checker_; }
  const std::vector<std::string>& violations() const { return checker_.violations(); }

  void add_observer(Observer* o) { observers_.push_back(o); }

 private:
  struct InFlight {
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    Message msg;
  };

  Node fresh_node(NodeId id) const;
  void deliver_due();
  void drain(NodeId id);
  void enqueue(NodeId from, NodeId to, Message msg);
  void fault(const std::string& what);

  SimConfig config_;
  Rng rng_;
  std::uint64_t now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t dropped_ = 0;
  bool partitioned_ = false;
  std::vector<std::optional<Node>> nodes_;
  std::vector<std::uint32_t> group_;
  std::vector<std::uint32_t> base_delay_;  // [from-1][to-1], row-major
  std::map<std::pair<std::uint64_t, std::uint64_t>, InFlight> wire_;  // (due, seq)
  Checker checker_;
  std::vector<Observer*> observers_;
};

std::string ids_text(const std::vector<NodeId>& ids);

}  // namespace vmrep::consensus::sim

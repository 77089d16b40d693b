#include "consensus/sim/simulator.hpp"

#include <stdexcept>

#include "consensus/invariants.hpp"
#include "consensus/sim/arbitrary.hpp"

namespace vmrep::consensus::sim {

std::string ids_text(const std::vector<NodeId>& ids) {
  std::string s;
  for (NodeId id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

Simulator::Simulator(SimConfig config)
    : config_(config),
      rng_(config.seed),
      nodes_(config.n),
      group_(config.n, 0),
      base_delay_(std::size_t{config.n} * config.n),
      checker_(config) {
  if (config_.n == 0) throw std::invalid_argument("simulator: need at least one node");
  config_.node.n = config_.n;
  for (auto& d : base_delay_)
    d = static_cast<std::uint32_t>(rng_.between(config_.link.delay_min_ticks, config_.link.delay_max_ticks));
  for (NodeId id = 1; id <= config_.n; ++id) nodes_[id - 1].emplace(fresh_node(id));
}

Node Simulator::fresh_node(NodeId id) const {
  NodeConfig c = config_.node;
  c.self = id;
  return Node(c);
}

void Simulator::fault(const std::string& what) {
  checker_.on_fault(*this);
  for (Observer* o : observers_) o->on_fault(*this, what);
}

void Simulator::crash(NodeId id) {
  nodes_[id - 1].reset();
  fault("crash " + std::to_string(id));
}

void Simulator::restart(NodeId id, bool corrupt) {
  nodes_[id - 1].emplace(fresh_node(id));
  if (corrupt) nodes_[id - 1]->load(arbitrary_state(rng_, nodes_[id - 1]->config()));
  fault("restart " + std::to_string(id) + (corrupt ? " corrupt" : ""));
}

void Simulator::corrupt(NodeId id) {
  if (!live(id)) return;
  Node& node = *nodes_[id - 1];
  node.load(arbitrary_state(rng_, node.config()));
  // Self-stabilization also starts from arbitrary channel contents.
  auto garbage = rng_.between(0, 3);
  for (std::uint64_t i = 0; i < garbage && config_.n > 1; ++i) {
    auto to = static_cast<NodeId>(rng_.between(1, config_.n));
    if (to != id) enqueue(id, to, arbitrary_message(rng_, node.config()));
  }
  fault("corrupt " + std::to_string(id));
}

void Simulator::partition(const std::vector<std::vector<NodeId>>& groups) {
  // Nodes named in no group form one more group together.
  auto rest = static_cast<std::uint32_t>(groups.size());
  std::fill(group_.begin(), group_.end(), rest);
  std::string what = "partition ";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (NodeId id : groups[g]) group_[id - 1] = static_cast<std::uint32_t>(g);
    what += (g ? "|" : "") + ids_text(groups[g]);
  }
  partitioned_ = true;
  fault(what);
}

void Simulator::heal() {
  std::fill(group_.begin(), group_.end(), 0);
  partitioned_ = false;
  fault("heal");
}

void Simulator::enqueue(NodeId from, NodeId to, Message msg) {
  ++sent_;
  if (!connected(from, to)) {
    ++dropped_;
    return;
  }
  std::uint64_t delay = base_delay_[(from - 1) * config_.n + (to - 1)] +
                        rng_.between(0, config_.link.jitter_ticks);
  wire_.emplace(std::make_pair(now_ + delay, seq_++), InFlight{from, to, std::move(msg)});
}

void Simulator::drain(NodeId id) {
  Node& node = *nodes_[id - 1];
  for (Envelope& e : node.take_outbox()) {
    if (e.to == kNoNode || e.to > config_.n || e.to == id) {
      checker_.report("node " + std::to_string(id) + " addressed a message to " + std::to_string(e.to));
      continue;
    }
    enqueue(id, e.to, std::move(e.msg));
  }
  for (const Event& ev : node.take_events())
    for (Observer* o : observers_) o->on_event(*this, id, ev);
}

void Simulator::deliver_due() {
  while (!wire_.empty() && wire_.begin()->first.first <= now_) {
    InFlight m = std::move(wire_.begin()->second);
    wire_.erase(wire_.begin());
    // Lost when the receiver is down or a partition now separates the two.
    if (!live(m.to) || !connected(m.from, m.to)) {
      ++dropped_;
      continue;
    }
    Node& node = *nodes_[m.to - 1];
    Key before = node.key();
    std::uint64_t wraps = node.instance().wraps();
    node.step(m.from, m.msg);
    checker_.check_node(node, before, wraps, now_);
    drain(m.to);
  }
}

void Simulator::tick() {
  ++now_;
  deliver_due();
  for (NodeId id = 1; id <= config_.n; ++id) {
    if (!live(id)) continue;
    Node& node = *nodes_[id - 1];
    Key before = node.key();
    std::uint64_t wraps = node.instance().wraps();
    node.tick();
    checker_.check_node(node, before, wraps, now_);
    drain(id);
  }
  checker_.after_tick(*this);
  for (Observer* o : observers_) o->on_tick_end(*this);
}

}  // namespace vmrep::consensus::sim

#pragma once
// Primary election (paper Sec. III-B) on one consensus instance, with its
// failure detector: the etcd-raft RawNode of vmrep.
//
// Each node proposes the primary it currently believes in while it trusts
// it, and its own id once it suspects it; the decided value of the newest
// epoch is the primary. With no decision yet, the current primary is
// `initial_primary` (the paper starts with node 1).
//
// Contract (single-threaded, deterministic): the owner calls tick() once per
// tick and step(from, msg) for each message from the transport, then drains
// take_outbox() (send each envelope) and take_events() (act on them in order).
// Same inputs in the same order give the same outputs.

#include <cstdint>
#include <vector>

#include "consensus/event.hpp"
#include "consensus/failure_detector.hpp"
#include "consensus/instance.hpp"
#include "consensus/message.hpp"

namespace vmrep::consensus {

struct NodeConfig {
  NodeId self = 1;
  std::uint32_t n = 1;
  NodeId initial_primary = 1;
  std::uint32_t heartbeat_every_ticks = 2;
  std::uint32_t epoch_min_ticks = 4;
  std::uint32_t log_window = 16;
  std::uint32_t wrap_guard_ticks = 40;
  DetectorConfig detector;
};

struct NodeState {
  InstanceState instance;
  std::vector<PeerLiveness> detector;
  NodeId reported_primary = kNoNode;
  friend bool operator==(const NodeState&, const NodeState&) = default;
};

class Node {
 public:
  explicit Node(NodeConfig config);

  void tick();
  void step(NodeId from, const Message& m);
  // `peer` announced a clean shutdown (transport Goodbye).
  void peer_left(NodeId peer);
  std::vector<Envelope> take_outbox();
  std::vector<Event> take_events();

  // The primary this node believes in: the newest decided value, or kNoNode.
  NodeId primary() const;
  bool is_primary() const { return primary() == config_.self; }
  // What this node proposes now (rule: trusted primary, else itself; a
  // primary handing over proposes the trusted successor instead).
  Value proposal() const;
  // Planned switchover, called on the primary: from now on it proposes `to`
  // instead of itself, so the next round it coordinates decides `to`; the
  // others then trust and propose `to` as usual. Ends by itself once the
  // decided primary is no longer this node; cancel_hand_over() ends it
  // earlier. Ignored unless this node is the decided primary and `to` is
  // another node of the cluster. Not part of NodeState: a restart (or any
  // corruption) forgets it, which only means the switchover does not happen.
  void hand_over(NodeId to);
  void cancel_hand_over() { handover_to_ = kNoNode; }
  // Who would be decided next if the decided primary stays suspected: the
  // first node this node trusts in coordinator order from its current round
  // (a coordinator that suspects the primary proposes itself). A guess for
  // preparing work ahead of the decision, never a decision.
  NodeId likely_successor() const;
  NodeId handing_over_to() const { return handover_to_; }
  Key key() const { return instance_.state().key; }
  NodeId self() const { return config_.self; }
  const NodeConfig& config() const { return config_; }
  const Instance& instance() const { return instance_; }
  const FailureDetector& detector() const { return detector_; }

  // Arbitrary state, for self-stabilization: any NodeState is accepted.
  NodeState state() const;
  void load(const NodeState& s);

 private:
  void report_primary_change();

  NodeConfig config_;
  FailureDetector detector_;
  Instance instance_;
  NodeId reported_primary_ = kNoNode;
  NodeId handover_to_ = kNoNode;
  std::vector<Envelope> outbox_;
  std::vector<Event> events_;
};

}  // namespace vmrep::consensus

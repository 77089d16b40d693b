#include "consensus/node.hpp"

namespace vmrep::consensus {
namespace {

InstanceConfig instance_config(const NodeConfig& c) {
  InstanceConfig ic;
  ic.self = c.self;
  ic.n = c.n;
  ic.heartbeat_every_ticks = c.heartbeat_every_ticks;
  ic.epoch_min_ticks = c.epoch_min_ticks;
  ic.log_window = c.log_window;
  ic.wrap_guard_ticks = c.wrap_guard_ticks;
  ic.value_min = 1;  // values are node ids
  ic.value_max = c.n;
  return ic;
}

}  // namespace

Node::Node(NodeConfig config)
    : config_(config),
      detector_(config.self, config.n, config.detector),
      instance_(instance_config(config)) {
  if (config_.initial_primary == kNoNode || config_.initial_primary > config_.n)
    config_.initial_primary = 1;
}

NodeId Node::primary() const {
  const Decision* d = instance_.last_decision();
  if (d == nullptr || d->value == kNoNode || d->value > config_.n) return kNoNode;
  return static_cast<NodeId>(d->value);
}

Value Node::proposal() const {
  NodeId current = primary();
  if (current == kNoNode) current = config_.initial_primary;
  if (current == config_.self && handover_to_ != kNoNode && !detector_.suspects(handover_to_)) return handover_to_;
  if (current == config_.self || !detector_.suspects(current)) return current;
  return config_.self;
}

void Node::hand_over(NodeId to) {
  if (!is_primary() || to == kNoNode || to > config_.n || to == config_.self) return;
  handover_to_ = to;
}

NodeId Node::likely_successor() const {
  const std::uint64_t round = instance_.state().key.round;
  for (std::uint32_t i = 0; i < config_.n; ++i) {
    const NodeId id = coordinator_of(round + i, config_.n);
    if (id == config_.self || !detector_.suspects(id)) return id;
  }
  return config_.self;
}

void Node::tick() {
  detector_.tick(events_);
  instance_.set_proposal(proposal());
  instance_.tick(detector_, Outputs{outbox_, events_});
  report_primary_change();
}

void Node::step(NodeId from, const Message& m) {
  if (from == kNoNode || from > config_.n || from == config_.self) return;
  detector_.heard_from(from, events_);
  instance_.set_proposal(proposal());
  instance_.step(from, m, detector_, Outputs{outbox_, events_});
  report_primary_change();
}

void Node::peer_left(NodeId peer) {
  detector_.peer_left(peer, events_);
}

void Node::report_primary_change() {
  NodeId now = primary();
  if (now != config_.self) handover_to_ = kNoNode;
  if (now == reported_primary_) return;
  events_.push_back(PrimaryChanged{reported_primary_, now});
  reported_primary_ = now;
}

std::vector<Envelope> Node::take_outbox() {
  std::vector<Envelope> out;
  out.swap(outbox_);
  return out;
}

std::vector<Event> Node::take_events() {
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

NodeState Node::state() const {
  return NodeState{instance_.state(), detector_.peers(), reported_primary_};
}

void Node::load(const NodeState& s) {
  instance_.load(s.instance);
  detector_.load(s.detector);
  reported_primary_ = s.reported_primary;
}

}  // namespace vmrep::consensus

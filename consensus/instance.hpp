#pragma once
// One instance of the self-stabilizing consensus of Dolev, Kat and Schiller
// (paper Sec. III-A), repeated epoch after epoch. Each node holds
// <v_i, e_i, r_i> and the decided sequence s_i:
//   1. every node sends <v_i, e_i, r_i> (Estimate) to all; the coordinator of
//      round r is coordinator_of(r, n) = (r mod n) + 1;
//   2. the coordinator, when its (e_i, r_i) is the highest it knows, sends
//      <v_i, s_i, e_i, r_i> as the proposal (Propose);
//   3. when every node it trusts has taken that proposal (Ack) and it is still
//      the highest, it sends <v_i, s_i, e_i, r_i> as decided (Decide) and
//      moves to (e_i + 1, 0); a receiver adopts s_i and moves to (e_i + 1, 0).
// The paper leaves two things implicit that self-stabilization needs; we make
// them explicit rules:
//   - a node that hears a higher (e, r) takes it as its own key (the "else
//     r_i += 1" of steps 2 and 3, generalised: without it nodes that start in
//     different rounds could each wait for a different coordinator forever);
//   - a node whose coordinator is suspected advances its round.
//
// Contract: single-threaded; the owner (Node) calls tick() once per tick and
// step() per message, passing its failure detector, and drains the outputs.

#include <cstdint>
#include <vector>

#include "consensus/event.hpp"
#include "consensus/failure_detector.hpp"
#include "consensus/message.hpp"

namespace vmrep::consensus {

struct InstanceConfig {
  NodeId self = 1;
  std::uint32_t n = 1;
  std::uint32_t heartbeat_every_ticks = 2;  // Estimate period
  std::uint32_t epoch_min_ticks = 4;        // pace: ticks in a key before proposing
  std::uint32_t log_window = 16;            // decisions kept in s_i
  std::uint32_t wrap_guard_ticks = 40;      // > the largest message delay
  Value value_min = 0;                      // values outside are malformed
  Value value_max = ~Value{0};
};

enum class Phase : std::uint8_t { idle, proposed };

// What this node last heard from a peer.
struct PeerView {
  Key key;
  Value value = 0;
  bool known = false;  // heard at least once
  bool acked = false;  // acked our current proposal
  friend bool operator==(const PeerView&, const PeerView&) = default;
};

// The whole mutable state: what load() may set to anything.
struct InstanceState {
  Value value = 0;
  Key key;
  DecidedLog log;
  Phase phase = Phase::idle;
  std::uint32_t ticks_in_key = 0;
  std::uint32_t ticks_since_estimate = 0;
  bool estimate_pending = true;
  std::uint32_t wrap_guard_ticks = 0;  // > 0: just wrapped, ignore the old era
  std::vector<PeerView> peers;  // index id-1
  friend bool operator==(const InstanceState&, const InstanceState&) = default;
};

struct Outputs {
  std::vector<Envelope>& outbox;
  std::vector<Event>& events;
};

class Instance {
 public:
  explicit Instance(InstanceConfig config);

  void set_proposal(Value v) { s_.value = v; }
  void tick(const FailureDetector& fd, Outputs out);
  void step(NodeId from, const Message& m, const FailureDetector& fd, Outputs out);

  const InstanceState& state() const { return s_; }
  void load(InstanceState s);
  const InstanceConfig& config() const { return config_; }

  bool is_coordinator() const { return coordinator_of(s_.key.round, config_.n) == config_.self; }
  // The newest decided value, if any.
  const Decision* last_decision() const;
  // How often the key wrapped at kEpochLimit (diagnostics and invariants).
  std::uint64_t wraps() const { return wraps_; }

 private:
  // Rules, named as in the tests.
  void broadcast_estimate(Outputs out);
  void adopt_higher_key(Key k);
  void advance_round();
  void propose(const FailureDetector& fd, Outputs out);
  void resend_proposal(Outputs out);
  void try_decide(const FailureDetector& fd, Outputs out);
  void on_estimate(NodeId from, const Estimate& m);
  void on_propose(NodeId from, const Propose& m, Outputs out);
  void on_ack(NodeId from, const Ack& m, const FailureDetector& fd, Outputs out);
  void on_decide(NodeId from, const Decide& m, Outputs out);

  void set_key(Key k);
  void append_decision(Decision d);
  bool trusted_peers_all(const FailureDetector& fd, bool PeerView::*flag) const;
  bool valid(const Message& m) const;
  bool from_old_era(const Message& m) const;
  void sanitize();
  void send(NodeId to, Message m, Outputs out) const;
  void broadcast(const Message& m, Outputs out) const;

  InstanceConfig config_;
  InstanceState s_;
  std::uint64_t wraps_ = 0;
};

}  // namespace vmrep::consensus

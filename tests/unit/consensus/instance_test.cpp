// Rules of one consensus instance (consensus/instance.hpp), driven directly
// with a failure detector whose suspicions the test sets.
#include "consensus/instance.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace vmrep::consensus {
namespace {

using Sent = std::pair<NodeId, Message>;
using Outbox = std::vector<Sent>;
constexpr std::uint64_t kLast = kEpochLimit - 1;

// Values are node ids, as in Node.
InstanceConfig config(NodeId self, std::uint32_t n) {
  return InstanceConfig{.self = self, .n = n, .heartbeat_every_ticks = 2, .epoch_min_ticks = 4,
                        .log_window = 16, .wrap_guard_ticks = 40, .value_min = 1, .value_max = n};
}

DecidedLog log_of(std::vector<Decision> entries) { return DecidedLog{std::move(entries), 0, 0}; }

// An Instance, the detector it reads, and the outputs it wrote.
struct Rig {
  explicit Rig(InstanceConfig c) : inst(c), fd(c.self, c.n, DetectorConfig{}) { inst.set_proposal(c.self); }
  Instance inst;
  FailureDetector fd;
  std::vector<Envelope> outbox;
  std::vector<Event> events;

  void suspect(const std::vector<NodeId>& ids) {
    std::vector<PeerLiveness> peers(inst.config().n, PeerLiveness{0, 6, false});
    for (NodeId id : ids) peers[id - 1].suspected = true;
    fd.load(std::move(peers));
  }
  Outbox tick(int times = 1) {
    for (int i = 0; i < times; ++i) inst.tick(fd, Outputs{outbox, events});
    return drain();
  }
  Outbox step(NodeId from, const Message& m) {
    inst.step(from, m, fd, Outputs{outbox, events});
    return drain();
  }
  Outbox drain() {
    Outbox sent;
    for (Envelope& e : std::exchange(outbox, {})) sent.emplace_back(e.to, std::move(e.msg));
    return sent;
  }
  std::vector<Event> take_events() { return std::exchange(events, {}); }
  // Every other node's Estimate at our key: all peers become known.
  void hear_all() {
    for (NodeId id = 1; id <= inst.config().n; ++id)
      if (id != inst.config().self) step(id, Estimate{id, inst.state().key});
  }
};

// `m` to every node of 1..n but `self`, in id order: what a broadcast sends.
Outbox to_all(NodeId self, std::uint32_t n, const Message& m) {
  Outbox out;
  for (NodeId id = 1; id <= n; ++id)
    if (id != self) out.emplace_back(id, m);
  return out;
}

InstanceState at(Key key, Value value, DecidedLog log = {}) {
  InstanceState s;
  s.value = value;
  s.key = key;
  s.log = std::move(log);
  return s;
}

template <class T>
Outbox only(const Outbox& sent) {
  Outbox out;
  for (const Sent& s : sent)
    if (std::holds_alternative<T>(s.second)) out.push_back(s);
  return out;
}

// Coordinator 1 of 3 that has just proposed value 1 at (0,0).
Rig proposed_coordinator() {
  Rig rig(config(1, 3));
  rig.hear_all();
  Outbox sent = rig.tick(4);
  EXPECT_EQ(only<Propose>(sent), to_all(1, 3, Propose{1, {0, 0}, {}}));
  EXPECT_EQ(rig.inst.state().phase, Phase::proposed);
  return rig;
}

void expect_dropped(Rig& rig, NodeId from, const Message& m) {
  InstanceState before = rig.inst.state();
  EXPECT_TRUE(rig.step(from, m).empty()) << message_name(m) << " from " << from;
  EXPECT_EQ(rig.inst.state(), before) << message_name(m) << " from " << from;
  EXPECT_TRUE(rig.take_events().empty());
}

}  // namespace

TEST(Instance, Rule_BroadcastEstimate_EveryHeartbeatToAllPeersButSelf) {
  InstanceConfig c = config(2, 3);
  c.heartbeat_every_ticks = 3;
  Rig rig(c);
  Outbox estimates = to_all(2, 3, Estimate{2, {0, 0}});
  for (int t = 1; t <= 9; ++t) {
    Outbox sent = rig.tick();
    if (t % 3 == 1) EXPECT_EQ(sent, estimates) << "tick " << t;
    else EXPECT_TRUE(sent.empty()) << "tick " << t;
  }
}

TEST(Instance, Rule_CoordinatorOfRound_RoundModNPlusOne) {
  const NodeId expected[] = {1, 2, 3, 1, 2, 3, 1};
  for (std::uint64_t r = 0; r < 7; ++r) EXPECT_EQ(coordinator_of(r, 3), expected[r]) << "round " << r;
  EXPECT_EQ(coordinator_of(kRoundLimit - 1, 5), 4u);  // (2^62 - 1) mod 5 == 3
  EXPECT_EQ(coordinator_of(12345, 1), 1u);
  Instance inst(config(2, 3));
  for (std::uint64_t r = 0; r < 7; ++r) {
    inst.load(at({9, r}, 2));
    EXPECT_EQ(inst.is_coordinator(), expected[r] == 2) << "round " << r;
  }
}

TEST(Instance, Rule_AdoptHigherKey_TakesPeersKeyKeepsOwnValue) {
  Rig rig(config(2, 3));
  rig.tick();
  EXPECT_TRUE(rig.step(3, Estimate{3, {2, 5}}).empty());
  EXPECT_EQ(rig.inst.state().key, (Key{2, 5}));
  EXPECT_EQ(rig.inst.state().value, 2u);
  EXPECT_EQ(rig.inst.state().peers[2], (PeerView{{2, 5}, 3, true, false}));
  // The new key is announced at the next tick, before the heartbeat is due.
  EXPECT_EQ(rig.tick(), to_all(2, 3, Estimate{2, {2, 5}}));
  // A lower key is recorded for its sender but not taken.
  rig.step(1, Estimate{1, {2, 4}});
  EXPECT_EQ(rig.inst.state().key, (Key{2, 5}));
  EXPECT_EQ(rig.inst.state().peers[0], (PeerView{{2, 4}, 1, true, false}));
  EXPECT_TRUE(rig.tick().empty());
}

TEST(Instance, Rule_AdvanceRoundOnSuspectedCoordinator_OneRoundPerTick) {
  Rig rig(config(3, 3));
  rig.suspect({1, 2});
  EXPECT_EQ(rig.tick(), to_all(3, 3, Estimate{3, {0, 1}}));
  // Announced at once although the heartbeat is not due.
  EXPECT_EQ(rig.tick(), to_all(3, 3, Estimate{3, {0, 2}}));
  EXPECT_TRUE(rig.tick().empty());  // now coordinator itself: stays
  EXPECT_EQ(rig.inst.state().key, (Key{0, 2}));
}

TEST(Instance, Rule_AdvanceRoundOnSuspectedCoordinator_TrustedCoordinatorIsAwaited) {
  Rig rig(config(2, 3));
  rig.suspect({3});
  rig.tick(50);
  EXPECT_EQ(rig.inst.state().key, (Key{0, 0}));
  rig.suspect({1});
  rig.tick();
  EXPECT_EQ(rig.inst.state().key, (Key{0, 1}));
  // Past the last round the key rolls into the next epoch.
  rig.inst.load(at({7, kRoundLimit - 1}, 2));  // led by 1: (2^62 - 1) mod 3 == 0
  rig.tick();
  EXPECT_EQ(rig.inst.state().key, (Key{8, 0}));
  EXPECT_EQ(rig.inst.wraps(), 0u);
}

TEST(Instance, Rule_CoordinatorProposesWhenHighest_OnlyAfterEpochMinTicks) {
  Rig rig(config(1, 3));
  rig.hear_all();
  EXPECT_TRUE(only<Propose>(rig.tick(3)).empty());
  EXPECT_EQ(rig.inst.state().phase, Phase::idle);
  EXPECT_EQ(only<Propose>(rig.tick()), to_all(1, 3, Propose{1, {0, 0}, {}}));
  EXPECT_EQ(rig.inst.state().phase, Phase::proposed);
}

TEST(Instance, Rule_CoordinatorProposesWhenHighest_WaitsUntilEveryTrustedPeerIsKnown) {
  Rig rig(config(1, 3));
  rig.step(2, Estimate{2, {0, 0}});
  EXPECT_TRUE(only<Propose>(rig.tick(19)).empty());
  rig.step(3, Estimate{3, {0, 0}});
  EXPECT_EQ(only<Propose>(rig.tick()).size(), 2u);  // tick 20: no heartbeat due
  // A suspected peer need not be known.
  Rig other(config(1, 3));
  other.suspect({3});
  other.step(2, Estimate{2, {0, 0}});
  EXPECT_EQ(only<Propose>(other.tick(4)), to_all(1, 3, Propose{1, {0, 0}, {}}));
}

TEST(Instance, Rule_CoordinatorProposesWhenHighest_HigherPeerKeyStopsProposal) {
  Rig rig(config(1, 3));
  rig.hear_all();
  rig.tick(3);
  rig.step(3, Estimate{3, {0, 1}});  // round 1 is led by node 2
  EXPECT_TRUE(only<Propose>(rig.tick(20)).empty());
  EXPECT_EQ(rig.inst.state().key, (Key{0, 1}));
}

TEST(Instance, Rule_AcceptProposal_AckToCoordinatorEstimateToLowerProposal) {
  Rig rig(config(2, 3));
  EXPECT_EQ(rig.step(1, Propose{1, {0, 0}, {}}), (Outbox{{1, Ack{{0, 0}}}}));
  EXPECT_EQ(rig.step(1, Propose{1, {4, 3}, log_of({{2, 1}})}), (Outbox{{1, Ack{{4, 3}}}}));
  EXPECT_EQ(rig.inst.state().key, (Key{4, 3}));
  EXPECT_EQ(rig.inst.state().value, 2u);  // its own value is kept
  EXPECT_TRUE(rig.inst.state().log.recent.empty());  // s_i comes with Decide only
  // Only the round's coordinator gets an Ack.
  EXPECT_TRUE(rig.step(3, Propose{3, {4, 3}, {}}).empty());
  // A lower proposal is answered with our Estimate and not taken.
  EXPECT_EQ(rig.step(1, Propose{1, {4, 0}, {}}), (Outbox{{1, Estimate{2, {4, 3}}}}));
  EXPECT_EQ(rig.inst.state().key, (Key{4, 3}));
}

TEST(Instance, Rule_CoordinatorDecidesWhenAllTrustedAcked_NotBefore) {
  Rig rig = proposed_coordinator();
  EXPECT_TRUE(rig.step(2, Ack{{0, 0}}).empty());
  EXPECT_TRUE(only<Decide>(rig.tick()).empty());
  EXPECT_TRUE(rig.take_events().empty());
  DecidedLog decided = log_of({{0, 1}});
  EXPECT_EQ(rig.step(3, Ack{{0, 0}}), to_all(1, 3, Decide{1, {0, 0}, decided}));
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{0, 1}, true}}));
  EXPECT_EQ(rig.inst.state().key, (Key{1, 0}));
  EXPECT_EQ(rig.inst.state().log, decided);
  EXPECT_EQ(rig.inst.state().phase, Phase::idle);
  ASSERT_NE(rig.inst.last_decision(), nullptr);
  EXPECT_EQ(*rig.inst.last_decision(), (Decision{0, 1}));
}

TEST(Instance, Rule_CoordinatorDecidesWhenAllTrustedAcked_SuspectedPeersAreNotWaitedFor) {
  Rig rig = proposed_coordinator();
  rig.step(2, Ack{{0, 0}});
  rig.suspect({3});
  EXPECT_EQ(only<Decide>(rig.tick()).size(), 2u);  // still sent to the suspected peer
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{0, 1}, true}}));
  EXPECT_EQ(rig.inst.state().key, (Key{1, 0}));
}

TEST(Instance, Rule_AbandonProposalWhenOvertaken_HigherKeyResetsPhase) {
  Rig rig = proposed_coordinator();
  rig.step(2, Ack{{0, 0}});
  rig.step(2, Estimate{2, {0, 4}});  // led by node 2
  EXPECT_EQ(rig.inst.state().phase, Phase::idle);
  EXPECT_TRUE(rig.step(3, Ack{{0, 0}}).empty());
  EXPECT_TRUE(only<Propose>(rig.tick(10)).empty());
  EXPECT_TRUE(rig.take_events().empty());
  EXPECT_EQ(rig.inst.state().key, (Key{0, 4}));
}

TEST(Instance, Rule_AbandonProposalWhenOvertaken_OldAcksDoNotCountInNewRound) {
  Rig rig = proposed_coordinator();
  rig.step(2, Estimate{2, {0, 3}});  // round 3 is led by node 1 again
  EXPECT_EQ(rig.inst.state().phase, Phase::idle);
  rig.step(2, Ack{{0, 0}});
  rig.step(3, Ack{{0, 0}});
  EXPECT_TRUE(only<Propose>(rig.tick(3)).empty());
  EXPECT_EQ(only<Propose>(rig.tick()), to_all(1, 3, Propose{1, {0, 3}, {}}));
  EXPECT_TRUE(rig.take_events().empty());
}

TEST(Instance, Rule_ResendProposalUntilAcked_OnlyToPeersThatHaveNotAcked) {
  Rig rig = proposed_coordinator();  // proposed at tick 4; heartbeats at 1, 3, 5, ...
  rig.step(2, Ack{{0, 0}});
  Outbox resent{{2, Estimate{1, {0, 0}}}, {3, Estimate{1, {0, 0}}}, {3, Propose{1, {0, 0}, {}}}};
  EXPECT_EQ(rig.tick(), resent);
  EXPECT_TRUE(rig.tick().empty());
  EXPECT_EQ(rig.tick(), resent);
  EXPECT_EQ(only<Decide>(rig.step(3, Ack{{0, 0}})).size(), 2u);
}

// Regression: when the proposal fell on a heartbeat tick, propose() broadcast
// it and resend_proposal() sent it again in the same tick (and each peer
// answered both with an Ack). Resending is for later periods only.
TEST(Instance, Rule_ResendProposalUntilAcked_NotTwiceInTheTickItIsFirstSent) {
  InstanceConfig c = config(1, 3);
  c.heartbeat_every_ticks = 3;  // heartbeats at ticks 1, 4, 7: tick 4 proposes too
  Rig rig(c);
  rig.hear_all();
  rig.tick(3);
  EXPECT_EQ(only<Propose>(rig.tick()), to_all(1, 3, Propose{1, {0, 0}, {}}));
}

TEST(Instance, Rule_AdoptDecision_ReceiverReplacesLogAndMovesToNextEpoch) {
  Rig rig(config(3, 3));
  rig.inst.load(at({1, 0}, 3, log_of({{0, 3}})));
  DecidedLog decided = log_of({{0, 1}, {1, 2}});
  decided.evicted_count = 4;
  EXPECT_TRUE(rig.step(2, Decide{2, {1, 1}, decided}).empty());
  EXPECT_EQ(rig.inst.state().log, decided);
  EXPECT_EQ(rig.inst.state().key, (Key{2, 0}));
  EXPECT_EQ(rig.inst.state().peers[1].key, (Key{2, 0}));
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{1, 2}, false}}));
  // A decision epochs ahead is adopted just the same.
  rig.step(1, Decide{1, {9, 0}, log_of({{5, 2}, {9, 1}})});
  EXPECT_EQ(rig.inst.state().key, (Key{10, 0}));
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{9, 1}, false}}));
}

TEST(Instance, Rule_AdoptDecisionOfPreviousEpoch_KeyAlreadyPastItStays) {
  Rig rig(config(3, 3));
  rig.step(2, Estimate{2, {1, 2}});
  EXPECT_TRUE(rig.step(1, Decide{1, {0, 0}, log_of({{0, 1}})}).empty());
  EXPECT_EQ(rig.inst.state().log, log_of({{0, 1}}));
  EXPECT_EQ(rig.inst.state().key, (Key{1, 2}));
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{0, 1}, false}}));
}

TEST(Instance, Rule_IgnoreStaleDecision_AnsweredWithEstimate) {
  Rig rig(config(3, 3));
  rig.inst.load(at({3, 1}, 3, log_of({{2, 2}})));
  EXPECT_EQ(rig.step(1, Decide{1, {1, 0}, log_of({{0, 1}, {1, 1}})}), (Outbox{{1, Estimate{3, {3, 1}}}}));
  EXPECT_EQ(rig.inst.state().key, (Key{3, 1}));
  EXPECT_EQ(rig.inst.state().log, log_of({{2, 2}}));
  EXPECT_TRUE(rig.take_events().empty());
}

TEST(Instance, Rule_DropMalformedMessage_NothingChangesNothingIsSent) {
  Rig rig(config(2, 3));
  rig.step(1, Estimate{1, {3, 1}});
  DecidedLog oversized;
  for (std::uint64_t e = 0; e < 17; ++e) oversized.recent.push_back(Decision{e, 1});
  const Message malformed[] = {
      Estimate{0, {5, 0}}, Estimate{4, {5, 0}},  // values outside 1..n
      Estimate{1, {kEpochLimit, 0}}, Estimate{1, {5, kRoundLimit}}, Ack{{kEpochLimit, 0}},
      Propose{1, {20, 3}, oversized},
      Propose{1, {5, 3}, log_of({{5, 1}})},  // s_i holds a decision from the future
      Propose{1, {5, 3}, log_of({{3, 1}, {1, 1}})},
      Decide{1, {5, 0}, {}}, Decide{1, {5, 0}, log_of({{5, 2}})},  // s_i lacks (5, 1)
      Decide{1, {5, 0}, log_of({{4, 1}})}, Decide{1, {5, 0}, log_of({{3, 1}, {2, 1}, {5, 1}})},
      Decide{7, {5, 0}, log_of({{5, 7}})},
  };
  for (const Message& m : malformed) expect_dropped(rig, 1, m);
  // From nobody, from itself, from outside 1..n.
  expect_dropped(rig, kNoNode, Estimate{1, {5, 0}});
  expect_dropped(rig, 2, Estimate{1, {5, 0}});
  expect_dropped(rig, 4, Estimate{1, {5, 0}});
  // The well-formed twin is taken.
  rig.step(1, Estimate{1, {5, 0}});
  EXPECT_EQ(rig.inst.state().key, (Key{5, 0}));
}

TEST(Instance, Rule_WrapAtEpochLimit_DecidingLastEpochWrapsToZero) {
  Rig rig(config(1, 3));
  InstanceState s = at({kLast, 0}, 1, log_of({{kLast - 1, 2}}));
  s.ticks_in_key = 4;
  s.estimate_pending = false;  // no heartbeat in the next tick
  s.peers = {PeerView{}, PeerView{{kLast, 0}, 2, true, false}, PeerView{{kLast, 0}, 3, true, false}};
  rig.inst.load(s);
  EXPECT_EQ(only<Propose>(rig.tick()).size(), 2u);
  rig.step(2, Ack{{kLast, 0}});
  DecidedLog decided = log_of({{kLast - 1, 2}, {kLast, 1}});
  EXPECT_EQ(rig.step(3, Ack{{kLast, 0}}), to_all(1, 3, Decide{1, {kLast, 0}, decided}));
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{kLast, 1}, true}}));
  EXPECT_EQ(rig.inst.state().key, (Key{0, 0}));
  EXPECT_TRUE(rig.inst.state().log.recent.empty());
  EXPECT_EQ(rig.inst.wraps(), 1u);
  EXPECT_EQ(rig.inst.state().wrap_guard_ticks, 40u);

  // The guard drops the old era, and only it.
  Estimate old_era{2, {kEpochLimit - kWrapZone, 0}};
  expect_dropped(rig, 2, old_era);
  expect_dropped(rig, 3, Decide{3, {kLast, 2}, log_of({{kLast, 3}})});
  Rig below_zone = rig;
  below_zone.step(2, Estimate{2, {kEpochLimit - kWrapZone - 1, 0}});
  EXPECT_EQ(below_zone.inst.state().key, (Key{kEpochLimit - kWrapZone - 1, 0}));

  rig.tick(39);
  expect_dropped(rig, 2, old_era);
  rig.tick();
  rig.step(2, old_era);
  EXPECT_EQ(rig.inst.state().key, old_era.key);
}

TEST(Instance, Rule_WrapAtEpochLimit_AdoptedLastDecisionWrapsToo) {
  Rig rig(config(2, 3));
  rig.step(1, Estimate{1, {kLast, 0}});
  rig.step(1, Decide{1, {kLast, 0}, log_of({{kLast, 1}})});
  EXPECT_EQ(rig.inst.state().key, (Key{0, 0}));
  EXPECT_TRUE(rig.inst.state().log.recent.empty());
  EXPECT_EQ(rig.inst.wraps(), 1u);
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{kLast, 1}, false}}));
}

TEST(Instance, Rule_SanitizeArbitraryState_LoadYieldsValidState) {
  Instance inst(config(2, 3));
  InstanceState s{.value = 2, .key = {100, 1}, .log = {{}, 0, 5}, .phase = Phase::proposed,
                  .ticks_in_key = 4'000'000'000u, .ticks_since_estimate = 4'000'000'000u,
                  .estimate_pending = true, .wrap_guard_ticks = 4'000'000'000u,
                  .peers = std::vector<PeerView>(7, PeerView{{9, 9}, 3, true, true})};
  for (std::uint64_t e = 0; e < 40; ++e) s.log.recent.push_back(Decision{e, 1});
  inst.load(s);
  const InstanceState& got = inst.state();
  ASSERT_EQ(got.peers.size(), 3u);
  EXPECT_EQ(got.peers[1], PeerView{});
  EXPECT_EQ(got.peers[0], (PeerView{{9, 9}, 3, true, true}));
  ASSERT_EQ(got.log.recent.size(), 16u);
  EXPECT_EQ(got.log.recent.front(), (Decision{24, 1}));
  EXPECT_EQ(got.log.evicted_count, 5u + 24u);
  EXPECT_EQ(got.phase, Phase::proposed);  // coordinator of round 1: may be proposing
  EXPECT_EQ(got.ticks_in_key, 4u);
  EXPECT_EQ(got.ticks_since_estimate, 2u);
  EXPECT_EQ(got.wrap_guard_ticks, 40u);

  s.key = Key{100, 0};  // node 1 leads: node 2 cannot be proposing
  s.log.recent = {{7, 1}, {150, 1}, {3, 2}, {99, 3}, {100, 1}};
  inst.load(s);
  EXPECT_EQ(inst.state().phase, Phase::idle);
  EXPECT_EQ(inst.state().log.recent, (std::vector<Decision>{{3, 2}, {99, 3}}));
}

TEST(Instance, Rule_SanitizeArbitraryState_OutOfRangeKeyWraps) {
  Instance inst(config(2, 3));
  InstanceState s = at({kEpochLimit + 5, 3}, 2, log_of({{1, 1}}));
  inst.load(s);
  EXPECT_EQ(inst.state().key, (Key{0, 0}));
  EXPECT_TRUE(inst.state().log.recent.empty());
  EXPECT_EQ(inst.wraps(), 1u);
  EXPECT_EQ(inst.state().wrap_guard_ticks, 40u);
  s.key = Key{7, kRoundLimit + 1};
  inst.load(s);
  EXPECT_EQ(inst.state().key, (Key{8, 0}));
  EXPECT_EQ(inst.state().log, log_of({{1, 1}}));
  s.key = Key{~std::uint64_t{0}, ~std::uint64_t{0}};
  inst.load(s);
  EXPECT_TRUE(key_in_range(inst.state().key));
  EXPECT_TRUE(inst.state().log.recent.empty());
}

TEST(Instance, Rule_SingleNode_DecidesAlone) {
  Rig rig(config(1, 1));
  EXPECT_TRUE(rig.tick(3).empty());  // no peers: nothing is ever sent
  EXPECT_TRUE(rig.take_events().empty());
  EXPECT_TRUE(rig.tick().empty());
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{0, 1}, true}}));
  EXPECT_EQ(rig.inst.state().key, (Key{1, 0}));
  rig.tick(4);
  EXPECT_EQ(rig.take_events(), (std::vector<Event>{Decided{{1, 1}, true}}));
  EXPECT_EQ(rig.inst.state().log, log_of({{0, 1}, {1, 1}}));
}

}  // namespace vmrep::consensus

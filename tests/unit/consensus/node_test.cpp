// Election rules of a Node (consensus/node.hpp): an Instance whose value is
// the primary's id, with its own failure detector.
#include "consensus/node.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consensus/invariants.hpp"

namespace vmrep::consensus {
namespace {

using Sent = std::pair<NodeId, Message>;

NodeConfig config(NodeId self, std::uint32_t n) {
  NodeConfig c;  // heartbeat 2, epoch_min 4, suspect after 6 ticks
  c.self = self;
  c.n = n;
  return c;
}

DecidedLog log_of(std::vector<Decision> entries) {
  DecidedLog log;
  log.recent = std::move(entries);
  return log;
}

std::vector<Sent> drain(Node& node) {
  std::vector<Sent> sent;
  for (Envelope& e : node.take_outbox()) sent.emplace_back(e.to, std::move(e.msg));
  return sent;
}

void tick(Node& node, int times) {
  for (int i = 0; i < times; ++i) node.tick();
}

std::vector<std::string> violations(const Node& node) {
  std::vector<std::string> out;
  invariants::check_state(node, out);
  return out;
}

int count_changes(const std::vector<Event>& events, PrimaryChanged change) {
  int n = 0;
  for (const Event& e : events) n += e == Event{change} ? 1 : 0;
  return n;
}

// n nodes wired by a loop that delivers every outbox synchronously, except
// to and from isolated nodes.
struct Cluster {
  explicit Cluster(std::uint32_t n, NodeId initial_primary = 1) {
    for (NodeId id = 1; id <= n; ++id) {
      NodeConfig c = config(id, n);
      c.initial_primary = initial_primary;
      nodes.emplace_back(c);
    }
  }
  std::vector<Node> nodes;
  std::set<NodeId> isolated;

  void run(int ticks) {
    for (int t = 0; t < ticks; ++t) {
      for (Node& node : nodes) node.tick();
      deliver();
    }
  }
  void deliver() {
    for (int wave = 0; wave < 100; ++wave) {
      bool any = false;
      for (Node& from : nodes) {
        for (Envelope& e : from.take_outbox()) {
          any = true;
          if (isolated.count(from.self()) == 0 && isolated.count(e.to) == 0)
            nodes[e.to - 1].step(from.self(), e.msg);
        }
      }
      if (!any) return;
    }
    ADD_FAILURE() << "messages still flowing after 100 waves";
  }
  std::vector<Event> take_events(NodeId id) { return nodes[id - 1].take_events(); }
  NodeId primary(NodeId id) const { return nodes[id - 1].primary(); }
};

}  // namespace

TEST(Node, Rule_HandOver_ClusterDecidesTheSuccessorAndStaysThere) {
  Cluster cluster(3);
  cluster.run(20);
  ASSERT_EQ(cluster.primary(1), 1u);
  cluster.nodes[1].hand_over(3);  // not the primary: ignored
  EXPECT_EQ(cluster.nodes[1].handing_over_to(), kNoNode);
  cluster.nodes[0].hand_over(1);  // to itself: ignored
  cluster.nodes[0].hand_over(7);  // not a node: ignored
  EXPECT_EQ(cluster.nodes[0].handing_over_to(), kNoNode);
  cluster.nodes[0].hand_over(3);
  EXPECT_EQ(cluster.nodes[0].handing_over_to(), 3u);
  EXPECT_EQ(cluster.nodes[0].proposal(), 3u);
  cluster.run(40);
  for (NodeId id = 1; id <= 3; ++id) EXPECT_EQ(cluster.primary(id), 3u) << "node " << id;
  EXPECT_EQ(cluster.nodes[0].handing_over_to(), kNoNode) << "done once another node is primary";
  cluster.run(40);
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_EQ(cluster.primary(id), 3u) << "node " << id << ": the successor keeps the role";
    EXPECT_TRUE(violations(cluster.nodes[id - 1]).empty());
  }
}

TEST(Node, Rule_HandOver_ToASuspectedNodeKeepsThePrimary) {
  Cluster cluster(3);
  cluster.run(20);
  cluster.isolated.insert(3);
  cluster.run(20);  // 1 and 2 suspect 3
  ASSERT_TRUE(cluster.nodes[0].detector().suspects(3));
  cluster.nodes[0].hand_over(3);
  EXPECT_EQ(cluster.nodes[0].proposal(), 1u) << "never hand over to a node it suspects";
  cluster.run(40);
  EXPECT_EQ(cluster.primary(1), 1u);
  EXPECT_EQ(cluster.primary(2), 1u);
}

TEST(Node, Rule_InitialPrimaryBeforeAnyDecision_DefaultsToNodeOne) {
  EXPECT_EQ(NodeConfig{}.initial_primary, 1u);
  Node node(config(2, 3));
  EXPECT_EQ(node.primary(), kNoNode);
  EXPECT_EQ(node.proposal(), 1u);
  NodeConfig c = config(2, 3);
  c.initial_primary = 3;
  EXPECT_EQ(Node(c).proposal(), 3u);
  for (NodeId bad : {kNoNode, NodeId{4}}) {
    c.initial_primary = bad;
    Node fixed(c);
    EXPECT_EQ(fixed.config().initial_primary, 1u);
    EXPECT_EQ(fixed.proposal(), 1u);
  }
}

TEST(Node, Rule_InitialPrimaryBeforeAnyDecision_ClusterElectsIt) {
  Cluster cluster(3, 3);
  cluster.run(20);
  for (NodeId id = 1; id <= 3; ++id) EXPECT_EQ(cluster.primary(id), 3u) << "node " << id;
}

TEST(Node, Rule_ProposeTrustedPrimary_DecidedPrimaryWhileTrusted) {
  Node node(config(2, 3));
  node.step(3, Decide{3, {0, 2}, log_of({{0, 3}})});
  EXPECT_EQ(node.primary(), 3u);
  EXPECT_EQ(node.proposal(), 3u);
  tick(node, 6);  // 3 silent for 6 ticks: still trusted
  EXPECT_FALSE(node.detector().suspects(3));
  EXPECT_EQ(node.proposal(), 3u);
  EXPECT_EQ(node.instance().state().value, 3u);
}

TEST(Node, Rule_ProposeSelfWhenPrimarySuspected_DecidedPrimarySilent) {
  Node node(config(2, 3));
  node.step(3, Decide{3, {0, 2}, log_of({{0, 3}})});
  tick(node, 7);
  ASSERT_TRUE(node.detector().suspects(3));
  EXPECT_EQ(node.primary(), 3u);  // still believed until a new decision
  EXPECT_EQ(node.proposal(), 2u);
  EXPECT_EQ(node.instance().state().value, 2u);
  // Heard again: trusted, proposed again.
  node.step(3, Estimate{3, node.key()});
  EXPECT_EQ(node.proposal(), 3u);
}

// With the timeout cap at the initial timeout, the start-up grace for peers
// never heard is the same 6 ticks (failure_detector.hpp).
NodeConfig no_grace(NodeId self, std::uint32_t n) {
  NodeConfig c = config(self, n);
  c.detector.suspect_after_ticks_max = c.detector.suspect_after_ticks;
  return c;
}

TEST(Node, Rule_ProposeSelfWhenPrimarySuspected_InitialPrimarySilent) {
  Node node(no_grace(3, 3));
  tick(node, 6);
  EXPECT_EQ(node.proposal(), 1u);
  tick(node, 1);
  EXPECT_EQ(node.proposal(), 3u);
  // A node never suspects itself: its own primacy is always proposed.
  Node self_primary(config(3, 3));
  self_primary.step(1, Decide{3, {0, 0}, log_of({{0, 3}})});
  tick(self_primary, 50);
  EXPECT_EQ(self_primary.proposal(), 3u);
}

TEST(Node, Rule_PrimaryChangedEmittedOncePerChange) {
  Node node(config(2, 3));
  node.step(1, Decide{1, {0, 0}, log_of({{0, 1}})});
  EXPECT_EQ(node.take_events(), (std::vector<Event>{Decided{{0, 1}, false}, PrimaryChanged{kNoNode, 1}}));
  node.step(1, Decide{1, {1, 0}, log_of({{0, 1}, {1, 1}})});
  EXPECT_EQ(node.take_events(), (std::vector<Event>{Decided{{1, 1}, false}}));
  node.tick();
  EXPECT_TRUE(node.take_events().empty());
  node.step(3, Decide{3, {2, 2}, log_of({{0, 1}, {1, 1}, {2, 3}})});
  EXPECT_EQ(node.take_events(), (std::vector<Event>{Decided{{2, 3}, false}, PrimaryChanged{1, 3}}));
}

TEST(Node, Rule_TakeOutboxTakeEvents_DrainInOrder) {
  // Node 1 hears nobody: at tick 7 it suspects both peers and, trusting no
  // one, proposes and decides alone in the same tick.
  Node node(no_grace(1, 3));
  tick(node, 7);
  std::vector<Sent> sent = drain(node);
  // Heartbeats at ticks 1, 3, 5; at tick 7 Propose, Decide and the heartbeat
  // with the new key; each to 2 then 3.
  ASSERT_EQ(sent.size(), 12u);
  EXPECT_EQ(sent[0], (Sent{2, Estimate{1, {0, 0}}}));
  EXPECT_EQ(sent[5], (Sent{3, Estimate{1, {0, 0}}}));
  EXPECT_EQ(sent[6], (Sent{2, Propose{1, {0, 0}, {}}}));
  EXPECT_EQ(sent[8], (Sent{2, Decide{1, {0, 0}, log_of({{0, 1}})}}));
  EXPECT_EQ(sent[11], (Sent{3, Estimate{1, {1, 0}}}));
  EXPECT_EQ(node.take_events(), (std::vector<Event>{Suspected{2}, Suspected{3}, Decided{{0, 1}, true},
                                                   PrimaryChanged{kNoNode, 1}}));
  EXPECT_TRUE(node.take_outbox().empty());
  EXPECT_TRUE(node.take_events().empty());
}

TEST(Node, Rule_Determinism_IdenticalInputsGiveIdenticalOutputs) {
  Node a(config(2, 3));
  Node b(config(2, 3));
  auto script = [](Node& n, int t) {
    if (t % 3 == 0) n.step(1, Estimate{1, {static_cast<std::uint64_t>(t / 9), 0}});
    if (t == 20) n.step(1, Propose{1, n.key(), {}});
    if (t == 25) n.step(1, Decide{1, n.key(), log_of({{n.key().epoch, 1}})});
    n.tick();
  };
  for (int t = 0; t < 80; ++t) {
    script(a, t);
    script(b, t);
    ASSERT_EQ(drain(a), drain(b)) << "tick " << t;
    ASSERT_EQ(a.take_events(), b.take_events()) << "tick " << t;
    ASSERT_EQ(a.state(), b.state()) << "tick " << t;
  }
  EXPECT_EQ(a.primary(), 1u);  // the script did reach a decision
}

TEST(Node, Rule_SanitizeArbitraryState_CheckStateIsClean) {
  std::mt19937_64 rng(20240601);
  const std::uint64_t edges[] = {0, 1, 2, 7, kEpochLimit - 1, kEpochLimit, ~std::uint64_t{0}};
  auto any = [&] { return rng() % 2 ? edges[rng() % 7] : rng(); };
  for (int trial = 0; trial < 300; ++trial) {
    Node node(config(static_cast<NodeId>(trial % 4 + 1), 4));
    NodeState s;
    s.instance.value = any();
    s.instance.key = Key{any(), any()};
    s.instance.phase = rng() % 2 ? Phase::proposed : Phase::idle;
    s.instance.ticks_in_key = static_cast<std::uint32_t>(rng());
    s.instance.wrap_guard_ticks = static_cast<std::uint32_t>(rng());
    for (std::uint64_t i = rng() % 40; i > 0; --i) s.instance.log.recent.push_back(Decision{any(), any()});
    s.instance.peers.resize(rng() % 9, PeerView{Key{any(), any()}, any(), true, true});
    s.detector.resize(rng() % 9, PeerLiveness{static_cast<std::uint32_t>(rng()),
                                              static_cast<std::uint32_t>(rng()), rng() % 2 == 0});
    s.reported_primary = static_cast<NodeId>(rng());
    node.load(s);
    ASSERT_EQ(violations(node), std::vector<std::string>{}) << "trial " << trial << " after load";
    Key before = node.key();
    std::uint64_t wraps = node.instance().wraps();
    node.tick();
    std::vector<std::string> out = violations(node);
    invariants::check_transition(before, wraps, node, out);
    ASSERT_EQ(out, std::vector<std::string>{}) << "trial " << trial << " after tick";
  }
}

// Regression: the detector accepts a config whose cap is below the initial
// timeout (it raises the cap), and check_state once compared the timeouts with
// the raw config, reporting the normalised ones as violations.
TEST(Node, Rule_SanitizeArbitraryState_CheckStateUsesEffectiveDetectorBounds) {
  NodeConfig c = config(1, 3);
  c.detector = DetectorConfig{10, 5, 4};
  Node node(c);
  node.tick();
  EXPECT_EQ(violations(node), std::vector<std::string>{});
}

TEST(Node, Rule_ElectPrimary_ThreeNodesElectOneThenTwoWhenOneIsCutOff) {
  Cluster cluster(3);
  cluster.run(20);
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_EQ(cluster.primary(id), 1u) << "node " << id;
    EXPECT_EQ(count_changes(cluster.take_events(id), PrimaryChanged{kNoNode, 1}), 1) << "node " << id;
  }
  cluster.isolated = {1};
  // Suspicion after 7 silent ticks, one round advance, epoch_min_ticks 4.
  cluster.run(25);
  for (NodeId id = 2; id <= 3; ++id) {
    EXPECT_EQ(cluster.primary(id), 2u) << "node " << id;
    EXPECT_EQ(count_changes(cluster.take_events(id), PrimaryChanged{1, 2}), 1) << "node " << id;
    EXPECT_FALSE(cluster.nodes[id - 1].detector().suspects(id == 2 ? 3 : 2));
  }
  EXPECT_EQ(cluster.primary(1), 1u);  // alone, node 1 keeps itself: a tolerated second primary
  cluster.isolated.clear();
  cluster.run(60);
  NodeId agreed = cluster.primary(1);
  EXPECT_NE(agreed, kNoNode);
  for (NodeId id = 2; id <= 3; ++id) EXPECT_EQ(cluster.primary(id), agreed) << "node " << id;
}

TEST(Node, LikelySuccessor_GuessesTheNodeTheClusterDecidesNext) {
  Cluster cluster(4);
  cluster.run(20);
  ASSERT_EQ(cluster.primary(2), 1u);
  cluster.isolated = {1, 2};  // the primary and the next coordinator at once
  cluster.run(7);
  for (NodeId id = 3; id <= 4; ++id) {
    ASSERT_TRUE(cluster.nodes[id - 1].detector().suspects(1)) << "node " << id;
    EXPECT_EQ(cluster.nodes[id - 1].likely_successor(), 3u) << "node " << id << ": 1 and 2 suspected, 3 next";
    EXPECT_EQ(cluster.primary(id), 1u) << "node " << id << ": a guess, before any decision";
  }
  cluster.run(40);
  EXPECT_EQ(cluster.primary(3), 3u);
  EXPECT_EQ(cluster.primary(4), 3u);
  // With everyone trusted the current round's coordinator is the guess.
  Node alone(config(2, 3));
  EXPECT_EQ(alone.likely_successor(), coordinator_of(alone.key().round, 3));
}

}  // namespace vmrep::consensus

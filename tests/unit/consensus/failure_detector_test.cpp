// Rules of the ◇S heartbeat failure detector (consensus/failure_detector.hpp).
#include "consensus/failure_detector.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace vmrep::consensus {
namespace {

// suspect_after 6, cap 40, backoff 4: the defaults, spelled out so the
// expected numbers below do not silently change with them.
DetectorConfig config() { return DetectorConfig{6, 40, 4}; }

std::vector<Event> tick(FailureDetector& fd, int times) {
  std::vector<Event> events;
  for (int i = 0; i < times; ++i) fd.tick(events);
  return events;
}

std::vector<Event> hear(FailureDetector& fd, NodeId peer) {
  std::vector<Event> events;
  fd.heard_from(peer, events);
  return events;
}

int count_suspicions(const std::vector<Event>& events) {
  int n = 0;
  for (const Event& e : events) n += std::holds_alternative<Suspected>(e) ? 1 : 0;
  return n;
}

}  // namespace

// Peers heard once (so past the start-up grace) at tick 0.
void heard_all(FailureDetector& fd, NodeId n) {
  for (NodeId id = 1; id <= n; ++id) hear(fd, id);
}

TEST(FailureDetector, Rule_StartupGrace_NeverHeardPeersGetTheLargestTimeout) {
  FailureDetector fd(1, 3, config());
  hear(fd, 2);
  EXPECT_EQ(tick(fd, 7), (std::vector<Event>{Suspected{2}}));  // heard: its own timeout
  EXPECT_TRUE(tick(fd, 33).empty());                            // 3 not heard yet: grace up to 40
  EXPECT_FALSE(fd.suspects(3));
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{3}}));   // completeness, a little later
  EXPECT_TRUE(fd.peers()[1].heard);
  EXPECT_FALSE(fd.peers()[2].heard);
}

TEST(FailureDetector, Rule_SuspectAfterTimeout_SilentPeersSuspectedOneTickPastTimeout) {
  FailureDetector fd(1, 3, config());
  heard_all(fd, 3);
  EXPECT_TRUE(tick(fd, 6).empty());
  EXPECT_FALSE(fd.suspects(2));
  EXPECT_FALSE(fd.suspects(3));
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{2}, Suspected{3}}));
  EXPECT_TRUE(fd.suspects(2));
  EXPECT_TRUE(fd.suspects(3));
}

TEST(FailureDetector, Rule_SuspectAfterTimeout_HeartbeatResetsSilence) {
  FailureDetector fd(1, 3, config());
  heard_all(fd, 3);
  tick(fd, 5);
  EXPECT_TRUE(hear(fd, 2).empty());  // not suspected: no Trusted event
  // Peer 3 passes its timeout at tick 7; peer 2 was heard at tick 5, so not
  // before tick 12.
  EXPECT_EQ(tick(fd, 2), (std::vector<Event>{Suspected{3}}));
  EXPECT_TRUE(tick(fd, 4).empty());
  EXPECT_FALSE(fd.suspects(2));
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{2}}));
}

TEST(FailureDetector, Rule_TrustOnHeartbeat_FalseSuspicionRaisesTimeoutByBackoff) {
  FailureDetector fd(1, 2, config());
  heard_all(fd, 2);
  tick(fd, 7);
  ASSERT_TRUE(fd.suspects(2));
  EXPECT_EQ(hear(fd, 2), (std::vector<Event>{Trusted{2, 10}}));
  EXPECT_FALSE(fd.suspects(2));
  EXPECT_EQ(fd.peers()[1], (PeerLiveness{0, 10, false, true}));
  // The new timeout holds: 10 silent ticks are tolerated, the 11th is not.
  EXPECT_TRUE(tick(fd, 10).empty());
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{2}}));
  EXPECT_EQ(hear(fd, 2), (std::vector<Event>{Trusted{2, 14}}));
  // Hearing a trusted peer again does not grow its timeout.
  EXPECT_TRUE(hear(fd, 2).empty());
  EXPECT_EQ(fd.peers()[1].timeout_ticks, 14u);
}

TEST(FailureDetector, Rule_TrustOnHeartbeat_SlowPeerIsEventuallyNeverSuspected) {
  // A correct peer heard every 20 ticks: timeouts 6, 10, 14, 18 are each
  // passed once, then 22 > 20 and the suspicions stop for good.
  FailureDetector fd(1, 2, config());
  std::vector<Event> early;
  std::vector<Event> late;
  for (int t = 1; t <= 400; ++t) {
    std::vector<Event>& sink = t <= 100 ? early : late;
    fd.tick(sink);
    if (t % 20 == 0) fd.heard_from(2, sink);
  }
  EXPECT_EQ(count_suspicions(early), 4);
  EXPECT_TRUE(late.empty());
  EXPECT_EQ(fd.peers()[1].timeout_ticks, 22u);
}

TEST(FailureDetector, Rule_TimeoutCapped_GrowthStopsAtMaximum) {
  FailureDetector fd(1, 2, config());
  std::uint32_t last = 0;
  for (int round = 0; round < 20; ++round) {
    tick(fd, 41);
    ASSERT_TRUE(fd.suspects(2)) << "round " << round;
    std::vector<Event> ev = hear(fd, 2);
    ASSERT_EQ(ev.size(), 1u);
    last = std::get<Trusted>(ev[0]).timeout_ticks;
    EXPECT_LE(last, 40u);
  }
  EXPECT_EQ(last, 40u);
  EXPECT_EQ(fd.detection_bound_ticks(), 41u);
  // At the cap, a crash is still detected within the bound.
  EXPECT_TRUE(tick(fd, 40).empty());
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{2}}));
}

TEST(FailureDetector, Rule_StrongCompleteness_SilentPeerStaysSuspectedForever) {
  FailureDetector fd(2, 3, config());
  std::vector<Event> events = tick(fd, 10000);
  EXPECT_EQ(events, (std::vector<Event>{Suspected{1}, Suspected{3}}));
  EXPECT_TRUE(fd.suspects(1));
  EXPECT_TRUE(fd.suspects(3));
  // Silence saturates one past the cap: the state stays bounded.
  EXPECT_EQ(fd.peers()[0], (PeerLiveness{41, 6, true}));
  EXPECT_EQ(fd.peers()[2], (PeerLiveness{41, 6, true}));
}

TEST(FailureDetector, Rule_SanitizeArbitraryState_LoadClampsEveryField) {
  FailureDetector fd(2, 3, config());
  fd.load({PeerLiveness{4'000'000'000u, 0, false},
           PeerLiveness{99, 99, true},  // own entry
           PeerLiveness{3, 4'000'000'000u, true},
           PeerLiveness{1, 1, true}});  // beyond n: dropped
  ASSERT_EQ(fd.peers().size(), 3u);
  EXPECT_EQ(fd.peers()[0], (PeerLiveness{41, 6, false}));
  EXPECT_EQ(fd.peers()[1], (PeerLiveness{0, 6, false}));
  EXPECT_EQ(fd.peers()[2], (PeerLiveness{3, 40, true}));
  // Valid from the next tick: peer 1's silence is past its timeout.
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{1}}));
}

TEST(FailureDetector, Rule_SanitizeArbitraryState_ShortVectorIsPaddedWithFreshPeers) {
  FailureDetector fd(1, 3, config());
  fd.load({});
  ASSERT_EQ(fd.peers().size(), 3u);
  for (const PeerLiveness& p : fd.peers()) EXPECT_EQ(p, (PeerLiveness{0, 6, false}));
}

TEST(FailureDetector, Rule_SanitizeArbitraryState_ConfigTimeoutsAreOrdered) {
  // suspect_after 0 becomes 1; a cap below the initial timeout is raised to it.
  FailureDetector fd(1, 2, DetectorConfig{0, 0, 4});
  EXPECT_EQ(fd.peers()[1].timeout_ticks, 1u);
  EXPECT_EQ(fd.detection_bound_ticks(), 2u);
  EXPECT_TRUE(tick(fd, 1).empty());
  EXPECT_EQ(tick(fd, 1), (std::vector<Event>{Suspected{2}}));
  EXPECT_EQ(hear(fd, 2), (std::vector<Event>{Trusted{2, 1}}));
}

TEST(FailureDetector, Rule_NeverSuspectSelf_OwnIdAndStrangersAreNotSuspected) {
  FailureDetector fd(2, 3, config());
  tick(fd, 100);
  EXPECT_FALSE(fd.suspects(2));
  EXPECT_FALSE(fd.suspects(kNoNode));
  EXPECT_FALSE(fd.suspects(4));
  EXPECT_TRUE(hear(fd, 2).empty());
  EXPECT_TRUE(hear(fd, kNoNode).empty());
  EXPECT_TRUE(hear(fd, 4).empty());
  // Hearing from oneself or a stranger does not clear anyone's suspicion.
  EXPECT_TRUE(fd.suspects(1));
  EXPECT_TRUE(fd.suspects(3));
  EXPECT_EQ(fd.peers()[1], (PeerLiveness{0, 6, false}));
}

}  // namespace vmrep::consensus

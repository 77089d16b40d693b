// A promotion's phases, by rule, with the source rule where a rule spans
// both (what is tried after a failed pull). Node 1 promotes; peers 2 and 3.
#include "replication/promotion.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

using Next = Promotion::Next;

const ServiceTiming timing = service_timing(100, 2, 1000);  // query 6 ticks, pull 600, hand-over 200

std::vector<PeerHeard> heard(std::uint64_t t2, std::uint64_t t3, bool s2 = false, bool s3 = false) {
  return {{2, s2, t2}, {3, s3, t3}};
}

Survivors two_holders() {
  Survivors s;
  s.self = 1;
  s.own_newest = Version{3, 4};
  s.peers = {{2, false, Version{3, 6}, std::nullopt, {Version{3, 6}}}, {3, false, Version{3, 6}, std::nullopt, {Version{3, 6}}}};
  return s;
}

// Runs the source rule for `p` over `s` and moves `p` as the agent does.
void choose(Promotion& p, Survivors s, std::uint64_t now) {
  s.pulls_tried = p.pulls_tried();
  s.handovers_tried = p.handovers_tried();
  const SourceChoice c = choose_source(s);
  if (const auto* h = std::get_if<HandOver>(&c)) return p.handing_over(*h, now, timing);
  const Fetch f = std::get<Fetch>(c);
  p.deciding(f);
  const PromotionDecision d = decide_promotion(f, VmHere::absent, Mode::availability);
  if (const auto* pull = std::get_if<Pull>(&d.step)) return p.pulling(*pull, now, timing);
  p.restoring(f.target);
}

TEST(Promotion, Rule_QueryEndsWhenEveryTrustedPeerAnswered) {
  const Promotion p(100, std::nullopt);
  EXPECT_EQ(p.tick(101, heard(50, 50), timing), Next::wait);
  EXPECT_EQ(p.tick(101, heard(101, 50), timing), Next::wait);
  EXPECT_EQ(p.tick(101, heard(101, 101), timing), Next::choose);
}

TEST(Promotion, Rule_SuspectedPeerIsNotWaitedFor) {
  const Promotion p(100, std::nullopt);
  EXPECT_EQ(p.tick(101, heard(101, 50, false, /*s3=*/true), timing), Next::choose);
}

TEST(Promotion, Rule_QueryEndsAfterTheWaitWithoutAnAnswer) {
  const Promotion p(100, std::nullopt);
  EXPECT_EQ(p.tick(105, heard(50, 50), timing), Next::wait);
  EXPECT_EQ(p.tick(106, heard(50, 50), timing), Next::choose);
}

TEST(Promotion, Rule_PullTimedOutTriesTheNextHolder) {
  Promotion p(100, std::nullopt);
  choose(p, two_holders(), 106);
  ASSERT_EQ(p.pull_from(), 2u);
  EXPECT_EQ(p.tick(705, heard(700, 700), timing), Next::wait);
  ASSERT_EQ(p.tick(706, heard(700, 700), timing), Next::pull_failed);
  p.pull_failed();
  EXPECT_EQ(p.pulls_tried(), (std::set<NodeId>{2}));
  EXPECT_EQ(p.tick(706, heard(700, 700), timing), Next::choose);
  choose(p, two_holders(), 706);
  EXPECT_EQ(p.pull_from(), 3u);
  EXPECT_EQ(p.target(), (Version{3, 6}));
}

TEST(Promotion, Rule_SuspectedPullSourceTriesTheNextHolderAtOnce) {
  Promotion p(100, std::nullopt);
  choose(p, two_holders(), 106);
  EXPECT_EQ(p.tick(107, heard(100, 100, /*s2=*/true), timing), Next::pull_failed);
}

TEST(Promotion, Rule_PullRefusedTriesTheNextHolder) {
  Promotion p(100, std::nullopt);
  choose(p, two_holders(), 106);
  EXPECT_FALSE(p.refused(3, Version{3, 6}));  // not the host we asked
  EXPECT_FALSE(p.refused(2, Version{3, 5}));  // not the version we asked for
  EXPECT_EQ(p.pull_from(), 2u);
  EXPECT_TRUE(p.refused(2, Version{3, 6}));
  choose(p, two_holders(), 107);
  EXPECT_EQ(p.pull_from(), 3u);
}

TEST(Promotion, Rule_OnlyTheAskedPushEndsThePull) {
  Promotion p(100, std::nullopt);
  choose(p, two_holders(), 106);
  EXPECT_FALSE(p.pushed(3, Version{3, 6}));
  EXPECT_FALSE(p.pushed(2, Version{3, 5}));
  EXPECT_TRUE(p.pushed(2, Version{3, 6}));
  EXPECT_TRUE(std::holds_alternative<Promotion::Restoring>(p.phase()));
  EXPECT_EQ(p.target(), (Version{3, 6}));
  EXPECT_EQ(p.tick(10'000, heard(0, 0, true, true), timing), Next::wait);  // no deadline once restoring
}

TEST(Promotion, Rule_HandOverNotDecidedInTimeChoosesAgainWithoutThatHolder) {
  Promotion p(100, std::nullopt);
  Survivors s = two_holders();
  s.peers[1].newest = Version{3, 5};
  s.peers[1].versions = {Version{3, 5}};
  choose(p, s, 106);              // pull from 2
  ASSERT_TRUE(p.refused(2, Version{3, 6}));
  choose(p, s, 107);              // 2 holds the newest and cannot send: hand over
  ASSERT_EQ(p.handing_to(), 2u);
  EXPECT_EQ(p.tick(306, heard(300, 300), timing), Next::wait);
  ASSERT_EQ(p.tick(307, heard(300, 300), timing), Next::handover_expired);
  p.handover_expired();
  choose(p, s, 307);              // 3's older version, fetched
  EXPECT_EQ(p.pull_from(), 3u);
  EXPECT_EQ(p.target(), (Version{3, 5}));
}

TEST(Promotion, Rule_SuspectedHandOverTargetChoosesAgainAtOnce) {
  Promotion p(100, std::nullopt);
  p.handing_over(HandOver{2, Version{3, 6}}, 106, timing);
  EXPECT_EQ(p.tick(107, heard(100, 100, /*s2=*/true), timing), Next::handover_expired);
}

TEST(Promotion, Rule_OldPrimaryIsKeptForTheFence) {
  const Promotion p(100, NodeId{3});
  EXPECT_EQ(p.old_primary(), NodeId{3});
  EXPECT_EQ(p.started_tick(), 100u);
}

}  // namespace
}  // namespace vmrep::replication

// The failover's source rule, by rule. Node 1 promotes in every test; its
// peers are 2 and 3.
#include "replication/source_choice.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

Version v(std::uint64_t term, std::uint64_t seq) { return Version{term, seq}; }

PeerHolding peer(NodeId id, std::optional<Version> newest, bool suspected = false) {
  PeerHolding p;
  p.id = id;
  p.suspected = suspected;
  p.newest = newest;
  if (newest) p.versions = {*newest};
  return p;
}

Survivors survivors(std::optional<Version> own, std::vector<PeerHolding> peers) {
  Survivors s;
  s.self = 1;
  s.own_newest = own;
  if (own) s.own_versions = {*own};
  s.peers = std::move(peers);
  return s;
}

Fetch fetch_of(const SourceChoice& c) {
  EXPECT_TRUE(std::holds_alternative<Fetch>(c));
  return std::holds_alternative<Fetch>(c) ? std::get<Fetch>(c) : Fetch{};
}

TEST(SourceChoice, Rule_NewestAmongTrustedSurvivorsIsFetched) {
  const Fetch f = fetch_of(choose_source(survivors(v(3, 4), {peer(2, v(3, 6)), peer(3, v(3, 5))})));
  EXPECT_EQ(f.target, v(3, 6));
  EXPECT_EQ(f.from, 2u);
  EXPECT_FALSE(f.loss);
}

TEST(SourceChoice, Rule_OwnVersionWinsATie) {
  const Fetch f = fetch_of(choose_source(survivors(v(3, 6), {peer(2, v(3, 6)), peer(3, v(3, 6))})));
  EXPECT_EQ(f.target, v(3, 6));
  EXPECT_EQ(f.from, kNoNode);
}

TEST(SourceChoice, Rule_TieBetweenPeersGoesToTheLowestIdWhateverTheOrder) {
  const Fetch f = fetch_of(choose_source(survivors(v(3, 1), {peer(3, v(3, 6)), peer(2, v(3, 6))})));
  EXPECT_EQ(f.from, 2u);
}

TEST(SourceChoice, Rule_SuspectedHolderIsNotAskedAndItsCommittedVersionIsLost) {
  PeerHolding dead = peer(2, v(3, 9), /*suspected=*/true);
  dead.committed = v(3, 9);
  const Fetch f = fetch_of(choose_source(survivors(v(3, 4), {dead, peer(3, v(3, 5))})));
  EXPECT_EQ(f.target, v(3, 5));
  EXPECT_EQ(f.from, 3u);
  ASSERT_TRUE(f.loss);
  EXPECT_EQ(f.loss->committed, v(3, 9));
  EXPECT_EQ(f.loss->newest_reachable, v(3, 5));
  EXPECT_EQ(f.loss->holders, (std::vector<Holder>{{2, false}}));
}

TEST(SourceChoice, Rule_PullRefusedTriesTheNextHolder) {
  Survivors s = survivors(v(3, 4), {peer(2, v(3, 6)), peer(3, v(3, 6))});
  EXPECT_EQ(fetch_of(choose_source(s)).from, 2u);
  // 2 refused, but 3 holds the same version: no hand-over, pull from 3.
  s.pulls_tried = {2};
  const SourceChoice c = choose_source(s);
  const Fetch f = fetch_of(c);
  EXPECT_EQ(f.from, 3u);
  EXPECT_EQ(f.target, v(3, 6));
}

TEST(SourceChoice, Rule_NewerVersionOnALiveHolderThatCannotSendIsHandedOver) {
  Survivors s = survivors(v(3, 4), {peer(2, v(3, 6)), peer(3, v(3, 5))});
  s.pulls_tried = {2};
  const SourceChoice c = choose_source(s);
  ASSERT_TRUE(std::holds_alternative<HandOver>(c));
  EXPECT_EQ(std::get<HandOver>(c), (HandOver{2, v(3, 6)}));
}

TEST(SourceChoice, Rule_HandOverNotRetriedToAHolderThatWasNotDecided) {
  Survivors s = survivors(v(3, 4), {peer(2, v(3, 6)), peer(3, v(3, 5))});
  s.pulls_tried = {2};
  s.handovers_tried = {2};
  const Fetch f = fetch_of(choose_source(s));
  EXPECT_EQ(f.from, 3u);
  EXPECT_EQ(f.target, v(3, 5));
}

TEST(SourceChoice, Rule_NoHandOverToASuspectedHolder) {
  Survivors s = survivors(v(3, 4), {peer(2, v(3, 6), /*suspected=*/true)});
  s.pulls_tried = {2};
  const Fetch f = fetch_of(choose_source(s));
  EXPECT_EQ(f.from, kNoNode);
  EXPECT_EQ(f.target, v(3, 4));
}

TEST(SourceChoice, Rule_PreparedRestoreIsUsedOnlyForTheChosenLocalVersion) {
  Survivors s = survivors(v(3, 4), {peer(2, v(3, 3))});
  s.prepared = v(3, 4);
  Fetch f = fetch_of(choose_source(s));
  EXPECT_TRUE(f.use_prepared);
  EXPECT_FALSE(f.drop_prepared);
  s.peers = {peer(2, v(3, 5))};  // a newer one elsewhere: the prepared restore goes
  f = fetch_of(choose_source(s));
  EXPECT_FALSE(f.use_prepared);
  EXPECT_TRUE(f.drop_prepared);
  EXPECT_EQ(f.from, 2u);
}

TEST(SourceChoice, Rule_CommittedVersionHeldHereIsNoLoss) {
  Survivors s = survivors(v(3, 7), {peer(2, std::nullopt)});
  s.own_committed = v(3, 7);
  EXPECT_FALSE(fetch_of(choose_source(s)).loss);
}

Fetch lost_fetch() {
  PeerHolding dead = peer(2, v(4, 2), /*suspected=*/true);
  dead.committed = v(4, 2);
  return fetch_of(choose_source(survivors(v(4, 1), {dead})));
}

TEST(Promotion, Rule_CommittedVersionUnreachableAvailabilityServesAndRecords) {
  const Fetch f = lost_fetch();
  const PromotionDecision d = decide_promotion(f, VmHere::absent, Mode::availability);
  ASSERT_TRUE(std::holds_alternative<RestoreHere>(d.step));
  EXPECT_EQ(std::get<RestoreHere>(d.step).version, v(4, 1));
  ASSERT_TRUE(d.record_loss);
  EXPECT_EQ(d.record_loss->committed, v(4, 2));
}

TEST(Promotion, Rule_CommittedVersionUnreachableQuorumRefuses) {
  const PromotionDecision d = decide_promotion(lost_fetch(), VmHere::absent, Mode::quorum);
  ASSERT_TRUE(std::holds_alternative<FailPromotion>(d.step));
  EXPECT_EQ(std::get<FailPromotion>(d.step).kind, FailKind::committed_unreachable);
  EXPECT_TRUE(std::get<FailPromotion>(d.step).loss);
  EXPECT_FALSE(d.record_loss);
}

TEST(Promotion, Rule_RunningVmServesWithoutRestoreOrLoss) {
  const PromotionDecision d = decide_promotion(lost_fetch(), VmHere::running, Mode::quorum);
  EXPECT_TRUE(std::holds_alternative<ServeRunning>(d.step));
  EXPECT_FALSE(d.record_loss);
}

TEST(Promotion, Rule_PullFromTheHolderWhenTheVersionIsElsewhere) {
  Fetch f;
  f.target = v(2, 9);
  f.from = 3;
  const PromotionDecision d = decide_promotion(f, VmHere::startable, Mode::quorum);
  ASSERT_TRUE(std::holds_alternative<Pull>(d.step));
  EXPECT_EQ(std::get<Pull>(d.step).from, 3u);
  EXPECT_EQ(std::get<Pull>(d.step).version, v(2, 9));
}

TEST(Promotion, Rule_NoCheckpointAnywhereStartsTheDefinedDomainOrFails) {
  const Fetch none;
  EXPECT_TRUE(std::holds_alternative<StartDefined>(decide_promotion(none, VmHere::startable, Mode::quorum).step));
  const PromotionDecision d = decide_promotion(none, VmHere::absent, Mode::availability);
  ASSERT_TRUE(std::holds_alternative<FailPromotion>(d.step));
  EXPECT_EQ(std::get<FailPromotion>(d.step).kind, FailKind::nothing_to_serve);
}

TEST(Promotion, Rule_PreparedRestoreIsResumed) {
  Fetch f;
  f.target = v(2, 9);
  f.use_prepared = true;
  EXPECT_TRUE(std::holds_alternative<ResumePrepared>(decide_promotion(f, VmHere::prepared, Mode::quorum).step));
}

}  // namespace
}  // namespace vmrep::replication

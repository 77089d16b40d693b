// When a service changes role with the election, by rule. Three nodes.
#include "replication/role_rules.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

RoleView view(ServiceState state, ElectionRole role, Mode mode = Mode::availability) {
  RoleView v;
  v.state = state;
  v.role = role;
  v.mode = mode;
  v.now_tick = 100;
  v.suspect_after_ticks = 20;
  v.cluster_size = 3;
  v.peers_trusted = 2;
  return v;
}

TEST(RoleRules, Rule_DecidedPrimaryPromotes) {
  EXPECT_EQ(next_role_step(view(ServiceState::backup, ElectionRole::primary)), RoleStep::promote);
  EXPECT_EQ(next_role_step(view(ServiceState::backup, ElectionRole::electing)), RoleStep::stay);
  EXPECT_EQ(next_role_step(view(ServiceState::backup, ElectionRole::backup)), RoleStep::stay);
}

TEST(RoleRules, Rule_NoPromotionWhileAVmJobRuns) {
  RoleView v = view(ServiceState::backup, ElectionRole::primary);
  v.vm_busy = true;
  EXPECT_EQ(next_role_step(v), RoleStep::stay);
}

TEST(RoleRules, Rule_StartupWaitsForEveryPeerOrTheSuspicionTimeout) {
  RoleView v = view(ServiceState::backup, ElectionRole::primary);
  v.now_tick = 5;
  v.peers_unheard = 1;
  EXPECT_EQ(next_role_step(v), RoleStep::stay);  // a fresh daemon would take itself for the initial primary
  v.peers_unheard = 0;
  EXPECT_EQ(next_role_step(v), RoleStep::promote);  // everyone spoke
  v.peers_unheard = 2;
  v.now_tick = 20;
  EXPECT_EQ(next_role_step(v), RoleStep::promote);  // a suspicion timeout of silence
}

TEST(RoleRules, Rule_QuorumModePromotesOnlyWithAMajorityInSight) {
  RoleView v = view(ServiceState::backup, ElectionRole::primary, Mode::quorum);
  v.peers_trusted = 1;  // 2 of 3
  EXPECT_EQ(next_role_step(v), RoleStep::promote);
  v.peers_trusted = 0;  // 1 of 3
  EXPECT_EQ(next_role_step(v), RoleStep::stay);
  v.mode = Mode::availability;
  EXPECT_EQ(next_role_step(v), RoleStep::promote);
  v.cluster_size = 4;  // 2 of 4 is no majority
  v.peers_trusted = 1;
  EXPECT_FALSE(majority_in_sight(v));
}

TEST(RoleRules, Rule_FailedRetriesOnlyAfterTheBackoff) {
  RoleView v = view(ServiceState::failed, ElectionRole::primary);
  v.retry_at_tick = 101;
  EXPECT_EQ(next_role_step(v), RoleStep::stay);
  v.now_tick = 101;
  EXPECT_EQ(next_role_step(v), RoleStep::promote);
}

TEST(RoleRules, Rule_FailedFollowsAnotherDecidedPrimary) {
  RoleView v = view(ServiceState::failed, ElectionRole::backup);
  v.retry_at_tick = 10'000;
  EXPECT_EQ(next_role_step(v), RoleStep::follow);
}

TEST(RoleRules, Rule_UndecidedElectionKeepsTheServiceRunning) {
  for (ServiceState s : {ServiceState::serving, ServiceState::restoring})
    EXPECT_EQ(next_role_step(view(s, ElectionRole::electing)), RoleStep::stay);
}

TEST(RoleRules, Rule_DecidedOtherPrimaryStepsDown) {
  for (ServiceState s : {ServiceState::serving, ServiceState::restoring})
    EXPECT_EQ(next_role_step(view(s, ElectionRole::backup)), RoleStep::step_down_for_primary);
}

TEST(RoleRules, Rule_QuorumModeStepsDownWithoutAMajority) {
  RoleView v = view(ServiceState::serving, ElectionRole::primary, Mode::quorum);
  v.peers_trusted = 0;
  EXPECT_EQ(next_role_step(v), RoleStep::step_down_no_majority);
  v.mode = Mode::availability;
  EXPECT_EQ(next_role_step(v), RoleStep::stay);  // availability keeps serving alone
}

TEST(RoleRules, Rule_StoppingWaitsForItsJob) {
  EXPECT_EQ(next_role_step(view(ServiceState::stopping, ElectionRole::primary)), RoleStep::stay);
}

}  // namespace
}  // namespace vmrep::replication

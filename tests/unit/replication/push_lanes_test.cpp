#include "replication/push_lanes.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

const std::vector<NodeId> kBackups{2, 3};

TEST(PushLanes, Rule_CheckpointGoesToEveryIdleUnsuspectedBackup) {
  PushLanes lanes;
  EXPECT_EQ(lanes.checkpointed(Version{3, 1}, kBackups, {}),
            (std::vector<StartPush>{{2, Version{3, 1}, false}, {3, Version{3, 1}, false}}));
  EXPECT_TRUE(lanes.busy(2));
  EXPECT_EQ(lanes.in_flight(3), (Version{3, 1}));
  PushLanes fresh;
  EXPECT_EQ(fresh.checkpointed(Version{3, 1}, kBackups, {3}), (std::vector<StartPush>{{2, Version{3, 1}, false}}));
}

TEST(PushLanes, Rule_SlowBackupIsSkippedNotWaitedFor) {
  PushLanes lanes;
  lanes.checkpointed(Version{3, 1}, kBackups, {});
  ASSERT_FALSE(lanes.done(2, Version{3, 1}, true).next);
  // 3 still pushes 3.1: 3.2 goes to 2 only, and is not queued for 3.
  EXPECT_EQ(lanes.checkpointed(Version{3, 2}, kBackups, {}), (std::vector<StartPush>{{2, Version{3, 2}, false}}));
  const PushOutcome three = lanes.done(3, Version{3, 1}, true);
  EXPECT_FALSE(three.next);
  EXPECT_FALSE(lanes.busy(3));
}

TEST(PushLanes, Rule_PullWhileBusyIsQueuedAndAnswered) {
  PushLanes lanes;
  EXPECT_EQ(lanes.pulled(2, Version{3, 4}), (StartPush{2, Version{3, 4}, true}));  // idle: at once
  ASSERT_FALSE(lanes.done(2, Version{3, 4}, true).next);
  lanes.checkpointed(Version{3, 5}, kBackups, {});
  EXPECT_FALSE(lanes.pulled(2, Version{3, 4}));  // busy with 3.5: queued
  const PushOutcome out = lanes.done(2, Version{3, 5}, true);
  EXPECT_EQ(out.next, (StartPush{2, Version{3, 4}, true}));
  EXPECT_FALSE(out.refuse_pull);
}

TEST(PushLanes, Rule_FailedPullPushRefusesThePull) {
  PushLanes lanes;
  lanes.pulled(2, Version{3, 4});
  const PushOutcome out = lanes.done(2, Version{3, 4}, false);
  EXPECT_EQ(out.refuse_pull, (Version{3, 4}));
  // A failed ordinary push refuses nothing.
  lanes.checkpointed(Version{3, 5}, kBackups, {});
  EXPECT_FALSE(lanes.done(2, Version{3, 5}, false).refuse_pull);
}

TEST(PushLanes, Rule_QueuedVersionJustPushedIsNotPushedTwiceUnlessItFailed) {
  PushLanes lanes;
  lanes.checkpointed(Version{3, 5}, kBackups, {});
  lanes.queue(2, Version{3, 5});  // a switchover's final version, already in flight
  EXPECT_FALSE(lanes.done(2, Version{3, 5}, true).next);
  lanes.checkpointed(Version{3, 6}, kBackups, {});
  lanes.queue(2, Version{3, 6});
  EXPECT_EQ(lanes.done(2, Version{3, 6}, false).next, (StartPush{2, Version{3, 6}, false}));  // failed: again
}

TEST(PushLanes, Rule_QueueForAnIdleBackupIsLeftToTheCheckpoint) {
  PushLanes lanes;
  lanes.queue(2, Version{3, 6});
  EXPECT_FALSE(lanes.busy(2));
  EXPECT_EQ(lanes.checkpointed(Version{3, 7}, {2}, {}), (std::vector<StartPush>{{2, Version{3, 7}, false}}));
  EXPECT_FALSE(lanes.done(2, Version{3, 7}, true).next);  // nothing was queued
}

TEST(PushLanes, Rule_RefusalSwitchesToListingUntilAnAck) {
  PushLanes lanes;
  EXPECT_EQ(lanes.planning(2), PushPlanning::from_holdings);
  lanes.refused(2);
  EXPECT_EQ(lanes.planning(2), PushPlanning::listing);
  lanes.acknowledged(2, Version{3, 9});
  EXPECT_EQ(lanes.planning(2), PushPlanning::from_holdings);
  EXPECT_EQ(lanes.last_acknowledged(2), (Version{3, 9}));
  EXPECT_EQ(lanes.last_acknowledged(3), std::nullopt);
}

}  // namespace
}  // namespace vmrep::replication

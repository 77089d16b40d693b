#include "replication/timing.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

TEST(Timing, Rule_RoundsUpAndNeverToZero) {
  EXPECT_EQ(ticks_for_ms(1000, 100), 10u);
  EXPECT_EQ(ticks_for_ms(1001, 100), 11u);
  EXPECT_EQ(ticks_for_ms(50, 100), 1u);
  EXPECT_EQ(ticks_for_ms(0, 100), 1u);
  EXPECT_EQ(ticks_for_ms(7, 0), 7u);  // a zero tick is taken as 1 ms, not a division by zero
}

TEST(Timing, Rule_EveryDurationConvertedByTheSameRule) {
  const ServiceTiming t = service_timing(300, 2, 2000);
  EXPECT_EQ(t.checkpoint_interval_ticks, 7u);  // 2000/300 = 6.67 rounds up
  EXPECT_EQ(t.inventory_every_ticks, 4u);      // 1000/300 = 3.33 rounds up (it used to round down to 3)
  EXPECT_EQ(t.pull_timeout_ticks, 200u);
  EXPECT_EQ(t.handover_timeout_ticks, 67u);
  EXPECT_EQ(t.failed_retry_ticks, 17u);
  EXPECT_EQ(t.housekeeping_every_ticks, 200u);
  EXPECT_EQ(t.switchover_phase_ticks, 200u);
  EXPECT_EQ(t.query_wait_ticks, 6u);  // three heartbeats
}

TEST(Timing, Rule_FailedPromotionIsRetriedWithBackoff) {
  const ServiceTiming t = service_timing(100, 2, 1000);  // 5 s = 50 ticks, at most 300 s = 3000 ticks
  EXPECT_EQ(retry_after_ticks(t, 1), 50u);
  EXPECT_EQ(retry_after_ticks(t, 2), 100u);
  EXPECT_EQ(retry_after_ticks(t, 3), 200u);
  EXPECT_EQ(retry_after_ticks(t, 6), 1600u);
  EXPECT_EQ(retry_after_ticks(t, 7), 3000u);
  EXPECT_EQ(retry_after_ticks(t, 4'000'000'000u), 3000u);  // no overflow, no endless loop
  EXPECT_EQ(retry_after_ticks(t, 0), 50u);
}

TEST(Timing, Rule_QueryWaitsAtLeastTwoTicks) {
  EXPECT_EQ(service_timing(100, 0, 1000).query_wait_ticks, 2u);
  EXPECT_EQ(service_timing(100, 1, 1000).query_wait_ticks, 3u);
}

}  // namespace
}  // namespace vmrep::replication

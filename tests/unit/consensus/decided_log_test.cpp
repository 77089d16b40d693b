// Rules of the bounded decided sequence s_i (consensus/decided_log.hpp).
#include "consensus/decided_log.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace vmrep::consensus {
namespace {

// A log holding exactly `entries` (epoch, value) pairs and no evictions.
DecidedLog log_of(std::vector<Decision> entries) {
  DecidedLog log;
  log.recent = std::move(entries);
  return log;
}

// Appends decisions for epochs first..last (value = epoch * 10) with `window`.
DecidedLog history(std::uint64_t first, std::uint64_t last, std::uint32_t window) {
  DecidedLog log;
  for (std::uint64_t e = first; e <= last; ++e) decided_log::append(log, Decision{e, e * 10}, window);
  return log;
}

}  // namespace

TEST(DecidedLog, Rule_AppendWithinWindow_KeepsEveryEntryInOrder) {
  DecidedLog log = history(0, 2, 3);
  EXPECT_EQ(log.recent, (std::vector<Decision>{{0, 0}, {1, 10}, {2, 20}}));
  EXPECT_EQ(log.evicted_count, 0u);
  EXPECT_EQ(log.evicted_digest, 0u);
}

TEST(DecidedLog, Rule_AppendBeyondWindow_EvictsOldestIntoDigestAndCount) {
  DecidedLog log = history(0, 4, 3);
  EXPECT_EQ(log.recent, (std::vector<Decision>{{2, 20}, {3, 30}, {4, 40}}));
  EXPECT_EQ(log.evicted_count, 2u);
  EXPECT_NE(log.evicted_digest, 0u);
}

TEST(DecidedLog, Rule_AppendBeyondWindow_MemoryStaysBoundedWithUptime) {
  DecidedLog log = history(0, 99'999, 16);
  EXPECT_EQ(log.recent.size(), 16u);
  EXPECT_EQ(log.recent.front(), (Decision{99'984, 999'840}));
  EXPECT_EQ(log.recent.back(), (Decision{99'999, 999'990}));
  EXPECT_EQ(log.evicted_count, 99'984u);
}

TEST(DecidedLog, Rule_DigestOfHistory_EqualHistoriesGiveEqualDigests) {
  EXPECT_EQ(history(0, 20, 4), history(0, 20, 4));
  // How the evictions were batched does not matter, only the history.
  DecidedLog batched = history(0, 20, 100);
  decided_log::truncate(batched, 4);
  EXPECT_EQ(batched, history(0, 20, 4));
}

TEST(DecidedLog, Rule_DigestOfHistory_DifferentHistoriesGiveDifferentDigests) {
  DecidedLog base = history(0, 5, 2);
  DecidedLog other_value;
  DecidedLog other_order;
  for (std::uint64_t e = 0; e <= 5; ++e) {
    decided_log::append(other_value, Decision{e, e == 1 ? 11 : e * 10}, 2);
  }
  for (std::uint64_t e : {1, 0, 2, 3, 4, 5}) decided_log::append(other_order, Decision{e, e * 10}, 2);
  EXPECT_EQ(other_value.recent, base.recent);
  EXPECT_EQ(other_value.evicted_count, base.evicted_count);
  EXPECT_NE(other_value.evicted_digest, base.evicted_digest);
  EXPECT_EQ(other_order.recent, base.recent);
  EXPECT_NE(other_order.evicted_digest, base.evicted_digest);
}

TEST(DecidedLog, Rule_Truncate_DropsOldestUntilWindowRemains) {
  DecidedLog log = history(1, 5, 10);
  decided_log::truncate(log, 10);
  EXPECT_EQ(log, history(1, 5, 10));  // within the window: unchanged
  decided_log::truncate(log, 2);
  EXPECT_EQ(log.recent, (std::vector<Decision>{{4, 40}, {5, 50}}));
  EXPECT_EQ(log.evicted_count, 3u);
  decided_log::truncate(log, 0);
  EXPECT_TRUE(log.recent.empty());
  EXPECT_EQ(log.evicted_count, 5u);
  EXPECT_EQ(log, history(1, 5, 0));
}

TEST(DecidedLog, Rule_WellFormed_StrictlyIncreasingAndBelowNextEpoch) {
  EXPECT_TRUE(decided_log::well_formed(DecidedLog{}, 0));
  EXPECT_TRUE(decided_log::well_formed(log_of({{1, 5}, {3, 5}, {7, 5}}), 8));
  EXPECT_FALSE(decided_log::well_formed(log_of({{1, 5}, {3, 5}, {7, 5}}), 7));  // from the future
  EXPECT_FALSE(decided_log::well_formed(log_of({{0, 5}}), 0));
  EXPECT_FALSE(decided_log::well_formed(log_of({{1, 5}, {3, 5}, {3, 5}}), 8));  // repeated epoch
  EXPECT_FALSE(decided_log::well_formed(log_of({{1, 5}, {4, 5}, {3, 5}}), 8));  // decreasing
}

TEST(DecidedLog, Rule_Repair_DropsFutureEntriesThenKeepsNewestIncreasingRun) {
  DecidedLog log = log_of({{1, 1}, {5, 2}, {2, 3}, {3, 4}, {9, 5}});
  log.evicted_count = 7;
  log.evicted_digest = 1234;
  decided_log::repair(log, 8);
  EXPECT_EQ(log.recent, (std::vector<Decision>{{2, 3}, {3, 4}}));
  EXPECT_TRUE(decided_log::well_formed(log, 8));
  // The digest of older history is left alone.
  EXPECT_EQ(log.evicted_count, 7u);
  EXPECT_EQ(log.evicted_digest, 1234u);
}

TEST(DecidedLog, Rule_Repair_WellFormedLogIsUnchanged) {
  DecidedLog log = history(0, 9, 4);
  decided_log::repair(log, 10);
  EXPECT_EQ(log, history(0, 9, 4));
}

TEST(DecidedLog, Rule_Repair_RepeatedEpochKeepsOnlyTheNewer) {
  DecidedLog log = log_of({{2, 1}, {2, 2}});
  decided_log::repair(log, 3);
  EXPECT_EQ(log.recent, (std::vector<Decision>{{2, 2}}));
  DecidedLog future = log_of({{4, 1}, {6, 2}});
  decided_log::repair(future, 0);
  EXPECT_TRUE(future.recent.empty());
}

TEST(DecidedLog, Rule_Find_ReturnsNewestEntryForEpoch) {
  DecidedLog log = log_of({{2, 1}, {3, 7}, {2, 9}});
  const Decision* d = decided_log::find(log, 2);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(*d, (Decision{2, 9}));
  EXPECT_EQ(d, &log.recent[2]);
  ASSERT_NE(decided_log::find(log, 3), nullptr);
  EXPECT_EQ(decided_log::find(log, 3)->value, 7u);
  EXPECT_EQ(decided_log::find(log, 4), nullptr);
  EXPECT_EQ(decided_log::find(DecidedLog{}, 0), nullptr);
}

}  // namespace vmrep::consensus

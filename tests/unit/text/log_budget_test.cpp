// The log budget both the control API and the peer listener use for lines a
// client can cause.
#include <gtest/gtest.h>

#include "text/log_budget.hpp"

namespace vmrep::text {
namespace {

using namespace std::chrono_literals;

TEST(LogBudget, LinesPerWindowThenCountedAndReportedOnTheNextLine) {
  LogBudget budget(2, 10s);
  const LogBudget::Clock::time_point t0 = LogBudget::Clock::time_point{} + 100s;
  EXPECT_EQ(budget.admit(t0), 0u);
  EXPECT_EQ(budget.admit(t0 + 1s), 0u);
  EXPECT_EQ(budget.admit(t0 + 2s), std::nullopt);
  EXPECT_EQ(budget.admit(t0 + 9s), std::nullopt);
  EXPECT_EQ(budget.admit(t0 + 10s), 2u) << "a new window; two were not logged";
  EXPECT_EQ(budget.admit(t0 + 11s), 0u);
}

TEST(LogBudget, OneLineWindowStartsAtTheLineLogged) {
  LogBudget budget(1, 10s);
  const LogBudget::Clock::time_point t0 = LogBudget::Clock::time_point{} + 100s;
  EXPECT_EQ(budget.admit(t0), 0u);
  EXPECT_EQ(budget.admit(t0 + 5s), std::nullopt);
  EXPECT_EQ(budget.admit(t0 + 12s), 1u);
  EXPECT_EQ(budget.admit(t0 + 21s), std::nullopt) << "the window began at +12 s";
  EXPECT_EQ(budget.admit(t0 + 22s), 1u);
}

}  // namespace
}  // namespace vmrep::text

#include <gtest/gtest.h>

#include <random>

#include "transport/backoff.hpp"

namespace vmrep::transport::detail {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesFromMinCappedAtMaxWithin20PercentJitter) {
  std::mt19937_64 rng(7);
  std::int64_t expected = 100;
  for (unsigned k = 0; k < 80; ++k) {
    const auto d = backoff_delay(milliseconds(100), milliseconds(5000), k, rng).count();
    EXPECT_GE(d, expected * 8 / 10) << "k=" << k;
    EXPECT_LE(d, expected * 12 / 10) << "k=" << k;
    expected = std::min<std::int64_t>(expected * 2, 5000);
  }
}

TEST(Backoff, SameSeed_SameDelays) {
  std::mt19937_64 a(99), b(99);
  for (unsigned k = 0; k < 10; ++k) {
    EXPECT_EQ(backoff_delay(milliseconds(10), milliseconds(1000), k, a),
              backoff_delay(milliseconds(10), milliseconds(1000), k, b));
  }
}

TEST(Backoff, ZeroOrInvertedBounds_StayPositive) {
  std::mt19937_64 rng(1);
  EXPECT_GE(backoff_delay(milliseconds(0), milliseconds(0), 3, rng).count(), 1);
  EXPECT_LE(backoff_delay(milliseconds(50), milliseconds(10), 3, rng).count(), 60);
}

}  // namespace
}  // namespace vmrep::transport::detail

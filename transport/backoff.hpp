#pragma once
// Private to transport/: reconnect delay after `failures` consecutive failed
// attempts (0 for the first retry): min * 2^failures capped at max, then
// jittered by +-20% so restarted peers do not redial in lockstep.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace vmrep::transport::detail {

inline std::chrono::milliseconds backoff_delay(std::chrono::milliseconds min, std::chrono::milliseconds max,
                                               unsigned failures, std::mt19937_64& rng) {
  const std::int64_t lo = std::max<std::int64_t>(1, min.count());
  const std::int64_t hi = std::max<std::int64_t>(lo, max.count());
  std::int64_t base = lo;
  for (unsigned i = 0; i < failures && base < hi; ++i) base *= 2;  // bounded by log2(hi/lo) steps
  base = std::min(base, hi);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  const auto delay = static_cast<std::int64_t>(static_cast<double>(base) * jitter(rng));
  return std::chrono::milliseconds(std::max<std::int64_t>(1, delay));
}

}  // namespace vmrep::transport::detail

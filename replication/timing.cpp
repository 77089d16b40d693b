#include "replication/timing.hpp"

#include <algorithm>

namespace vmrep::replication {

std::uint64_t ticks_for_ms(std::uint64_t ms, std::uint32_t tick_ms) {
  const std::uint64_t tick = std::max<std::uint32_t>(tick_ms, 1);
  return std::max<std::uint64_t>(1, ms / tick + (ms % tick != 0 ? 1 : 0));
}

std::uint64_t retry_after_ticks(const ServiceTiming& t, std::uint32_t failures) {
  std::uint64_t wait = t.failed_retry_ticks;
  for (std::uint32_t i = 1; i < failures && wait < t.failed_retry_max_ticks; ++i) wait *= 2;
  return std::min(wait, t.failed_retry_max_ticks);
}

ServiceTiming service_timing(std::uint32_t tick_ms, std::uint32_t heartbeat_ticks,
                             std::uint64_t checkpoint_interval_ms) {
  ServiceTiming t;
  t.checkpoint_interval_ticks = ticks_for_ms(checkpoint_interval_ms, tick_ms);
  t.inventory_every_ticks = ticks_for_ms(inventory_every_ms, tick_ms);
  t.query_wait_ticks = std::max<std::uint64_t>(3ULL * heartbeat_ticks, 2);
  t.pull_timeout_ticks = ticks_for_ms(pull_timeout_ms, tick_ms);
  t.handover_timeout_ticks = ticks_for_ms(handover_timeout_ms, tick_ms);
  t.failed_retry_ticks = ticks_for_ms(failed_retry_ms, tick_ms);
  t.failed_retry_max_ticks = std::max(t.failed_retry_ticks, ticks_for_ms(failed_retry_max_ms, tick_ms));
  t.housekeeping_every_ticks = ticks_for_ms(housekeeping_every_ms, tick_ms);
  t.switchover_phase_ticks = ticks_for_ms(switchover_phase_ms, tick_ms);
  return t;
}

}  // namespace vmrep::replication

#pragma once
// Every duration the replication policy uses, converted from milliseconds to
// ticks once, by one rule (round up, at least one tick), so a slow tick never
// turns a timeout into zero and no two places round differently.
#include <cstdint>

namespace vmrep::replication {

// ceil(ms / tick_ms), at least 1. tick_ms 0 is treated as 1.
std::uint64_t ticks_for_ms(std::uint64_t ms, std::uint32_t tick_ms);

struct ServiceTiming {
  std::uint64_t checkpoint_interval_ticks = 1;  // the service's checkpoint_interval_ms
  std::uint64_t inventory_every_ticks = 1;      // inventories to every peer, about 1 s
  std::uint64_t query_wait_ticks = 2;           // a promotion waits this long for the survivors' answers
  std::uint64_t pull_timeout_ticks = 1;         // a holder asked to push has this long before the next is tried
  std::uint64_t handover_timeout_ticks = 1;     // a holder handed the service has this long to be decided
  std::uint64_t failed_retry_ticks = 1;         // a failed promotion is retried after this long...
  std::uint64_t failed_retry_max_ticks = 1;     // ...doubled per failure in a row, up to this
  std::uint64_t housekeeping_every_ticks = 1;   // GC at most this often
  std::uint64_t switchover_phase_ticks = 1;     // each phase of a planned switchover
};

// The policy's fixed durations, in milliseconds; the config sets the tick,
// the heartbeat and the checkpoint interval.
constexpr std::uint64_t inventory_every_ms = 1'000;
constexpr std::uint64_t pull_timeout_ms = 60'000;
constexpr std::uint64_t handover_timeout_ms = 20'000;
constexpr std::uint64_t failed_retry_ms = 5'000;
constexpr std::uint64_t failed_retry_max_ms = 300'000;
constexpr std::uint64_t housekeeping_every_ms = 60'000;
constexpr std::uint64_t switchover_phase_ms = 60'000;

// How long a promotion that failed `failures` times in a row (>= 1) waits
// before it tries again: failed_retry_ticks, doubled with every further
// failure, at most failed_retry_max_ms. A restore that keeps failing (a
// corrupt version, a full disk) is not hammered every 5 s forever, and one
// that failed once is retried soon.
std::uint64_t retry_after_ticks(const ServiceTiming& t, std::uint32_t failures);

// query_wait is three heartbeats (at least two ticks): long enough for every
// live peer's answer to arrive, short against a failover.
ServiceTiming service_timing(std::uint32_t tick_ms, std::uint32_t heartbeat_ticks,
                             std::uint64_t checkpoint_interval_ms);

}  // namespace vmrep::replication

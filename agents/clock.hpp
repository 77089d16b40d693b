#pragma once
// The wall clock, injected (ARCHITECTURE.md: narrow seams): agents stamp
// events with it; tests pass a fixed one. Ticks come from HeartbeatAgent's
// steady timer, never from here.

#include <chrono>
#include <cstdint>

namespace vmrep::agents {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall() const override { return std::chrono::system_clock::now(); }
};

// Durations and stamps the agents report (milliseconds, as in status and
// events). Measuring how long work took, not scheduling: ticks drive that.
inline double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return ms_between(t0, std::chrono::steady_clock::now());
}
inline std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vmrep::agents

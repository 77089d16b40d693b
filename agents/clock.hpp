#pragma once
// The wall clock, injected (ARCHITECTURE.md: narrow seams): agents stamp
// events with it; tests pass a fixed one. Ticks come from HeartbeatAgent's
// steady timer, never from here.

#include <chrono>

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

}  // namespace vmrep::agents

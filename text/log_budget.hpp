#pragma once
// How many log lines a stream of outside-caused events (refused connections,
// failing accepts) may write: at most `lines` per `window`, the window
// starting at the first event after the previous one ended. The rest are
// counted, and the next line that is written says how many were not.
//
// Pure: the caller passes the time. One owner; not thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace vmrep::text {

class LogBudget {
 public:
  using Clock = std::chrono::steady_clock;
  LogBudget(std::size_t lines, Clock::duration window) : lines_(lines), window_(window) {}

  // nullopt: stay quiet (counted). Otherwise write one line; the value is how
  // many events were not logged since the previous line (0: none).
  std::optional<std::uint64_t> admit(Clock::time_point now) {
    if (now - window_start_ >= window_) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= lines_) {
      ++unlogged_;
      return std::nullopt;
    }
    ++used_;
    const std::uint64_t skipped = unlogged_;
    unlogged_ = 0;
    return skipped;
  }

 private:
  std::size_t lines_;
  Clock::duration window_;
  Clock::time_point window_start_{};
  std::size_t used_ = 0;
  std::uint64_t unlogged_ = 0;
};

}  // namespace vmrep::text

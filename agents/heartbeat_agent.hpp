#pragma once
// Drives time: every tick_ms of the steady clock it ticks every election
// agent (each tick may send the Estimates that are the heartbeats). Deadlines
// are absolute, so ticks do not drift; when the loop falls behind by more
// than `max_catch_up` ticks (a stalled process, a suspended VM) it skips
// ahead and counts them as late instead of bursting.
//
// Contract: event-loop thread only; start() once, stop() before destruction.

#include <chrono>
#include <cstdint>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace vmrep::agents {

class HeartbeatAgent {
 public:
  HeartbeatAgent(boost::asio::io_context& io, std::chrono::milliseconds tick, std::function<void()> on_tick,
                 std::uint32_t max_catch_up = 5);

  void start();
  void stop();
  std::uint64_t ticks() const { return ticks_; }
  std::uint64_t skipped_ticks() const { return skipped_; }

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds tick_;
  std::function<void()> on_tick_;
  std::uint32_t max_catch_up_;
  std::chrono::steady_clock::time_point next_;
  std::uint64_t ticks_ = 0;
  std::uint64_t skipped_ = 0;
  bool running_ = false;
};

}  // namespace vmrep::agents

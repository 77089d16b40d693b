#include "agents/heartbeat_agent.hpp"

namespace vmrep::agents {

HeartbeatAgent::HeartbeatAgent(boost::asio::io_context& io, std::chrono::milliseconds tick,
                               std::function<void()> on_tick, std::uint32_t max_catch_up)
    : timer_(io), tick_(tick), on_tick_(std::move(on_tick)), max_catch_up_(max_catch_up) {}

void HeartbeatAgent::start() {
  running_ = true;
  next_ = std::chrono::steady_clock::now() + tick_;
  arm();
}

void HeartbeatAgent::stop() {
  running_ = false;
  timer_.cancel();
}

void HeartbeatAgent::arm() {
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    auto now = std::chrono::steady_clock::now();
    std::uint32_t due = 0;
    while (next_ <= now && due < max_catch_up_) {
      ++due;
      next_ += tick_;
    }
    if (next_ <= now) {  // still behind: skip, do not burst
      auto behind = (now - next_) / tick_ + 1;
      skipped_ += static_cast<std::uint64_t>(behind);
      next_ += tick_ * behind;
    }
    for (std::uint32_t i = 0; i < due && running_; ++i) {
      ++ticks_;
      on_tick_();
    }
    if (running_) arm();
  });
}

}  // namespace vmrep::agents

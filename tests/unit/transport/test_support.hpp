#pragma once
// Helpers for the transport tests: a temporary directory, a bounded event
// loop runner, free loopback ports, a log capture, and test frames.

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include "tests/support/temp_dir.hpp"
#include "transport/codec.hpp"

namespace vmrep::transport::test {

using namespace std::chrono_literals;

using TempDir = vmrep::test::TempDir;

// Runs `io` until `done()` holds or `timeout` passes; true if it holds.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_for(5ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

// Runs `io` for `d` whatever happens.
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
  run_until(io, [] { return false; }, d);
}

// A loopback port that was free a moment ago. Taken below Linux's ephemeral
// range (32768-60999): a port from that range can be grabbed as the source
// port of some outgoing connection (ours, dialing a peer that is down, or a
// parallel test's) before the test binds it.
inline std::uint16_t free_port() {
  // Random start: test processes run in parallel and must not pick alike.
  static std::uint32_t next = std::random_device{}();
  boost::asio::io_context io;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<std::uint16_t>(20000 + (next++ % 12000));
    boost::asio::ip::tcp::acceptor a(io);
    boost::system::error_code ec;
    a.open(boost::asio::ip::tcp::v4(), ec);
    a.bind({boost::asio::ip::address_v4::loopback(), port}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free loopback port in 20000-31999");
}

// Records every log line (and still prints them) while alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<Sink>()) {
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(
        "test", spdlog::sinks_init_list{sink_, std::make_shared<spdlog::sinks::stderr_sink_mt>()});
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  bool contains(const std::string& text) const {
    for (const auto& line : sink_->lines()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::size_t count(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& line : sink_->lines()) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::string> lines() {
      std::lock_guard lock(this->mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;
  };
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// An Estimate of `instance` whose value is `value`.
inline wire::Frame estimate_frame(std::uint32_t instance, std::uint64_t value) {
  wire::Frame f;
  *f.mutable_consensus() = to_wire(instance, consensus::Estimate{value, {1, 2}});
  return f;
}

}  // namespace vmrep::transport::test

#pragma once
// A TCP relay on 127.0.0.1 that holds every byte the target sends for a fixed
// delay before passing it on (what the client sends goes through at once).
// Put between a pusher and a backup's sshd it adds `delay` to every round
// trip, like the lab's `scripts/lab delay` does to what one host sends.
//
// Unlike a delayed link it acknowledges TCP segments locally, so TCP's own
// window never throttles: it models the round trips of the application
// protocol (SFTP requests waiting for their replies), which is what a push
// is bound by, not the bandwidth-delay product of a real long link.
//
// Threads: one accepting, and per connection one pumping client -> target,
// one reading the target and one writing what it read once due. The
// destructor shuts every socket down and joins every thread; a benchmark
// tool, not the daemon (which never relays).
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vmrep::bench {

class DelayProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and relays to 127.0.0.1:target_port.
  // std::runtime_error when it cannot listen.
  DelayProxy(std::uint16_t target_port, std::chrono::milliseconds delay);
  ~DelayProxy();
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  struct Connection;
  void accept_loop();

  std::uint16_t target_port_;
  std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;  // guards connections_ (the acceptor adds, the destructor stops)
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace vmrep::bench

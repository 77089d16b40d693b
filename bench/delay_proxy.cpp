#include "bench/delay_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>

namespace vmrep::bench {

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Writes all of [p, p+n); false when the peer is gone.
bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

struct DelayProxy::Connection {
  int client = -1;
  int target = -1;
  std::mutex m;
  std::condition_variable cv;
  struct Due {
    Clock::time_point at;
    std::string bytes;  // empty: the target closed
  };
  std::deque<Due> queue;
  std::thread up, read_down, write_down;

  ~Connection() {
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(target, SHUT_RDWR);
    {
      std::lock_guard<std::mutex> l(m);
      queue.push_back({Clock::now(), {}});
    }
    cv.notify_all();
    for (auto* t : {&up, &read_down, &write_down}) {
      if (t->joinable()) t->join();
    }
    ::close(client);
    ::close(target);
  }

  void pump_up() {
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !write_all(target, buf, static_cast<std::size_t>(n))) break;
    }
    ::shutdown(target, SHUT_WR);
  }

  void read_target(std::chrono::milliseconds delay) {
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(target, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> l(m);
      queue.push_back({Clock::now() + delay, n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string()});
      cv.notify_all();
      if (n <= 0) return;
    }
  }

  void write_client() {
    for (;;) {
      Due d;
      {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [&] { return !queue.empty(); });
        // Deadlines only grow (one reader, one fixed delay), so the front is due first.
        while (!queue.front().bytes.empty() && Clock::now() < queue.front().at) cv.wait_until(l, queue.front().at);
        d = std::move(queue.front());
        queue.pop_front();
      }
      if (d.bytes.empty() || !write_all(client, d.bytes.data(), d.bytes.size())) break;
    }
    ::shutdown(client, SHUT_WR);
  }
};

DelayProxy::DelayProxy(std::uint16_t target_port, std::chrono::milliseconds delay)
    : target_port_(target_port), delay_(delay) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("delay proxy: cannot listen on 127.0.0.1: " + why);
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

DelayProxy::~DelayProxy() {
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept() with an error
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard<std::mutex> l(mutex_);
  connections_.clear();
}

void DelayProxy::accept_loop() {
  for (;;) {
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0 && errno == EINTR) continue;
    if (client < 0) return;
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in t = loopback(target_port_);
    if (target < 0 || ::connect(target, reinterpret_cast<const sockaddr*>(&t), sizeof t) != 0) {
      ::close(client);
      if (target >= 0) ::close(target);
      continue;
    }
    no_delay(client);
    no_delay(target);
    auto c = std::make_unique<Connection>();
    c->client = client;
    c->target = target;
    Connection* raw = c.get();
    raw->up = std::thread([raw] { raw->pump_up(); });
    raw->read_down = std::thread([raw, d = delay_] { raw->read_target(d); });
    raw->write_down = std::thread([raw] { raw->write_client(); });
    std::lock_guard<std::mutex> l(mutex_);
    connections_.push_back(std::move(c));
  }
}

}  // namespace vmrep::bench

#include "controller/control_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "text/log_budget.hpp"
#include "transport/cloexec.hpp"
#include "text/utf8.hpp"

namespace vmrep::controller {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

namespace {

constexpr std::size_t kMaxRequestBytes = 64 * 1024;
constexpr auto kDeadline = std::chrono::seconds(5);
constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxBackoff = std::chrono::seconds(1);
constexpr auto kLogEvery = std::chrono::seconds(10);

// Warnings that a client can cause (refused connections, failing accepts) at
// most once per kLogEvery per listener, with how many were not logged.
class RateLimitedLog {
 public:
  void warn(const std::string& what) {
    const auto skipped = budget_.admit(std::chrono::steady_clock::now());
    if (!skipped) return;
    if (*skipped > 0)
      spdlog::warn("control: {} ({} more like it since the last warning)", what, *skipped);
    else
      spdlog::warn("control: {}", what);
  }

 private:
  text::LogBudget budget_{1, kLogEvery};
};

// One request, one response, then close. Lives as long as its handlers;
// `slot` is released (the listener's count drops) when it is destroyed.
template <class Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, const ControlServer& server, bool via_tcp, std::shared_ptr<void> slot)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        server_(server),
        via_tcp_(via_tcp),
        slot_(std::move(slot)) {
    parser_.body_limit(kMaxRequestBytes);
    parser_.header_limit(kMaxRequestBytes);
  }

  void run() {
    auto self = this->shared_from_this();
    timer_.expires_after(kDeadline);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->close();
    });
    http::async_read(socket_, buffer_, parser_, [self](const boost::system::error_code& ec, std::size_t) {
      // Nothing may leave this callback: it would come out of io_context::run()
      // and end the daemon. dispatch() does not throw; building the response
      // could (bad_alloc), so that is caught here.
      try {
        if (ec) {
          self->respond(Reply{400, "text/plain", "bad request: " + ec.message() + "\n"}, 11, false);
          return;
        }
        const auto& req = self->parser_.get();
        Reply r = self->server_.dispatch(std::string(req.method_string()), std::string(req.target()), self->via_tcp_);
        self->respond(std::move(r), req.version(), true);
      } catch (const std::exception& e) {
        spdlog::error("control: request dropped: {}", text::to_valid_utf8(e.what(), text::Controls::replace));
        self->close();
      }
    });
  }

 private:
  void respond(Reply r, unsigned version, bool parsed) {
    if (!parsed && !socket_.is_open()) return;
    res_ = http::response<http::string_body>(static_cast<http::status>(r.status), version);
    res_.set(http::field::server, "vmrepd");
    res_.set(http::field::content_type, r.content_type);
    res_.keep_alive(false);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    auto self = this->shared_from_this();
    http::async_write(socket_, res_, [self](const boost::system::error_code&, std::size_t) { self->close(); });
  }

  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  const ControlServer& server_;
  bool via_tcp_;
  std::shared_ptr<void> slot_;
  boost::beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
};

// Accepts on one listener: at most ControlServer::kMaxSessions sessions at
// once; a failing accept (EMFILE, ENFILE, ENOBUFS...) waits before the next
// try, doubling from kFirstBackoff to kMaxBackoff, instead of spinning.
template <class Acceptor, class Socket>
class AcceptLoop : public std::enable_shared_from_this<AcceptLoop<Acceptor, Socket>> {
 public:
  AcceptLoop(Acceptor& acceptor, const ControlServer& server, bool via_tcp, std::string name)
      : acceptor_(acceptor), server_(server), via_tcp_(via_tcp), name_(std::move(name)),
        timer_(acceptor.get_executor()) {}

  // Ends a back-off wait (the acceptor's own pending accept ends when it closes).
  void stop() { timer_.cancel(); }

  void next() {
    auto self = this->shared_from_this();
    acceptor_.async_accept([self](const boost::system::error_code& ec, Socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (ec) return self->back_off(ec);
      self->backoff_ = kFirstBackoff;
      transport::set_cloexec(socket.native_handle());
      self->admit(std::move(socket));
      self->next();
    });
  }

 private:
  void admit(Socket socket) {
    if (*open_ >= ControlServer::kMaxSessions) {
      log_.warn(name_ + ": " + std::to_string(*open_) + " connections open, the most allowed; one refused");
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    ++*open_;
    // The slot decrements the count when the session is destroyed; it holds
    // the counter, not the loop, so it outlives a stopped listener safely.
    std::shared_ptr<void> slot(nullptr, [open = open_](void*) { --*open; });
    std::make_shared<Session<Socket>>(std::move(socket), server_, via_tcp_, std::move(slot))->run();
  }

  void back_off(const boost::system::error_code& ec) {
    log_.warn(name_ + ": accept failed: " + ec.message() + "; retrying in " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(backoff_).count()) + " ms");
    timer_.expires_after(backoff_);
    backoff_ = std::min<std::chrono::steady_clock::duration>(backoff_ * 2, kMaxBackoff);
    auto self = this->shared_from_this();
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && self->acceptor_.is_open()) self->next();
    });
  }

  Acceptor& acceptor_;  // outlives this loop's callbacks: stop() cancels them first
  const ControlServer& server_;
  bool via_tcp_;
  std::string name_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::duration backoff_ = kFirstBackoff;
  std::shared_ptr<std::size_t> open_ = std::make_shared<std::size_t>(0);
  RateLimitedLog log_;
};

template <class Acceptor, class Socket>
std::shared_ptr<AcceptLoop<Acceptor, Socket>> accept_loop(Acceptor& acceptor, const ControlServer& server,
                                                          bool via_tcp, std::string name) {
  auto loop = std::make_shared<AcceptLoop<Acceptor, Socket>>(acceptor, server, via_tcp, std::move(name));
  loop->next();
  return loop;
}

// A socket file left by a dead daemon is removed; a live one is not stolen.
void claim_socket_path(asio::io_context& io, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
  if (!fs::exists(path, ec)) return;
  local::socket probe(io);
  boost::system::error_code connect_ec;
  probe.connect(local::endpoint(path), connect_ec);
  if (!connect_ec)
    throw std::runtime_error("control socket " + path + " is in use: another vmrepd is running");
  fs::remove(path, ec);
}

}  // namespace

class ControlServer::Listeners {
 public:
  explicit Listeners(asio::io_context& io) : unix_acceptor(io), tcp_acceptor(io) {}
  local::acceptor unix_acceptor;
  asio::ip::tcp::acceptor tcp_acceptor;
  std::shared_ptr<AcceptLoop<local::acceptor, local::socket>> unix_loop;
  std::shared_ptr<AcceptLoop<asio::ip::tcp::acceptor, asio::ip::tcp::socket>> tcp_loop;
};

ControlServer::ControlServer(asio::io_context& io, std::string socket_path, std::uint32_t socket_mode,
                             std::optional<std::uint16_t> metrics_port)
    : socket_path_(std::move(socket_path)),
      socket_mode_(socket_mode),
      metrics_port_(metrics_port),
      listeners_(std::make_unique<Listeners>(io)),
      io_(io) {
  add("/v1/help", "this list", [this](const std::string&) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [path, e] : endpoints_) j[path] = e.help;
    return json_reply(200, j, 2);
  });
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::add(const std::string& path, const std::string& help, Handler handler, bool on_metrics_port) {
  endpoints_[path] = Endpoint{help, std::move(handler), on_metrics_port};
}

void ControlServer::add_action(const std::string& path, const std::string& help, Handler handler) {
  endpoints_[path] = Endpoint{"POST: " + help, std::move(handler), false, "POST"};
}

Reply json_reply(unsigned status, const nlohmann::json& body, int indent) {
  return Reply{status, "application/json",
               body.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

Reply ControlServer::dispatch(const std::string& method, const std::string& target, bool via_tcp) const noexcept {
  try {
    auto q = target.find('?');
    std::string path = target.substr(0, q);
    std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    auto it = endpoints_.find(path);
    if (it == endpoints_.end() || (via_tcp && !it->second.on_metrics_port))
      return json_reply(404, {{"error", "no endpoint " + text::peer_text(path, 200) + "; see /v1/help"}});
    if (method != it->second.method) return json_reply(405, {{"error", path + " takes " + it->second.method}});
    try {
      return it->second.handler(query);
    } catch (const std::exception& e) {
      const std::string why = text::to_valid_utf8(e.what(), text::Controls::replace);
      spdlog::error("control: {} failed: {}", path, why);
      return json_reply(500, {{"error", why}});
    }
  } catch (...) {  // bad_alloc building a reply, or a handler throwing a non-std exception
    return Reply{500, "text/plain", "internal error\n"};
  }
}

Reply ControlServer::handle_raw(std::string_view bytes, bool via_tcp) const noexcept {
  try {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxRequestBytes);
    parser.header_limit(kMaxRequestBytes);
    parser.eager(true);
    boost::system::error_code ec;
    parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) return Reply{400, "text/plain", "bad request\n"};
    const auto& req = parser.get();
    return dispatch(std::string(req.method_string()), std::string(req.target()), via_tcp);
  } catch (...) {
    return Reply{500, "text/plain", "internal error\n"};
  }
}

void ControlServer::start() {
  claim_socket_path(io_, socket_path_);
  auto& ua = listeners_->unix_acceptor;
  ua.open(local::endpoint(socket_path_).protocol());
  transport::set_cloexec(ua.native_handle());
  boost::system::error_code ec;
  ua.bind(local::endpoint(socket_path_), ec);
  if (ec) throw std::runtime_error("control socket " + socket_path_ + ": cannot bind: " + ec.message());
  ::chmod(socket_path_.c_str(), static_cast<mode_t>(socket_mode_));
  ua.listen();
  listeners_->unix_loop = accept_loop<local::acceptor, local::socket>(ua, *this, false, "control socket " + socket_path_);
  if (metrics_port_) {
    auto& ta = listeners_->tcp_acceptor;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), *metrics_port_);
    ta.open(ep.protocol());
    transport::set_cloexec(ta.native_handle());
    ta.set_option(asio::socket_base::reuse_address(true));
    ta.bind(ep, ec);
    if (ec) throw std::runtime_error("metrics port 127.0.0.1:" + std::to_string(*metrics_port_) + ": " + ec.message());
    ta.listen();
    listeners_->tcp_loop = accept_loop<asio::ip::tcp::acceptor, asio::ip::tcp::socket>(
        ta, *this, true, "metrics port " + std::to_string(metrics_port()));
  }
}

std::uint16_t ControlServer::metrics_port() const {
  boost::system::error_code ec;
  auto ep = listeners_->tcp_acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void ControlServer::stop() {
  if (!listeners_) return;
  if (listeners_->unix_loop) listeners_->unix_loop->stop();
  if (listeners_->tcp_loop) listeners_->tcp_loop->stop();
  boost::system::error_code ec;
  if (listeners_->unix_acceptor.is_open()) {
    listeners_->unix_acceptor.close(ec);
    std::error_code fs_ec;
    std::filesystem::remove(socket_path_, fs_ec);
  }
  listeners_->tcp_acceptor.close(ec);
}

}  // namespace vmrep::controller

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

namespace vmrep::controller {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

namespace {

constexpr std::size_t kMaxRequestBytes = 64 * 1024;
constexpr auto kDeadline = std::chrono::seconds(5);

// One request, one response, then close. Lives as long as its handlers.
template <class Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, const ControlServer& server, bool via_tcp)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), server_(server), via_tcp_(via_tcp) {
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
      if (ec) {
        self->respond(Reply{400, "text/plain", "bad request: " + ec.message() + "\n"}, 11, false);
        return;
      }
      const auto& req = self->parser_.get();
      Reply r = self->server_.dispatch(std::string(req.method_string()), std::string(req.target()), self->via_tcp_);
      self->respond(std::move(r), req.version(), true);
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
  boost::beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
};

template <class Acceptor, class Socket>
void accept_loop(Acceptor& acceptor, const ControlServer& server, bool via_tcp) {
  acceptor.async_accept([&acceptor, &server, via_tcp](const boost::system::error_code& ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) std::make_shared<Session<Socket>>(std::move(socket), server, via_tcp)->run();
    accept_loop<Acceptor, Socket>(acceptor, server, via_tcp);
  });
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
    return Reply{200, "application/json", j.dump(2) + "\n"};
  });
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::add(const std::string& path, const std::string& help, Handler handler, bool on_metrics_port) {
  endpoints_[path] = Endpoint{help, std::move(handler), on_metrics_port};
}

void ControlServer::add_action(const std::string& path, const std::string& help, Handler handler) {
  endpoints_[path] = Endpoint{"POST: " + help, std::move(handler), false, "POST"};
}

Reply ControlServer::dispatch(const std::string& method, const std::string& target, bool via_tcp) const {
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  std::string query = q == std::string::npos ? "" : target.substr(q + 1);
  auto it = endpoints_.find(path);
  if (it == endpoints_.end() || (via_tcp && !it->second.on_metrics_port))
    return Reply{404, "application/json", nlohmann::json{{"error", "no endpoint " + path + "; see /v1/help"}}.dump() + "\n"};
  if (method != it->second.method)
    return Reply{405, "application/json", nlohmann::json{{"error", path + " takes " + it->second.method}}.dump() + "\n"};
  try {
    return it->second.handler(query);
  } catch (const std::exception& e) {
    spdlog::error("control: {} failed: {}", path, e.what());
    return Reply{500, "application/json", nlohmann::json{{"error", e.what()}}.dump() + "\n"};
  }
}

void ControlServer::start() {
  claim_socket_path(io_, socket_path_);
  auto& ua = listeners_->unix_acceptor;
  ua.open(local::endpoint(socket_path_).protocol());
  boost::system::error_code ec;
  ua.bind(local::endpoint(socket_path_), ec);
  if (ec) throw std::runtime_error("control socket " + socket_path_ + ": cannot bind: " + ec.message());
  ::chmod(socket_path_.c_str(), static_cast<mode_t>(socket_mode_));
  ua.listen();
  accept_loop<local::acceptor, local::socket>(ua, *this, false);
  if (metrics_port_) {
    auto& ta = listeners_->tcp_acceptor;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), *metrics_port_);
    ta.open(ep.protocol());
    ta.set_option(asio::socket_base::reuse_address(true));
    ta.bind(ep, ec);
    if (ec) throw std::runtime_error("metrics port 127.0.0.1:" + std::to_string(*metrics_port_) + ": " + ec.message());
    ta.listen();
    accept_loop<asio::ip::tcp::acceptor, asio::ip::tcp::socket>(ta, *this, true);
  }
}

std::uint16_t ControlServer::metrics_port() const {
  boost::system::error_code ec;
  auto ep = listeners_->tcp_acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void ControlServer::stop() {
  if (!listeners_) return;
  boost::system::error_code ec;
  if (listeners_->unix_acceptor.is_open()) {
    listeners_->unix_acceptor.close(ec);
    std::error_code fs_ec;
    std::filesystem::remove(socket_path_, fs_ec);
  }
  listeners_->tcp_acceptor.close(ec);
}

}  // namespace vmrep::controller

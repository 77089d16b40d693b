#include "transport/listener.hpp"

#include <stdexcept>
#include <utility>

#include <boost/asio/error.hpp>
#include <spdlog/spdlog.h>

#include "transport/cloexec.hpp"
#include "transport/inbound_session.hpp"

namespace vmrep::transport::detail {
namespace {

// After a failed accept (out of descriptors, say) wait a little rather than
// spin.
constexpr std::chrono::milliseconds kAcceptRetry{100};

tcp::endpoint listen_endpoint(asio::io_context& io, const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port};
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             (ec ? ec.message() : std::string("no address")));
  }
  return results.begin()->endpoint();
}

}  // namespace

Listener::Listener(std::shared_ptr<MeshState> mesh)
    : mesh_(std::move(mesh)), acceptor_(mesh_->io), retry_(mesh_->io) {}

std::uint16_t Listener::open() {
  const auto& cfg = mesh_->config;
  const tcp::endpoint endpoint = listen_endpoint(mesh_->io, cfg.listen_host, cfg.listen_port);
  boost::system::error_code ec;
  auto check = [&](const char* step) {
    if (!ec) return;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    throw std::runtime_error("cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) +
                             ": " + step + ": " + ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  check("open");
  if (!set_cloexec(acceptor_.native_handle())) spdlog::warn("cannot mark the peer listener close-on-exec");
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  check("SO_REUSEADDR");
  acceptor_.bind(endpoint, ec);
  check("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  check("listen");
  const auto port = acceptor_.local_endpoint(ec).port();
  check("local endpoint");
  spdlog::info("listening on {}:{} ({})", cfg.listen_host, port, cfg.insecure ? "plain TCP" : "TLS");
  return port;
}

void Listener::accept_next() {
  if (closed_) return;
  // The session is made after the accept, so it takes the TLS context
  // current then (a renewed certificate serves the next connection).
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    if (self->closed_ || self->mesh_->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("accept failed: {}; retrying in {} ms", ec.message(), kAcceptRetry.count());
      self->retry_.expires_after(kAcceptRetry);
      self->retry_.async_wait([self](const boost::system::error_code& wec) {
        if (!wec) self->accept_next();
      });
      return;
    }
    set_cloexec(socket.native_handle());
    std::make_shared<InboundSession>(self->mesh_, std::move(socket))->start();
    self->accept_next();
  });
}

void Listener::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  retry_.cancel();
  acceptor_.close(ignored);
}

}  // namespace vmrep::transport::detail

#pragma once
// Private to transport/: one connection's byte stream, TLS over TCP or plain
// TCP (insecure mode), behind one interface so the link and session logic is
// written once.
//
// Contract: used on the io thread only; at most one read and one write
// outstanding at a time (what asio::ssl::stream allows).

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

namespace vmrep::transport::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Stream {
 public:
  // `tls` null: plain TCP. The stream keeps the context it started with: a
  // reload (renewed certificate) gives later streams a new one.
  Stream(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls) : context_(std::move(tls)) {
    if (context_) {
      tls_.emplace(io, *context_);
    } else {
      plain_.emplace(io);
    }
  }

  // An accepted socket: the TLS context is the one current at the accept.
  Stream(tcp::socket&& accepted, std::shared_ptr<asio::ssl::context> tls) : context_(std::move(tls)) {
    if (context_) {
      tls_.emplace(std::move(accepted), *context_);
    } else {
      plain_.emplace(std::move(accepted));
    }
  }

  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  bool secure() const { return tls_.has_value(); }

  // Dialer: verify the server's chain. Listener: demand a client certificate.
  void set_verify(bool server_side) {
    if (!tls_) return;
    auto mode = asio::ssl::verify_peer;
    if (server_side) mode |= asio::ssl::verify_fail_if_no_peer_cert;
    boost::system::error_code ignored;
    tls_->set_verify_mode(mode, ignored);
  }

  // Plain TCP: completes at once (posted, never inline).
  template <class Handler>
  void async_handshake(asio::ssl::stream_base::handshake_type type, Handler&& handler) {
    if (tls_) {
      tls_->async_handshake(type, std::forward<Handler>(handler));
    } else {
      asio::post(plain_->get_executor(),
                 [h = std::forward<Handler>(handler)]() mutable { h(boost::system::error_code{}); });
    }
  }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <class Buffers, class Handler>
  void async_write(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    } else {
      asio::async_write(*plain_, buffers, std::forward<Handler>(handler));
    }
  }

  // The verified certificate CN of the other end; "" in insecure mode.
  std::string peer_common_name();
  // The verified certificate's O= (cluster name); nullopt without one, or in
  // insecure mode.
  std::optional<std::string> peer_organization();

  // "127.0.0.1:5555", or "unknown" when the socket has no peer.
  std::string remote_text();

  // Why a read ended, for a log line. A TCP close without TLS close_notify
  // (stream truncated) reads as a plain close: frames are length-prefixed, so
  // a cut inside one is caught by the decoder anyway.
  static std::string read_error_text(const boost::system::error_code& ec);

  // Idempotent; pending operations complete with operation_aborted.
  void close();

 private:
  std::shared_ptr<asio::ssl::context> context_;  // declared first: outlives tls_
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  std::optional<tcp::socket> plain_;
};

}  // namespace vmrep::transport::detail

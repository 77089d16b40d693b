#pragma once
// Private to transport/: one connection a peer dialed to us. It runs the TLS
// handshake (a client certificate verified against the CA is required), waits
// for the Hello within kInboundHelloTimeout and checks it (our cluster, a
// configured peer, and with TLS the certificate's CN), then hands every
// further frame to on_frame. Any failure closes it with one log line.
//
// Contract: io thread only. Pending operations hold the session; nothing is
// delivered once it is closed or the mesh is stopped.

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "transport/codec.hpp"
#include "transport/mesh_state.hpp"
#include "transport/stream.hpp"

namespace vmrep::transport::detail {

class InboundSession : public std::enable_shared_from_this<InboundSession> {
 public:
  // `accepted`: the connection, taken over with the TLS context current now.
  InboundSession(std::shared_ptr<MeshState> mesh, tcp::socket&& accepted);

  tcp::socket& socket() { return stream_->socket(); }
  // After the accept: handshake, then Hello, then frames.
  void start();
  // Closes without a log line (mesh stop, or replaced by a newer connection
  // of the same peer). Idempotent.
  void close_quietly();
  bool awaiting_hello() const { return pending_; }

 private:
  void read_next();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  // false: the session closed while handling.
  bool handle_frame(wire::Frame& frame);
  bool accept_hello(const wire::Frame& frame);
  void refuse(const std::string& why);
  void close_established(const std::string& why, bool warn);
  void close_stream();
  void leave_pending();
  // The oldest other connection still awaiting its Hello is refused.
  void evict_oldest_pending();

  std::shared_ptr<MeshState> mesh_;
  std::shared_ptr<Stream> stream_;
  asio::steady_timer deadline_;
  FrameDecoder decoder_;
  std::array<char, kReadChunkBytes> buffer_{};
  std::string remote_;
  std::string address_;  // remote_ without the port: whose slots an eviction takes
  std::string cert_cn_;
  std::uint32_t peer_ = 0;  // set once the Hello is accepted
  std::uint64_t pre_hello_bytes_ = 0;
  bool pending_ = false;    // counted in MeshState::inbound_pending
  bool closed_ = false;
};

}  // namespace vmrep::transport::detail

#pragma once
// Private to transport/: the listening socket; hands every accepted
// connection to a new InboundSession.
//
// Contract: io thread only. Pending accepts hold the listener.

#include <cstdint>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/mesh_state.hpp"

namespace vmrep::transport::detail {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  explicit Listener(std::shared_ptr<MeshState> mesh);
  // Binds listen_host:listen_port (SO_REUSEADDR) and listens; returns the
  // bound port. Throws std::runtime_error, one line, when it cannot.
  std::uint16_t open();
  void accept_next();
  void close();

 private:
  std::shared_ptr<MeshState> mesh_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  bool closed_ = false;
};

}  // namespace vmrep::transport::detail

#pragma once
// Private to transport/: our connection to one peer. It dials, verifies the
// server certificate's CN against the peer's configured name, sends Hello and
// then the queued frames in order, and redials with capped, jittered backoff
// whenever the connection fails or drops.
//
// Contract: io thread only. Every handler holds the link (shared_from_this),
// the stream it operates on and its buffers (an asio::ssl::stream must outlive
// its pending operations, even aborted ones), and carries the generation of
// the connection it belongs to; a handler of an older connection, or one that
// runs after close_now(), does nothing.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/mesh_state.hpp"
#include "transport/stream.hpp"

namespace vmrep::transport::detail {

class OutboundLink : public std::enable_shared_from_this<OutboundLink> {
 public:
  OutboundLink(std::shared_ptr<MeshState> mesh, const PeerEndpoint& peer);

  void start();
  // Queues one encoded frame (bounded: the oldest is dropped when full) and
  // writes it once the link is up.
  void send(std::string encoded);
  // Sends `goodbye` (encoded) if the link is up, then closes within
  // kGoodbyeGrace; closes at once otherwise. No redial afterwards.
  void stop(std::string goodbye);
  // Closes everything now; no redial afterwards. Idempotent.
  void close_now();

 private:
  enum class State { idle, dialing, up, backoff, stopping, closed };
  struct Pending {
    std::string bytes;
    bool counted = true;  // false for the Hello: frames_out counts payload frames
  };

  void dial();
  void connect_next(std::uint64_t gen, std::shared_ptr<const std::vector<tcp::endpoint>> endpoints, std::size_t at,
                    boost::system::error_code last);
  void on_connected(std::uint64_t gen, const boost::system::error_code& ec);
  void on_handshake(std::uint64_t gen, const boost::system::error_code& ec);
  void established();
  void fail(const std::string& why);
  void write_next();
  void on_written(std::uint64_t gen, const boost::system::error_code& ec, std::size_t bytes);
  void read_next();
  bool current(std::uint64_t gen) const { return gen == gen_ && state_ != State::closed; }

  std::shared_ptr<MeshState> mesh_;
  const PeerEndpoint peer_;
  State state_ = State::idle;
  std::uint64_t gen_ = 0;
  std::shared_ptr<Stream> stream_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;  // connect + handshake, or the Goodbye grace
  asio::steady_timer backoff_;
  std::deque<Pending> queue_;
  bool writing_ = false;
  bool inflight_counted_ = false;
  // Consecutive failures; an established link resets it only once it has
  // lasted kStableLink, so a peer that accepts and then hangs up (refusing
  // our Hello, say) is redialed with growing delays, not every backoff_min.
  unsigned failures_ = 0;
  std::chrono::steady_clock::time_point up_since_{};
  std::string last_failure_;  // a repeated failure is logged once, not every retry
  bool quiet_up_ = false;     // the link keeps flapping the same way: "up" at debug
};

}  // namespace vmrep::transport::detail

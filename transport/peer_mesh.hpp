#pragma once
// The peer mesh: one TLS connection from every node to every other (each node
// dials each peer and sends on that connection; it receives on the ones its
// peers dialed). Mutual certificate checks against the cluster CA; the CN of
// a peer's certificate must be the node name it claims in its Hello (inbound)
// or the node it dialed (outbound). Reconnects with capped, jittered
// exponential backoff. A frame that is too large, malformed, of another wire
// version, or from the wrong node closes that connection with one log line.
//
// Contract: everything runs on the io_context's one thread; handlers are
// called on it. send() never blocks: frames queue per peer (bounded; the
// oldest are dropped when full, since consensus messages are resent anyway).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "transport/peer.pb.h"

namespace vmrep::transport {

struct PeerEndpoint {
  std::uint32_t id = 0;  // 1-based node id
  std::string name;
  std::string host;
  std::uint16_t port = 0;
};

struct MeshConfig {
  std::string cluster;
  std::uint32_t self_id = 0;
  std::string self_name;
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 0;
  std::vector<PeerEndpoint> peers;  // every other node
  bool insecure = false;            // plain TCP (the config allows it on loopback only)
  std::string ca_file, cert_file, key_file;
  std::size_t max_frame_bytes = 1 << 20;
  std::size_t max_queued_frames = 1024;
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::uint64_t jitter_seed = 0;  // for the backoff jitter (seeded: reproducible)
};

struct PeerStats {
  bool outbound_up = false;  // our connection to it is established
  bool inbound_up = false;   // its connection to us is established
  std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t frames_dropped = 0;  // queue overflow or not connected
  std::uint64_t connections_refused = 0;
  std::string last_error;  // one line, empty if none
};

class PeerMesh {
 public:
  using FrameHandler = std::function<void(std::uint32_t from, const wire::Frame& frame)>;
  using LinkHandler = std::function<void(std::uint32_t peer, bool inbound_up)>;

  // Throws std::runtime_error (one line naming the file) when TLS material
  // cannot be loaded.
  PeerMesh(boost::asio::io_context& io, MeshConfig config, FrameHandler on_frame, LinkHandler on_link);
  ~PeerMesh();

  void start();                              // listen and dial every peer
  void stop(const std::string& reason);      // Goodbye to every peer, then close all
  void send(std::uint32_t to, const wire::Frame& frame);
  void broadcast(const wire::Frame& frame);

  // Loads the TLS CA, certificate and key files again for the connections
  // made from now on (`vmrepctl pki renew` then SIGHUP: no restart, no link
  // dropped). Throws std::runtime_error naming the file, keeping the old ones.
  void reload_tls();

  std::uint16_t listen_port() const;  // the bound port (useful when configured 0)
  PeerStats stats(std::uint32_t peer) const;
  std::uint64_t inbound_refused() const;  // connections refused before a peer was known

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmrep::transport

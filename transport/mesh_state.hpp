#pragma once
// Private to transport/: what the listener, the inbound sessions and the
// outbound links of one PeerMesh share.
//
// Ownership: PeerMesh::Impl, every link and every session hold it by
// shared_ptr, and every pending asynchronous operation holds its link or
// session, so a handler that runs after the PeerMesh is gone still finds
// live objects. Once `stopped` is set nothing calls on_frame/on_link again.
//
// Threads: everything here runs on the io thread, except the stats, which
// any thread may read (under stats_mutex).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "text/log_budget.hpp"
#include "transport/peer_mesh.hpp"

namespace vmrep::transport::detail {

class InboundSession;

// A dialer has this long for connect + TLS handshake.
inline constexpr std::chrono::milliseconds kHandshakeTimeout{5000};
// An outbound link that lasted this long counts as a success for the backoff.
inline constexpr std::chrono::milliseconds kStableLink{5000};
// stop() waits at most this long for a Goodbye to leave.
inline constexpr std::chrono::milliseconds kGoodbyeGrace{200};
// A listener gives an accepted connection this long to finish its TLS
// handshake and send its Hello (about 1.5 round trips for a real peer).
inline constexpr std::chrono::milliseconds kInboundHelloTimeout{3000};
// Connections accepted but not yet past their Hello. Past this many, the
// oldest from the source address holding the most is dropped for the newest:
// a peer with a valid certificate is past its Hello in a round trip or two,
// so idle connections cannot keep it out, and a flood from one address only
// displaces its own.
inline constexpr std::size_t kMaxPendingInbound = 64;
// Refused connections are logged at most this many times per window; the
// rest are counted and summed up in the next line.
inline constexpr std::size_t kRefusalLinesPerWindow = 5;
inline constexpr std::chrono::seconds kRefusalLogWindow{10};
inline constexpr std::size_t kReadChunkBytes = 16 * 1024;

// A string from the network made fit for one log line: text::peer_text (valid
// UTF-8, control characters '?') of at most 64 bytes, "..." when it was cut.
std::string printable(std::string_view s);

struct MeshState {
  MeshState(boost::asio::io_context& io_context, MeshConfig cfg, PeerMesh::FrameHandler frame_handler,
            PeerMesh::LinkHandler link_handler);

  boost::asio::io_context& io;
  const MeshConfig config;
  // Null in insecure mode. Replaced by reload_tls(); streams keep theirs.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Loads the configured CA, certificate and key again (a renewed
  // certificate); throws like the constructor and then keeps the old ones.
  void reload_tls();
  PeerMesh::FrameHandler on_frame;
  PeerMesh::LinkHandler on_link;
  bool stopped = false;
  std::mt19937_64 rng;  // backoff jitter only

  const PeerEndpoint* peer_by_id(std::uint32_t id) const;
  const PeerEndpoint* peer_by_name(const std::string& name) const;
  // "h2" for a configured peer, "#7" otherwise (log lines).
  std::string name_of(std::uint32_t id) const;

  // Stats. `f` runs under the lock; keep it to field updates.
  template <class F>
  void update_stats(std::uint32_t peer, F&& f) {
    std::lock_guard lock(stats_mutex_);
    auto it = stats_.find(peer);
    if (it != stats_.end()) f(it->second);
  }
  PeerStats stats(std::uint32_t peer) const;
  std::atomic<std::uint64_t> inbound_refused{0};

  // Inbound registry. Weak: a session lives as long as its pending
  // operations, and stop() reaches every one still alive.
  std::map<std::uint32_t, std::weak_ptr<InboundSession>> inbound_current;
  std::list<std::weak_ptr<InboundSession>> inbound_all;
  std::size_t inbound_pending = 0;  // accepted, no Hello yet
  std::map<std::string, std::size_t> inbound_pending_by_address;
  void register_inbound(const std::shared_ptr<InboundSession>& s);

  // One warning line for a refused connection, unless this window's lines
  // are spent (then counted; the next logged line says how many were not).
  void log_refusal(const std::string& remote, const std::string& why);

 private:
  text::LogBudget refusal_log_{kRefusalLinesPerWindow, kRefusalLogWindow};
  std::map<std::uint32_t, const PeerEndpoint*> by_id_;
  std::map<std::string, const PeerEndpoint*> by_name_;
  mutable std::mutex stats_mutex_;
  std::map<std::uint32_t, PeerStats> stats_;
};

}  // namespace vmrep::transport::detail

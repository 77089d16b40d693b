// PeerMesh: the public face. Owns the listener and one OutboundLink per peer;
// inbound sessions own themselves (see mesh_state.hpp for the lifetimes).

#include "transport/peer_mesh.hpp"

#include <map>
#include <utility>

#include <spdlog/spdlog.h>

#include "transport/codec.hpp"
#include "transport/inbound_session.hpp"
#include "transport/listener.hpp"
#include "transport/mesh_state.hpp"
#include "transport/outbound_link.hpp"

namespace vmrep::transport {

using detail::InboundSession;
using detail::Listener;
using detail::MeshState;
using detail::OutboundLink;

class PeerMesh::Impl {
 public:
  Impl(boost::asio::io_context& io, MeshConfig config, FrameHandler on_frame, LinkHandler on_link)
      : state_(std::make_shared<MeshState>(io, std::move(config), std::move(on_frame), std::move(on_link))) {
    for (const auto& peer : state_->config.peers) {
      links_.emplace(peer.id, std::make_shared<OutboundLink>(state_, peer));
    }
  }

  ~Impl() {
    // Without stop(): close at once, no Goodbye. What is still pending holds
    // its own link, session or listener (and the MeshState with the
    // handlers, which are never called again: `stopped` is set).
    if (!state_->stopped) close_all(nullptr);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void start() {
    if (started_ || state_->stopped) return;
    listener_ = std::make_shared<Listener>(state_);
    port_ = listener_->open();
    started_ = true;
    listener_->accept_next();
    for (auto& [id, link] : links_) link->start();
  }

  void stop(const std::string& reason) {
    if (state_->stopped) return;
    spdlog::info("peer mesh stopping: {}", reason);
    wire::Frame goodbye;
    goodbye.mutable_goodbye()->set_reason(reason);
    const std::string encoded = encode_frame(std::move(goodbye));
    close_all(&encoded);
  }

  void send(std::uint32_t to, const wire::Frame& frame) {
    if (state_->stopped) return;
    auto it = links_.find(to);
    if (it == links_.end()) {
      spdlog::debug("send to unknown peer #{} ignored", to);
      return;
    }
    std::string encoded = encode_frame(frame);
    if (fits(to, encoded)) it->second->send(std::move(encoded));
  }

  void broadcast(const wire::Frame& frame) {
    if (state_->stopped || links_.empty()) return;
    const std::string encoded = encode_frame(frame);
    for (auto& [id, link] : links_) {
      if (fits(id, encoded)) link->send(encoded);
    }
  }

  std::uint16_t listen_port() const { return port_; }
  PeerStats stats(std::uint32_t peer) const { return state_->stats(peer); }
  void reload_tls() { state_->reload_tls(); }
  std::uint64_t inbound_refused() const { return state_->inbound_refused.load(); }

 private:
  // A frame the receiver would refuse is not sent at all.
  bool fits(std::uint32_t to, const std::string& encoded) {
    const std::size_t size = encoded.size() - 4;
    if (size <= state_->config.max_frame_bytes) return true;
    spdlog::warn("peer {}: frame of {} bytes exceeds {}; not sent", state_->name_of(to), size,
                 state_->config.max_frame_bytes);
    state_->update_stats(to, [](PeerStats& s) { ++s.frames_dropped; });
    return false;
  }

  // goodbye null: close everything now.
  void close_all(const std::string* goodbye) {
    state_->stopped = true;
    if (listener_) listener_->close();
    for (auto& [id, link] : links_) {
      if (goodbye != nullptr) {
        link->stop(*goodbye);
      } else {
        link->close_now();
      }
    }
    for (auto& weak : state_->inbound_all) {
      if (auto session = weak.lock()) session->close_quietly();
    }
    state_->inbound_all.clear();
    state_->inbound_current.clear();
  }

  std::shared_ptr<MeshState> state_;
  std::shared_ptr<Listener> listener_;
  std::map<std::uint32_t, std::shared_ptr<OutboundLink>> links_;
  std::uint16_t port_ = 0;
  bool started_ = false;
};

PeerMesh::PeerMesh(boost::asio::io_context& io, MeshConfig config, FrameHandler on_frame, LinkHandler on_link)
    : impl_(std::make_unique<Impl>(io, std::move(config), std::move(on_frame), std::move(on_link))) {}

PeerMesh::~PeerMesh() = default;

void PeerMesh::start() { impl_->start(); }
void PeerMesh::stop(const std::string& reason) { impl_->stop(reason); }
void PeerMesh::send(std::uint32_t to, const wire::Frame& frame) { impl_->send(to, frame); }
void PeerMesh::broadcast(const wire::Frame& frame) { impl_->broadcast(frame); }
std::uint16_t PeerMesh::listen_port() const { return impl_->listen_port(); }
void PeerMesh::reload_tls() { impl_->reload_tls(); }
PeerStats PeerMesh::stats(std::uint32_t peer) const { return impl_->stats(peer); }
std::uint64_t PeerMesh::inbound_refused() const { return impl_->inbound_refused(); }

}  // namespace vmrep::transport

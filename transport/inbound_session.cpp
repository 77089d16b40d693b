// InboundSession: handshake, Hello check, then frames to on_frame.

#include "transport/inbound_session.hpp"

#include <utility>

#include <boost/asio/error.hpp>
#include <spdlog/spdlog.h>

#include "transport/tls_context.hpp"

namespace vmrep::transport::detail {

InboundSession::InboundSession(std::shared_ptr<MeshState> mesh, tcp::socket&& accepted)
    : mesh_(std::move(mesh)),
      stream_(std::make_shared<Stream>(std::move(accepted), mesh_->tls)),
      deadline_(mesh_->io),
      decoder_(mesh_->config.max_frame_bytes) {}

void InboundSession::start() {
  remote_ = stream_->remote_text();
  boost::system::error_code ec;
  address_ = socket().remote_endpoint(ec).address().to_string();
  if (mesh_->stopped || ec) {
    close_stream();
    return;
  }
  if (mesh_->inbound_pending >= kMaxPendingInbound) evict_oldest_pending();
  pending_ = true;
  ++mesh_->inbound_pending;
  ++mesh_->inbound_pending_by_address[address_];
  mesh_->register_inbound(shared_from_this());
  boost::system::error_code ignored;
  socket().set_option(tcp::no_delay(true), ignored);
  stream_->set_verify(/*server_side=*/true);

  auto self = shared_from_this();
  deadline_.expires_after(kInboundHelloTimeout);
  deadline_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->closed_ || self->peer_ != 0) return;
    self->refuse("no Hello within " + std::to_string(kInboundHelloTimeout.count()) + " ms");
  });
  stream_->async_handshake(asio::ssl::stream_base::server, [self](const boost::system::error_code& ec) {
    if (self->closed_) return;
    if (ec) {
      self->refuse("TLS handshake failed: " + ec.message());
      return;
    }
    if (self->stream_->secure()) {
      // Another cluster's certificate (same CA) says nothing about our
      // nodes: refused before its CN is taken to name one of them.
      const std::string mismatch =
          cluster_mismatch(self->stream_->peer_organization(), self->mesh_->config.cluster);
      if (!mismatch.empty()) {
        self->refuse("client " + mismatch);
        return;
      }
      self->cert_cn_ = self->stream_->peer_common_name();
      if (self->cert_cn_.empty()) {
        self->refuse("client certificate has no verified CN");
        return;
      }
    }
    self->read_next();
  });
}

void InboundSession::read_next() {
  stream_->async_read_some(asio::buffer(buffer_),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                             self->on_read(ec, n);
                           });
}

void InboundSession::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (closed_) return;
  if (ec) {
    const std::string why = Stream::read_error_text(ec);
    if (peer_ == 0) {
      refuse("connection lost before its Hello: " + why);
    } else {
      close_established(why, /*warn=*/false);
    }
    return;
  }
  if (peer_ != 0) {
    mesh_->update_stats(peer_, [n](PeerStats& s) { s.bytes_in += n; });
  } else {
    pre_hello_bytes_ += n;
  }
  decoder_.feed(std::string_view(buffer_.data(), n));
  wire::Frame frame;
  std::string error;
  for (;;) {
    const auto status = decoder_.next(frame, error);
    if (status == FrameDecoder::Status::need_more) break;
    if (status == FrameDecoder::Status::error) {
      if (peer_ == 0) {
        refuse(error);
      } else {
        close_established("frame refused: " + error, /*warn=*/true);
      }
      return;
    }
    if (!handle_frame(frame)) return;
  }
  read_next();
}

bool InboundSession::handle_frame(wire::Frame& frame) {
  if (peer_ == 0) return accept_hello(frame);
  if (frame.has_hello()) return true;  // repeats carry nothing new
  if (frame.body_case() == wire::Frame::BODY_NOT_SET) {
    // A body this build does not know (a newer peer of the same wire
    // version added one): skipped, the connection stays.
    spdlog::debug("peer {}: frame without a known body ignored", mesh_->name_of(peer_));
    return true;
  }
  mesh_->update_stats(peer_, [](PeerStats& s) { ++s.frames_in; });
  if (mesh_->on_frame) mesh_->on_frame(peer_, frame);
  // The handler may have stopped the mesh, which closed this session.
  return !closed_ && !mesh_->stopped;
}

bool InboundSession::accept_hello(const wire::Frame& frame) {
  if (!frame.has_hello()) {
    refuse("first frame is not a Hello");
    return false;
  }
  const auto& hello = frame.hello();
  if (hello.cluster() != mesh_->config.cluster) {
    refuse("cluster '" + printable(hello.cluster()) + "', expected '" + mesh_->config.cluster + "'");
    return false;
  }
  if (stream_->secure() && hello.node() != cert_cn_) {
    refuse("certificate CN '" + printable(cert_cn_) + "' claims to be '" + printable(hello.node()) + "'");
    return false;
  }
  const PeerEndpoint* peer = mesh_->peer_by_name(hello.node());
  if (peer == nullptr) {
    refuse("unknown node '" + printable(hello.node()) + "'");
    return false;
  }

  peer_ = peer->id;
  leave_pending();
  deadline_.cancel();
  bool replaced = false;
  if (auto old = mesh_->inbound_current[peer_].lock(); old && old.get() != this) {
    old->close_quietly();
    replaced = true;
  }
  mesh_->inbound_current[peer_] = weak_from_this();
  const std::uint64_t hello_bytes = pre_hello_bytes_;
  mesh_->update_stats(peer_, [hello_bytes](PeerStats& s) {
    s.inbound_up = true;
    s.bytes_in += hello_bytes;
  });
  if (replaced) {
    spdlog::info("peer {}: inbound link from {} replaces the previous one", peer->name, remote_);
    return true;
  }
  spdlog::info("peer {}: inbound link up from {}", peer->name, remote_);
  if (mesh_->on_link) mesh_->on_link(peer_, true);
  return !closed_ && !mesh_->stopped;
}

void InboundSession::evict_oldest_pending() {
  // The address holding the most slots loses its oldest: a flood from one
  // address only ever pushes out its own connections, while peers that share
  // an address (a test cluster on 127.0.0.1) are never refused for it.
  std::string busiest;
  std::size_t most = 0;
  for (const auto& [address, n] : mesh_->inbound_pending_by_address) {
    if (n > most) {
      most = n;
      busiest = address;
    }
  }
  for (const auto& w : mesh_->inbound_all) {
    const auto s = w.lock();
    if (!s || s.get() == this || !s->awaiting_hello() || s->address_ != busiest) continue;
    s->refuse("dropped for a newer connection: " + std::to_string(kMaxPendingInbound) +
              " connections await their Hello, " + std::to_string(most) + " of them from " + busiest);
    return;
  }
}

void InboundSession::leave_pending() {
  if (!pending_) return;
  pending_ = false;
  --mesh_->inbound_pending;
  auto it = mesh_->inbound_pending_by_address.find(address_);
  if (it != mesh_->inbound_pending_by_address.end() && --it->second == 0) mesh_->inbound_pending_by_address.erase(it);
}

void InboundSession::refuse(const std::string& why) {
  if (closed_) return;
  mesh_->log_refusal(remote_, why);
  ++mesh_->inbound_refused;
  // With TLS the certificate says which peer this was, whatever it claimed.
  if (const PeerEndpoint* p = cert_cn_.empty() ? nullptr : mesh_->peer_by_name(cert_cn_); p != nullptr) {
    mesh_->update_stats(p->id, [&why](PeerStats& s) {
      ++s.connections_refused;
      s.last_error = "refused inbound connection: " + why;
    });
  }
  close_stream();
}

void InboundSession::close_established(const std::string& why, bool warn) {
  if (closed_) return;
  const std::string name = mesh_->name_of(peer_);
  if (warn) {
    spdlog::warn("peer {}: {}; closing the inbound link from {}", name, why, remote_);
  } else {
    spdlog::info("peer {}: inbound link down: {}", name, why);
  }
  auto it = mesh_->inbound_current.find(peer_);
  const bool current = it != mesh_->inbound_current.end() && it->second.lock().get() == this;
  close_stream();
  if (!current) return;
  mesh_->inbound_current.erase(it);
  mesh_->update_stats(peer_, [&why](PeerStats& s) {
    s.inbound_up = false;
    s.last_error = why;
  });
  if (!mesh_->stopped && mesh_->on_link) mesh_->on_link(peer_, false);
}

void InboundSession::close_quietly() {
  if (closed_) return;
  if (peer_ != 0) {
    auto it = mesh_->inbound_current.find(peer_);
    if (it != mesh_->inbound_current.end() && it->second.lock().get() == this) {
      mesh_->inbound_current.erase(it);
      mesh_->update_stats(peer_, [](PeerStats& s) { s.inbound_up = false; });
    }
  }
  close_stream();
}

void InboundSession::close_stream() {
  closed_ = true;
  leave_pending();
  deadline_.cancel();
  stream_->close();
}

}  // namespace vmrep::transport::detail

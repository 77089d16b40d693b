// OutboundLink: dial, verify, Hello, send in order, redial with backoff.

#include "transport/outbound_link.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <spdlog/spdlog.h>

#include "transport/backoff.hpp"
#include "transport/cloexec.hpp"
#include "transport/codec.hpp"
#include "transport/tls_context.hpp"

namespace vmrep::transport::detail {

OutboundLink::OutboundLink(std::shared_ptr<MeshState> mesh, const PeerEndpoint& peer)
    : mesh_(std::move(mesh)), peer_(peer), resolver_(mesh_->io), deadline_(mesh_->io), backoff_(mesh_->io) {}

void OutboundLink::start() {
  if (state_ == State::idle) dial();
}

void OutboundLink::dial() {
  state_ = State::dialing;
  const std::uint64_t gen = ++gen_;
  stream_ = std::make_shared<Stream>(mesh_->io, mesh_->tls);
  stream_->set_verify(/*server_side=*/false);
  auto self = shared_from_this();

  deadline_.expires_after(kHandshakeTimeout);
  deadline_.async_wait([self, gen](const boost::system::error_code& ec) {
    if (ec || !self->current(gen) || self->state_ != State::dialing) return;
    self->fail("no connection within " + std::to_string(kHandshakeTimeout.count()) + " ms");
  });
  resolver_.async_resolve(
      peer_.host, std::to_string(peer_.port),
      [self, gen](const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
        if (!self->current(gen)) return;
        if (ec) {
          self->fail("cannot resolve " + self->peer_.host + ": " + ec.message());
          return;
        }
        auto endpoints = std::make_shared<std::vector<tcp::endpoint>>();
        for (const auto& entry : results) endpoints->push_back(entry.endpoint());
        self->connect_next(gen, std::move(endpoints), 0, asio::error::host_not_found);
      });
}

// Tries the resolved endpoints in order, each on a socket opened here and
// marked close-on-exec before it connects (asio::async_connect would open its
// own socket without the flag). `last` is the previous attempt's error.
void OutboundLink::connect_next(std::uint64_t gen, std::shared_ptr<const std::vector<tcp::endpoint>> endpoints,
                                std::size_t at, boost::system::error_code last) {
  if (!current(gen)) return;
  if (at == endpoints->size()) return on_connected(gen, last);
  tcp::socket& socket = stream_->socket();
  boost::system::error_code ec;
  socket.close(ec);
  socket.open((*endpoints)[at].protocol(), ec);
  if (ec) return connect_next(gen, std::move(endpoints), at + 1, ec);
  set_cloexec(socket.native_handle());
  const tcp::endpoint target = (*endpoints)[at];
  socket.async_connect(target, [self = shared_from_this(), gen, endpoints, at, stream = stream_](
                                   const boost::system::error_code& cec) mutable {
    if (!cec || cec == asio::error::operation_aborted) return self->on_connected(gen, cec);
    self->connect_next(gen, std::move(endpoints), at + 1, cec);
  });
}

void OutboundLink::on_connected(std::uint64_t gen, const boost::system::error_code& ec) {
  if (!current(gen)) return;
  if (ec) {
    fail("cannot connect to " + peer_.host + ":" + std::to_string(peer_.port) + ": " + ec.message());
    return;
  }
  boost::system::error_code ignored;
  stream_->socket().set_option(tcp::no_delay(true), ignored);
  stream_->async_handshake(asio::ssl::stream_base::client,
                           [self = shared_from_this(), gen, stream = stream_](const boost::system::error_code& hec) {
                             self->on_handshake(gen, hec);
                           });
}

void OutboundLink::on_handshake(std::uint64_t gen, const boost::system::error_code& ec) {
  if (!current(gen)) return;
  if (ec) {
    fail("TLS handshake with " + peer_.host + ":" + std::to_string(peer_.port) + " failed: " + ec.message());
    return;
  }
  if (stream_->secure()) {
    const std::string mismatch = cluster_mismatch(stream_->peer_organization(), mesh_->config.cluster);
    if (!mismatch.empty()) {
      mesh_->update_stats(peer_.id, [](PeerStats& s) { ++s.connections_refused; });
      fail("refused server " + peer_.host + ":" + std::to_string(peer_.port) + ": " + mismatch);
      return;
    }
    const std::string cn = stream_->peer_common_name();
    if (cn != peer_.name) {
      mesh_->update_stats(peer_.id, [](PeerStats& s) { ++s.connections_refused; });
      fail("refused server " + peer_.host + ":" + std::to_string(peer_.port) + ": certificate CN '" + cn +
           "', expected '" + peer_.name + "'");
      return;
    }
  }
  established();
}

void OutboundLink::established() {
  deadline_.cancel();
  state_ = State::up;
  up_since_ = std::chrono::steady_clock::now();
  mesh_->update_stats(peer_.id, [](PeerStats& s) { s.outbound_up = true; });
  if (quiet_up_) {
    spdlog::debug("peer {}: outbound link up again ({}:{})", peer_.name, peer_.host, peer_.port);
  } else {
    spdlog::info("peer {}: outbound link up ({}:{})", peer_.name, peer_.host, peer_.port);
  }

  wire::Frame hello;
  hello.mutable_hello()->set_cluster(mesh_->config.cluster);
  hello.mutable_hello()->set_node(mesh_->config.self_name);
  queue_.push_front(Pending{encode_frame(std::move(hello)), false});  // written at once: writing_ is false
  read_next();
  write_next();
}

void OutboundLink::fail(const std::string& why) {
  if (state_ == State::closed) return;
  if (state_ == State::stopping) {
    close_now();
    return;
  }
  const bool was_up = state_ == State::up;
  ++gen_;
  deadline_.cancel();
  resolver_.cancel();
  if (stream_) stream_->close();
  if (writing_ && inflight_counted_) mesh_->update_stats(peer_.id, [](PeerStats& s) { ++s.frames_dropped; });
  writing_ = false;
  mesh_->update_stats(peer_.id, [&why](PeerStats& s) {
    s.outbound_up = false;
    s.last_error = why;
  });

  const bool stable = was_up && std::chrono::steady_clock::now() - up_since_ >= kStableLink;
  if (stable) failures_ = 0;
  const auto delay = backoff_delay(mesh_->config.backoff_min, mesh_->config.backoff_max, failures_, mesh_->rng);
  failures_ = std::min(failures_ + 1, 64u);
  const bool flap = was_up && !stable;  // accepted, then dropped at once
  const bool repeat = why == last_failure_ && !stable;
  // A peer that keeps accepting and hanging up is one event, not two lines a retry.
  quiet_up_ = flap && repeat;
  if (!repeat) {
    spdlog::warn("peer {}: {}{}; redialing in {} ms", peer_.name, was_up ? "outbound link down: " : "", why,
                 delay.count());
  } else {
    spdlog::debug("peer {}: {}{}; redialing in {} ms", peer_.name, was_up ? "outbound link down: " : "", why,
                  delay.count());
  }
  last_failure_ = why;

  state_ = State::backoff;
  backoff_.expires_after(delay);
  backoff_.async_wait([self = shared_from_this(), gen = gen_](const boost::system::error_code& ec) {
    if (ec || !self->current(gen) || self->state_ != State::backoff) return;
    self->dial();
  });
}

void OutboundLink::send(std::string encoded) {
  if (state_ == State::stopping || state_ == State::closed) {
    mesh_->update_stats(peer_.id, [](PeerStats& s) { ++s.frames_dropped; });
    return;
  }
  // The Hello never waits here (established() hands it to the writer at
  // once), so every queued entry is a payload frame.
  const std::size_t cap = std::max<std::size_t>(1, mesh_->config.max_queued_frames);
  std::uint64_t dropped = 0;
  while (queue_.size() >= cap) {
    queue_.pop_front();
    ++dropped;
  }
  if (dropped > 0) mesh_->update_stats(peer_.id, [dropped](PeerStats& s) { s.frames_dropped += dropped; });
  queue_.push_back(Pending{std::move(encoded), true});
  write_next();
}

void OutboundLink::write_next() {
  if (writing_ || queue_.empty() || (state_ != State::up && state_ != State::stopping)) return;
  auto bytes = std::make_shared<std::string>(std::move(queue_.front().bytes));
  inflight_counted_ = queue_.front().counted;
  queue_.pop_front();
  writing_ = true;
  stream_->async_write(asio::buffer(*bytes), [self = shared_from_this(), gen = gen_, stream = stream_, bytes](
                                                 const boost::system::error_code& ec, std::size_t n) {
    self->on_written(gen, ec, n);
  });
}

void OutboundLink::on_written(std::uint64_t gen, const boost::system::error_code& ec, std::size_t bytes) {
  if (!current(gen)) return;
  if (ec) {
    fail("write failed: " + ec.message());
    return;
  }
  writing_ = false;
  const bool counted = inflight_counted_;
  mesh_->update_stats(peer_.id, [counted, bytes](PeerStats& s) {
    if (counted) ++s.frames_out;
    s.bytes_out += bytes;
  });
  if (state_ == State::stopping && queue_.empty()) {
    close_now();
    return;
  }
  write_next();
}

void OutboundLink::read_next() {
  // Peers send nothing on the connection we dialed; reading only tells us
  // when it drops.
  auto sink = std::make_shared<std::array<char, 512>>();
  stream_->async_read_some(asio::buffer(*sink), [self = shared_from_this(), gen = gen_, stream = stream_, sink](
                                                    const boost::system::error_code& ec, std::size_t) {
    if (!self->current(gen)) return;
    if (ec) {
      self->fail(Stream::read_error_text(ec));
      return;
    }
    self->read_next();
  });
}

void OutboundLink::stop(std::string goodbye) {
  if (state_ == State::closed || state_ == State::stopping) return;
  if (state_ != State::up) {
    close_now();
    return;
  }
  state_ = State::stopping;
  backoff_.cancel();
  if (!queue_.empty()) {
    const auto n = queue_.size();
    mesh_->update_stats(peer_.id, [n](PeerStats& s) { s.frames_dropped += n; });
    queue_.clear();
  }
  queue_.push_back(Pending{std::move(goodbye), true});
  write_next();
  deadline_.expires_after(kGoodbyeGrace);
  deadline_.async_wait([self = shared_from_this(), gen = gen_](const boost::system::error_code& ec) {
    if (ec || !self->current(gen) || self->state_ != State::stopping) return;
    self->close_now();
  });
}

void OutboundLink::close_now() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  ++gen_;
  deadline_.cancel();
  backoff_.cancel();
  resolver_.cancel();
  if (stream_) stream_->close();
  writing_ = false;
  queue_.clear();
  mesh_->update_stats(peer_.id, [](PeerStats& s) { s.outbound_up = false; });
}

}  // namespace vmrep::transport::detail

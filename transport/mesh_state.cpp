#include "transport/mesh_state.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "text/utf8.hpp"

#include "transport/tls_context.hpp"

namespace vmrep::transport::detail {

std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 64;
  return text::peer_text(s, kMax) + (s.size() > kMax ? "..." : "");
}

MeshState::MeshState(boost::asio::io_context& io_context, MeshConfig cfg, PeerMesh::FrameHandler frame_handler,
                     PeerMesh::LinkHandler link_handler)
    : io(io_context),
      config(std::move(cfg)),
      on_frame(std::move(frame_handler)),
      on_link(std::move(link_handler)),
      rng(config.jitter_seed ^ config.self_id) {
  for (const auto& p : config.peers) {
    if (p.id == 0 || p.id == config.self_id) {
      throw std::runtime_error("peer '" + p.name + "' has id " + std::to_string(p.id) +
                               ", which is not a valid peer id");
    }
    if (p.name.empty() || p.name == config.self_name) {
      throw std::runtime_error("peer " + std::to_string(p.id) + " has name '" + p.name +
                               "', which is not a valid peer name");
    }
    if (!by_id_.emplace(p.id, &p).second) throw std::runtime_error("duplicate peer id " + std::to_string(p.id));
    if (!by_name_.emplace(p.name, &p).second) throw std::runtime_error("duplicate peer name '" + p.name + "'");
    stats_.emplace(p.id, PeerStats{});
  }
  if (!config.insecure) reload_tls();
}

void MeshState::reload_tls() {
  if (config.insecure) return;
  std::shared_ptr<boost::asio::ssl::context> fresh = make_tls_context(config.ca_file, config.cert_file, config.key_file);
  // Peers check our O= against their cluster: with the wrong one every link
  // would be refused, which looks like a network fault. Say it now.
  const std::string why = cluster_mismatch(certificate_organization(config.cert_file), config.cluster);
  if (!why.empty()) throw std::runtime_error(config.cert_file + ": our own " + why + "; every peer would refuse us");
  tls = std::move(fresh);
}

const PeerEndpoint* MeshState::peer_by_id(std::uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

const PeerEndpoint* MeshState::peer_by_name(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::string MeshState::name_of(std::uint32_t id) const {
  const auto* p = peer_by_id(id);
  return p != nullptr ? p->name : "#" + std::to_string(id);
}

PeerStats MeshState::stats(std::uint32_t peer) const {
  std::lock_guard lock(stats_mutex_);
  auto it = stats_.find(peer);
  return it == stats_.end() ? PeerStats{} : it->second;
}

void MeshState::register_inbound(const std::shared_ptr<InboundSession>& s) {
  inbound_all.remove_if([](const std::weak_ptr<InboundSession>& w) { return w.expired(); });
  inbound_all.push_back(s);
}

void MeshState::log_refusal(const std::string& remote, const std::string& why) {
  const auto skipped = refusal_log_.admit(std::chrono::steady_clock::now());
  if (!skipped) return;
  if (*skipped > 0)
    spdlog::warn("refused connection from {}: {} ({} more refused since the last line, not logged)", remote, why,
                 *skipped);
  else
    spdlog::warn("refused connection from {}: {}", remote, why);
}

}  // namespace vmrep::transport::detail

#include "controller/controller.hpp"

#include <spdlog/spdlog.h>

#include "text/utf8.hpp"
#include "transport/codec.hpp"
#include "transport/pki.hpp"

namespace vmrep::controller {
namespace {

consensus::NodeConfig node_config(const config::Config& c, std::uint32_t self, consensus::NodeId initial) {
  config::TickTiming t = config::to_ticks(c.timing);
  consensus::NodeConfig nc;
  nc.self = self;
  nc.n = static_cast<std::uint32_t>(c.nodes.size());
  nc.initial_primary = initial;
  nc.heartbeat_every_ticks = t.heartbeat_every_ticks;
  nc.detector.suspect_after_ticks = t.suspect_after_ticks;
  nc.detector.suspect_after_ticks_max = t.suspect_after_ticks_max;
  nc.detector.backoff_ticks = std::max<std::uint32_t>(1, t.suspect_after_ticks / 2);
  // The epoch pace: a decision about every two heartbeats.
  nc.epoch_min_ticks = 2 * t.heartbeat_every_ticks;
  nc.wrap_guard_ticks = 2 * t.suspect_after_ticks_max;
  return nc;
}

transport::MeshConfig mesh_config(const config::Config& c, std::uint32_t self) {
  transport::MeshConfig m;
  m.cluster = c.cluster_name;
  m.self_id = self;
  m.self_name = c.nodes[self - 1].name;
  m.listen_host = c.nodes[self - 1].address == "localhost" ? "127.0.0.1" : c.nodes[self - 1].address;
  m.listen_port = c.nodes[self - 1].port;
  for (std::uint32_t id = 1; id <= c.nodes.size(); ++id)
    if (id != self) m.peers.push_back({id, c.nodes[id - 1].name, c.nodes[id - 1].address, c.nodes[id - 1].port});
  m.insecure = c.tls.insecure;
  m.ca_file = c.tls.ca;
  m.cert_file = c.tls.cert;
  m.key_file = c.tls.key;
  m.jitter_seed = self;
  return m;
}

}  // namespace

Controller::Controller(boost::asio::io_context& io, config::Config config, std::uint32_t self_id)
    : io_(io), config_(std::move(config)), self_(self_id), events_(clock_), cert_timer_(io) {
  std::vector<std::string> names;
  for (const auto& n : config_.nodes) names.push_back(n.name);
  elections_.push_back(std::make_unique<agents::ElectionAgent>(
      agents::ElectionAgentConfig{0, "", names, node_config(config_, self_, 1)}, *this, events_));
  for (std::size_t i = 0; i < config_.services.size(); ++i) {
    const auto& svc = config_.services[i];
    consensus::NodeId first = svc.preferred.empty() ? 1 : config_.node_id(svc.preferred.front());
    elections_.push_back(std::make_unique<agents::ElectionAgent>(
        agents::ElectionAgentConfig{static_cast<std::uint32_t>(i + 1), svc.name, names,
                                    node_config(config_, self_, first == 0 ? 1 : first)},
        *this, events_));
  }
  mesh_ = std::make_unique<transport::PeerMesh>(
      io_, mesh_config(config_, self_), [this](std::uint32_t from, const wire::Frame& f) { on_frame(from, f); },
      [this](std::uint32_t peer, bool up) { on_link(peer, up); });
  heartbeat_ = std::make_unique<agents::HeartbeatAgent>(io_, std::chrono::milliseconds(config_.timing.tick_ms),
                                                        [this] { tick(); });
  control_ = std::make_unique<ControlServer>(io_, config_.control_socket, config_.control_socket_mode,
                                             config_.metrics_port);
  register_endpoints();
}

Controller::~Controller() {
  if (!stopped_) stop("shutdown");
}

std::string Controller::name_of(std::uint32_t id) const {
  return id >= 1 && id <= config_.nodes.size() ? config_.nodes[id - 1].name : "node#" + std::to_string(id);
}

void Controller::start() {
  started_ = std::chrono::steady_clock::now();
  if (!config_.services.empty()) start_replication();
  control_->start();
  mesh_->start();
  heartbeat_->start();
  if (!config_.tls.insecure) {
    // The certificate the mesh loaded (a renewed file counts after a restart).
    try {
      cert_not_after_ = transport::pki::certificate_not_after(config_.tls.cert);
      check_certificate();
    } catch (const std::exception& e) {
      spdlog::error("cannot read the expiry of the TLS certificate: {}", e.what());
    }
  }
  events_.record("", "started", "vmrepd " + name_of(self_) + " in cluster " + config_.cluster_name);
  spdlog::info("started as {} (id {}) in cluster {}: {} peer(s), {} service(s), control socket {}", name_of(self_),
               self_, config_.cluster_name, config_.nodes.size() - 1, config_.services.size(), config_.control_socket);
}

void Controller::check_certificate() {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string message = transport::pki::expiry_message(config_.tls.cert, *cert_not_after_, now);
  if (transport::pki::expiry_level(*cert_not_after_, now) == transport::pki::ExpiryLevel::expired) {
    spdlog::error("{}", message);
  } else if (!message.empty()) {
    spdlog::warn("{}", message);
  }
  cert_timer_.expires_after(std::chrono::hours(24));
  cert_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) check_certificate();
  });
}

void Controller::stop(const std::string& reason) {
  if (stopped_) return;
  stopped_ = true;
  cert_timer_.cancel();
  spdlog::info("stopping: {}", reason);
  events_.record("", "stopping", reason);
  // A primary that leaves takes its VM down: the peers promote a backup as
  // soon as they read our Goodbye, and two running copies would diverge.
  for (std::size_t i = 0; i < services_.size(); ++i) {
    if (!services_[i].agent->vm_up_here()) continue;
    try {
      spdlog::warn("service {}: stopping its VM {} because vmrepd stops", config_.services[i].name,
                   services_[i].host->domain());
      services_[i].host->power_off();
    } catch (const std::exception& e) {
      spdlog::error("service {}: could not stop the VM: {}", config_.services[i].name, e.what());
    }
  }
  heartbeat_->stop();
  mesh_->stop(reason);
  control_->stop();
}

void Controller::reload(const config::Config& fresh) {
  std::vector<std::string> restart_needed;
  if (fresh.nodes.size() != config_.nodes.size()) restart_needed.push_back("nodes");
  if (fresh.timing.tick_ms != config_.timing.tick_ms ||
      fresh.timing.heartbeat_interval_ms != config_.timing.heartbeat_interval_ms ||
      fresh.timing.suspect_timeout_ms != config_.timing.suspect_timeout_ms ||
      fresh.timing.suspect_timeout_max_ms != config_.timing.suspect_timeout_max_ms)
    restart_needed.push_back("timing");
  if (fresh.tls.ca != config_.tls.ca || fresh.tls.cert != config_.tls.cert || fresh.tls.key != config_.tls.key)
    restart_needed.push_back("tls");
  if (fresh.services.size() != config_.services.size()) restart_needed.push_back("services");
  config_.log_level = fresh.log_level;
  spdlog::set_level(spdlog::level::from_str(fresh.log_level));
  // The agents hold their own copy of the service: the new hooks must reach
  // them, not only the controller's copy (they did not, once).
  for (std::size_t i = 0; i < fresh.services.size() && i < config_.services.size(); ++i) {
    if (fresh.services[i].name != config_.services[i].name) {
      restart_needed.push_back("service " + config_.services[i].name + " renamed");
      continue;
    }
    config_.services[i].hooks = fresh.services[i].hooks;
    if (i < services_.size()) services_[i].agent->set_hooks(fresh.services[i].hooks);
  }
  std::string note = "log level " + fresh.log_level + ", hooks" + reload_certificate();
  if (!restart_needed.empty()) {
    std::string list;
    for (const auto& r : restart_needed) list += (list.empty() ? "" : ", ") + r;
    note += "; changed but needs a restart: " + list;
  }
  spdlog::info("reloaded configuration: {}", note);
  events_.record("", "config_reloaded", note);
}

// The same files again: a certificate renewed in place (vmrepctl pki renew)
// serves every connection made from now on; the links up keep theirs.
// Returns the note's part ("" in insecure mode); a file that does not load
// leaves the old certificate in use.
std::string Controller::reload_certificate() {
  if (config_.tls.insecure) return "";
  try {
    mesh_->reload_tls();
    cert_not_after_ = transport::pki::certificate_not_after(config_.tls.cert);
    spdlog::info("TLS certificate {} reloaded: expires {}", config_.tls.cert,
                 transport::pki::rfc3339(*cert_not_after_));
    cert_timer_.cancel();  // its handler sees operation_aborted; check again now
    check_certificate();
    return ", TLS certificate";
  } catch (const std::exception& e) {
    spdlog::error("TLS certificate not reloaded, the old one stays in use: {}", e.what());
    return ", TLS certificate NOT reloaded (see the log)";
  }
}

void Controller::tick() {
  for (auto& e : elections_) e->tick();
  for (auto& s : services_) s.agent->tick();
}

void Controller::send_replica(std::uint32_t to, const wire::Replica& m) {
  wire::Frame f;
  *f.mutable_replica() = m;
  mesh_->send(to, f);
}

void Controller::send(std::uint32_t to, std::uint32_t instance, const consensus::Message& m) {
  wire::Frame f;
  *f.mutable_consensus() = transport::to_wire(instance, m);
  mesh_->send(to, f);
}

void Controller::on_frame(std::uint32_t from, const wire::Frame& frame) {
  if (frame.has_goodbye()) {
    // The reason is the peer's text: one line, printable, bounded.
    const std::string reason = text::peer_text(frame.goodbye().reason(), 200);
    spdlog::info("peer {} is leaving: {}", name_of(from), reason);
    events_.record("", "peer_left", name_of(from) + ": " + reason);
    for (auto& e : elections_) e->peer_left(from);
    return;
  }
  if (frame.has_replica()) {
    const std::uint32_t instance = frame.replica().instance();
    if (instance == 0 || instance > services_.size()) {
      ++frames_refused_;
      spdlog::warn("peer {}: replica frame refused: unknown service instance {}", name_of(from), instance);
      return;
    }
    std::string error;
    if (!transport::replica_in_domain(frame.replica(), error)) {
      ++frames_refused_;
      spdlog::warn("peer {}: replica frame refused: {}", name_of(from), error);
      return;
    }
    services_[instance - 1].agent->on_message(from, frame.replica());
    return;
  }
  if (!frame.has_consensus()) return;
  const wire::Consensus& c = frame.consensus();
  std::string error;
  auto msg = transport::from_wire(c, error);
  if (!msg || c.instance() >= elections_.size()) {
    ++frames_refused_;
    spdlog::warn("peer {}: consensus frame refused: {}", name_of(from),
                 msg ? "unknown instance " + std::to_string(c.instance()) : error);
    return;
  }
  elections_[c.instance()]->on_message(from, *msg);
}

void Controller::on_link(std::uint32_t peer, bool up) {
  events_.record("", up ? "link_up" : "link_down", name_of(peer));
}

}  // namespace vmrep::controller

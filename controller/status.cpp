// The controller's views for the control API: /v1/status, /v1/events, /metrics.
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/controller.hpp"
#include "transport/pki.hpp"

namespace vmrep::controller {
namespace {

// The value of `key` in a query string ("a=1&b=x"), the first one given.
std::optional<std::string> query_text(const std::string& query, const std::string& key) {
  std::istringstream in(query);
  for (std::string kv; std::getline(in, kv, '&');) {
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.substr(0, eq) == key) return kv.substr(eq + 1);
  }
  return std::nullopt;
}

std::uint64_t query_number(const std::string& query, const std::string& key, std::uint64_t fallback) {
  const auto text = query_text(query, key);
  if (!text) return fallback;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return fallback;
  }
}

std::string label_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

nlohmann::json Controller::status() const {
  using nlohmann::json;
  const agents::ElectionAgent& cluster = *elections_.front();
  json peers = json::array();
  for (std::uint32_t id = 1; id <= config_.nodes.size(); ++id) {
    if (id == self_) continue;
    transport::PeerStats s = mesh_->stats(id);
    const auto& n = config_.nodes[id - 1];
    peers.push_back({{"name", n.name},
                     {"id", id},
                     {"address", n.address + ":" + std::to_string(n.port)},
                     {"reachable", s.outbound_up && s.inbound_up},
                     {"outbound_up", s.outbound_up},
                     {"inbound_up", s.inbound_up},
                     {"suspected", cluster.node().detector().suspects(id)},
                     {"frames_in", s.frames_in},
                     {"frames_out", s.frames_out},
                     {"frames_dropped", s.frames_dropped},
                     {"last_error", s.last_error}});
  }
  auto election = [&](const agents::ElectionAgent& e) {
    const consensus::Node& n = e.node();
    json suspects = json::array();
    for (std::uint32_t id = 1; id <= config_.nodes.size(); ++id)
      if (n.detector().suspects(id)) suspects.push_back(name_of(id));
    std::string primary = e.name_of(n.primary());
    return json{{"primary", primary.empty() ? json(nullptr) : json(primary)},
                {"primary_id", n.primary() == consensus::kNoNode ? json(nullptr) : json(n.primary())},
                {"epoch", n.key().epoch},
                {"round", n.key().round},
                {"role", agents::role_name(e.role())},
                {"suspects", suspects},
                {"primary_changes", e.primary_changes()}};
  };
  json services = json::array();
  for (std::size_t i = 1; i < elections_.size(); ++i) {
    json s = election(*elections_[i]);
    const auto& svc = config_.services[i - 1];
    s["name"] = svc.name;
    s["domain"] = svc.domain;
    s["mode"] = svc.mode == config::Mode::quorum ? "quorum" : "availability";
    if (i - 1 < services_.size()) s["replication"] = services_[i - 1].agent->status();
    services.push_back(s);
  }
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  json certificate = nullptr;  // insecure mode, or unreadable (logged)
  if (cert_not_after_) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    certificate = {{"file", config_.tls.cert},
                   {"not_after", transport::pki::rfc3339(*cert_not_after_)},
                   {"days_left", transport::pki::days_left(*cert_not_after_, now)},
                   {"seconds_left", *cert_not_after_ - now}};
  }
  return json{{"node", name_of(self_)},
              {"node_id", self_},
              {"cluster", config_.cluster_name},
              {"version", "0.1.0"},
              {"uptime_seconds", uptime},
              {"ticks", heartbeat_->ticks()},
              {"certificate", certificate},
              {"cluster_election", election(cluster)},
              {"peers", peers},
              {"services", services}};
}

// Prometheus text format: every metric's samples stay together after its
// HELP and TYPE lines, so samples are collected per metric first.
class MetricsText {
 public:
  void sample(const std::string& name, const char* help, const char* type, const std::string& labels,
              const std::string& value) {
    auto it = index_.find(name);
    if (it == index_.end()) {
      it = index_.emplace(name, groups_.size()).first;
      groups_.push_back("# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n");
    }
    groups_[it->second] += name + "{" + labels + "} " + value + "\n";
  }
  std::string str() const {
    std::string out;
    for (const auto& g : groups_) out += g;
    return out;
  }

 private:
  std::map<std::string, std::size_t> index_;
  std::vector<std::string> groups_;
};

std::string Controller::metrics() const {
  MetricsText m;
  std::string node = "node=\"" + label_escape(name_of(self_)) + "\"";
  auto n = [](auto v) { return std::to_string(v); };
  m.sample("vmrep_up", "1 while vmrepd runs", "gauge", node, "1");
  m.sample("vmrep_ticks_total", "consensus ticks run", "counter", node, n(heartbeat_->ticks()));
  m.sample("vmrep_ticks_skipped_total", "ticks skipped because the event loop fell behind", "counter", node,
           n(heartbeat_->skipped_ticks()));
  m.sample("vmrep_connections_refused_total", "inbound connections refused (certificate, name, frame)", "counter",
           node, n(mesh_->inbound_refused()));
  if (cert_not_after_) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    m.sample("vmrep_certificate_expiry_seconds", "seconds until this node's TLS certificate expires (notAfter)",
             "gauge", node, n(*cert_not_after_ - now));
  }
  m.sample("vmrep_frames_refused_total", "consensus frames refused as malformed", "counter", node, n(frames_refused_));
  for (std::uint32_t id = 1; id <= config_.nodes.size(); ++id) {
    if (id == self_) continue;
    transport::PeerStats s = mesh_->stats(id);
    std::string l = node + ",peer=\"" + label_escape(name_of(id)) + "\"";
    const char* up_help = "peer link established (direction: outbound, inbound)";
    m.sample("vmrep_peer_up", up_help, "gauge", l + ",direction=\"outbound\"", n(s.outbound_up ? 1 : 0));
    m.sample("vmrep_peer_up", up_help, "gauge", l + ",direction=\"inbound\"", n(s.inbound_up ? 1 : 0));
    m.sample("vmrep_peer_suspected", "1 when the failure detector suspects the peer", "gauge", l,
             n(elections_.front()->node().detector().suspects(id) ? 1 : 0));
    m.sample("vmrep_peer_frames_received_total", "frames received from the peer", "counter", l, n(s.frames_in));
    m.sample("vmrep_peer_frames_sent_total", "frames sent to the peer", "counter", l, n(s.frames_out));
    m.sample("vmrep_peer_bytes_received_total", "bytes received from the peer", "counter", l, n(s.bytes_in));
    m.sample("vmrep_peer_bytes_sent_total", "bytes sent to the peer", "counter", l, n(s.bytes_out));
    m.sample("vmrep_peer_frames_dropped_total", "frames to the peer dropped (queue full or link down)", "counter", l,
             n(s.frames_dropped));
  }
  for (const auto& e : elections_) {
    std::string svc = e->config().service.empty() ? "_cluster" : e->config().service;
    std::string l = node + ",service=\"" + label_escape(svc) + "\"";
    m.sample("vmrep_is_primary", "1 when this node is the decided primary of the service", "gauge", l,
             n(e->node().is_primary() ? 1 : 0));
    m.sample("vmrep_epoch", "consensus epoch of the service's election", "gauge", l, n(e->node().key().epoch));
    m.sample("vmrep_round", "consensus round within the epoch", "gauge", l, n(e->node().key().round));
    m.sample("vmrep_primary_changes_total", "changes of the primary this node believes in", "counter", l,
             n(e->primary_changes()));
  }
  return m.str();
}

void Controller::register_endpoints() {
  control_->add("/v1/status", "node, peers (reachability, suspicion), elections: primary, epoch, round, role",
                [this](const std::string&) { return json_reply(200, status(), 2); });
  control_->add("/v1/events", "recent role changes and suspicions; ?since=SEQ&limit=N",
                [this](const std::string& q) {
                  auto j = events_.to_json(query_number(q, "since", 0), query_number(q, "limit", 200));
                  return json_reply(200, j, 2);
                });
  control_->add("/v1/snapshots", "?service=NAME: every node's versions of the service, sizes, bytes shipped",
                [this](const std::string& q) {
                  const std::string name = query_text(q, "service").value_or("");
                  for (std::size_t i = 0; i < services_.size(); ++i)
                    if (config_.services[i].name == name)
                      return json_reply(200, services_[i].agent->snapshots(), 2);
                  std::string known;
                  for (const auto& svc : config_.services) known += (known.empty() ? "" : ", ") + svc.name;
                  nlohmann::json err{{"error", "no service '" + name + "' (services: " + (known.empty() ? "none" : known) + ")"}};
                  return json_reply(404, err);
                });
  control_->add_action("/v1/switchover", "?service=NAME&to=NODE: planned move of the service to NODE (run on its primary)",
                       [this](const std::string& q) {
                         const std::string name = query_text(q, "service").value_or("");
                         const std::string to = query_text(q, "to").value_or("");
                         for (std::size_t i = 0; i < services_.size(); ++i) {
                           if (config_.services[i].name != name) continue;
                           std::string refused = services_[i].agent->start_switchover(to);
                           if (!refused.empty())
                             return json_reply(409, {{"error", refused}});
                           return json_reply(202, {{"started", true}, {"service", name}, {"to", to}});
                         }
                         return json_reply(404, {{"error", "no service '" + name + "'"}});
                       });
  control_->add("/metrics", "Prometheus text format",
                [this](const std::string&) { return Reply{200, "text/plain; version=0.0.4", metrics()}; }, true);
}

}  // namespace vmrep::controller

// ServiceAgent::status(): what `vmrepctl status` and /v1/status show of one
// service on this host.
#include "agents/service_agent.hpp"

namespace vmrep::agents {
namespace {

nlohmann::json version_json(const std::optional<snapshots::Version>& v) {
  return v ? nlohmann::json(to_string(*v)) : nlohmann::json(nullptr);
}

// Versions behind `newest` within the same term; a different term counts as
// "behind" without a number.
nlohmann::json lag(const std::optional<snapshots::Version>& have, const std::optional<snapshots::Version>& newest) {
  if (!newest) return 0;
  if (!have) return nullptr;
  if (*have >= *newest) return 0;
  if (have->term == newest->term) return newest->seq - have->seq;
  return nullptr;
}

}  // namespace

nlohmann::json ServiceAgent::status() const {
  using nlohmann::json;
  const std::optional<snapshots::Version> newest = highest_known();
  json nodes = json::object();
  nodes[name_of(config_.self)] = {{"state", state_name(state_)},
                                  {"newest", version_json(newest_)},
                                  {"committed", version_json(committed_)},
                                  {"lag", lag(newest_, newest)}};
  for (const auto& [id, view] : peers_) {
    json n{{"state", suspected(id) ? "unreachable" : view.state ? state_name(*view.state) : "unknown"},
           {"newest", version_json(view.newest)},
           {"committed", version_json(view.committed)},
           {"lag", lag(view.newest, newest)}};
    auto it = pushes_.find(id);
    if (it != pushes_.end()) {
      n["pushes"] = it->second.pushes;
      n["push_failures"] = it->second.failures;
      n["unexpected_acks"] = ledger_.unexpected(id);
      n["bytes_shipped"] = it->second.bytes_sent;
      const std::optional<snapshots::Version> in_flight = lanes_.in_flight(id);
      n["push_in_flight"] = in_flight.has_value();
      if (in_flight) {
        const PushProgressCell& c = *it->second.progress;
        n["push_progress"] = {{"version", to_string(*in_flight)},
                              {"bytes_done", c.bytes_done.load()},
                              {"bytes_total", c.bytes_total.load()},
                              {"chunks_done", c.chunks_done.load()},
                              {"chunks_total", c.chunks_total.load()}};
      }
      n["last_acked"] = version_json(lanes_.last_acknowledged(id));
      n["push_round_trips"] = it->second.last_round_trips;
      n["push_planning"] = replication::to_string(lanes_.planning(id));
      if (!it->second.last_error.empty()) n["last_error"] = it->second.last_error;
    }
    nodes[name_of(id)] = n;
  }
  json s{{"state", state_name(state_)},
         {"detail", state_detail_},
         {"mode", config_.service.mode == config::Mode::quorum ? "quorum" : "availability"},
         {"min_acks", config_.service.min_acks},
         {"checkpoint_interval_ms", config_.service.checkpoint_interval_ms},
         {"newest", version_json(newest_)},
         {"committed", version_json(committed_)},
         {"serving_version", version_json(state_ == ServiceState::serving ? serving_version_ : std::nullopt)},
         {"newest_known", version_json(newest)},
         {"checkpoints", checkpoints_},
         {"checkpoint_in_flight", vm_job_ != nullptr && std::string_view(vm_job_) == "checkpoint"},
         {"vm_job", vm_job_ != nullptr ? nlohmann::json(vm_job_) : nlohmann::json(nullptr)},
         {"checkpoint_failures", checkpoint_failures_},
         {"invariant_violations", invariant_violations_},  // debug builds check them
         {"nodes", nodes}};
  if (state_ == ServiceState::serving) s["term"] = term_;
  if (state_ == ServiceState::failed) {
    s["failures_in_a_row"] = failures_in_a_row_;
    s["retry_in_ms"] = (failed_until_tick_ > now_tick_ ? failed_until_tick_ - now_tick_ : 0) * config_.tick_ms;
  }
  s["standby"] = version_json(host_.standby_version());
  s["prepared_restore"] = version_json(warm_);  // paused VM ready for a likely promotion
  if (last_checkpoint_) {
    const auto& c = *last_checkpoint_;
    s["last_checkpoint"] = {
        {"version", to_string(c.version)},
        {"age_ms", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                         last_checkpoint_at_)
                       .count()},
        {"plain_bytes", c.plain_bytes},
        {"new_bytes", c.new_bytes},
        {"new_chunks", c.new_chunks},
        {"downtime_ms", c.downtime_ms ? json(*c.downtime_ms) : json(nullptr)},
        {"checkpoint_ms", c.checkpoint_ms},
        {"ingest_ms", c.ingest_ms},
        {"commit_ms", c.commit_ms}};
  }
  if (!last_failover_.is_null()) s["last_failover"] = last_failover_;
  if (switchover_)
    s["switchover"] = {{"to", name_of(switchover_->core.to())},
                       {"phase", replication::phase_name(switchover_->core.phase())},
                       {"version", switchover_->core.version() ? json(to_string(*switchover_->core.version())) : json(nullptr)},
                       {"elapsed_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - switchover_->started)
                                          .count()}};
  if (!last_switchover_.is_null()) s["last_switchover"] = last_switchover_;
  return s;
}

nlohmann::json ServiceAgent::snapshots() const {
  using nlohmann::json;
  auto entry = [&](snapshots::Version v) {
    json e{{"version", to_string(v)}, {"committed", committed_ && v <= *committed_}};
    if (auto it = versions_.find(v); it != versions_.end()) e["bytes"] = it->second;
    if (auto it = shipped_bytes_.find(v); it != shipped_bytes_.end()) e["shipped_bytes"] = it->second;
    return e;
  };
  json nodes = json::object();
  json mine = json::array();
  for (const auto& [v, bytes] : versions_) mine.push_back(entry(v));
  nodes[name_of(config_.self)] = {{"state", state_name(state_)}, {"versions", mine}};
  for (const auto& [id, view] : peers_) {
    json list = json::array();
    for (const auto& v : view.versions) list.push_back(entry(v));
    nodes[name_of(id)] = {{"state", suspected(id) ? "unreachable" : view.state ? state_name(*view.state) : "unknown"}, {"versions", list}};
  }
  return json{{"service", config_.service.name},
              {"committed", committed_ ? json(to_string(*committed_)) : json(nullptr)},
              {"nodes", nodes}};
}

}  // namespace vmrep::agents

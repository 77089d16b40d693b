// ServiceAgent, roles and failover: when this host becomes the decided
// primary it finds the newest version among the survivors, fetches it when
// another host holds it, runs the fence and pre_promote hooks, restores and
// only then serves; when another primary is decided it steps down.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agents/hooks.hpp"
#include "agents/service_agent.hpp"

namespace vmrep::agents {
namespace {

constexpr std::chrono::seconds hook_timeout{60};

}  // namespace

ServiceAgent::ServiceAgent(ServiceAgentConfig config, ElectionAgent& election, VmHost& host, snapshots::Store& store,
                           ReplicaSender& sender, EventLog& events, boost::asio::io_context& io,
                           boost::asio::thread_pool& workers)
    : config_(std::move(config)),
      election_(election),
      host_(host),
      store_(store),
      sender_(sender),
      events_(events),
      io_(io),
      workers_(workers),
      timing_(replication::service_timing(config_.tick_ms, config_.heartbeat_ticks,
                                          config_.service.checkpoint_interval_ms)) {
  for (const auto& [id, target] : config_.peers) peers_[id];
}

ServiceAgent::~ServiceAgent() = default;

std::string ServiceAgent::name_of(std::uint32_t id) const {
  return id >= 1 && id <= config_.names.size() ? config_.names[id - 1] : "node#" + std::to_string(id);
}

void ServiceAgent::start() {
  newest_ = store_.newest(config_.service.name);
  committed_ = store_.newest_committed(config_.service.name);
  for (const auto& v : store_.versions(config_.service.name)) {
    try {
      versions_[v] = store_.load(config_.service.name, v).total_bytes();
    } catch (const std::exception& e) {
      spdlog::warn("{}: version {} does not load: {}", label(), to_string(v), e.what());
    }
  }
  spdlog::info("{}: store holds newest {} committed {}", label(), newest_ ? to_string(*newest_) : "none",
               committed_ ? to_string(*committed_) : "none");
  set_state(ServiceState::backup, "started");
}

void ServiceAgent::set_state(ServiceState s, const std::string& detail) {
  if (s != state_ || detail != state_detail_) {
    spdlog::info("{}: {} -> {}{}", label(), state_name(state_), state_name(s), detail.empty() ? "" : ": " + detail);
    events_.record(config_.service.name, "state_changed",
                   std::string(state_name(state_)) + " -> " + state_name(s) + (detail.empty() ? "" : ": " + detail),
                   {.from = state_name(state_), .to = state_name(s), .reason = detail});
  }
  const bool changed = s != state_;
  state_ = s;
  state_detail_ = detail;
  if (changed) broadcast_inventory();
}

bool ServiceAgent::suspected(std::uint32_t id) const { return election_.node().detector().suspects(id); }

// What the role rules (replication/role_rules.hpp) need to know.
replication::RoleView ServiceAgent::role_view() const {
  replication::RoleView v;
  v.state = state_;
  const Role role = election_.role();
  v.role = role == Role::primary  ? replication::ElectionRole::primary
           : role == Role::backup ? replication::ElectionRole::backup
                                  : replication::ElectionRole::electing;
  v.mode = config_.service.mode == config::Mode::quorum ? replication::Mode::quorum : replication::Mode::availability;
  v.now_tick = now_tick_;
  v.suspect_after_ticks = election_.node().config().detector.suspect_after_ticks;
  v.cluster_size = static_cast<std::uint32_t>(config_.names.size());
  for (const auto& [id, view] : peers_) {
    if (view.heard_tick == 0) ++v.peers_unheard;
    if (!suspected(id)) ++v.peers_trusted;
  }
  v.vm_busy = vm_busy();
  v.retry_at_tick = failed_until_tick_;
  return v;
}

void ServiceAgent::tick() {
  ++now_tick_;
  notice_returns();
  follow_election();
  if (state_ == ServiceState::restoring && promotion_ && !vm_busy()) promotion_step();
  if (state_ == ServiceState::stopping) stop_vm();
  if (state_ == ServiceState::backup) maybe_warm();
  resume_if_pending();
  if (switchover_) switchover_tick();
  else if (state_ == ServiceState::serving) maybe_checkpoint();
  // Inventory about once a second: status, lag, and a fresh view for failovers.
  if (now_tick_ % timing_.inventory_every_ticks == 0) broadcast_inventory();
  maybe_housekeep();
  check_invariants();
}

void ServiceAgent::follow_election() {
  using replication::RoleStep;
  switch (replication::next_role_step(role_view())) {
    case RoleStep::stay: return;
    case RoleStep::promote: return begin_promotion();
    case RoleStep::follow:
      failures_in_a_row_ = 0;  // another host serves: our next promotion starts afresh
      return set_state(ServiceState::backup, "following " + name_of(election_.node().primary()));
    case RoleStep::step_down_for_primary: return demote(name_of(election_.node().primary()) + " is primary");
    case RoleStep::step_down_no_majority: return demote("no majority in sight (mode quorum)");
  }
}

void ServiceAgent::begin_promotion() {
  last_failover_ = nlohmann::json();
  // The last primary we trusted (from the inventories): the one to fence.
  std::optional<std::uint32_t> old_primary;
  for (const auto& [id, view] : peers_)
    if (view.state == ServiceState::serving || view.state == ServiceState::restoring) old_primary = id;
  Promotion p{replication::Promotion(now_tick_, old_primary)};
  p.t_start = std::chrono::steady_clock::now();
  p.wall_start = std::chrono::system_clock::now();
  promotion_ = p;
  wire::Replica q;
  q.set_query(true);
  for (const auto& [id, view] : peers_)
    if (!suspected(id)) send(id, q);
  set_state(ServiceState::restoring, "decided primary; asking survivors for their newest version");
}

std::vector<replication::PeerHeard> ServiceAgent::peers_heard() const {
  std::vector<replication::PeerHeard> out;
  for (const auto& [id, view] : peers_) out.push_back({id, suspected(id), view.heard_tick});
  return out;
}

// Called each tick while restoring and no job runs (and at the last
// survivor's answer): the promotion's phase says what comes next.
void ServiceAgent::promotion_step() {
  using Next = replication::Promotion::Next;
  replication::Promotion& p = promotion_->core;
  switch (p.tick(now_tick_, peers_heard(), timing_)) {
    case Next::wait: return;
    case Next::choose: return choose_source();
    case Next::pull_failed:
      spdlog::warn("{}: no push of {} from {} in time; trying the next holder", label(), to_string(*p.target()),
                   name_of(p.pull_from()));
      return pull_failed();
    case Next::handover_expired: return handover_expired();
  }
}

// The pull from the current holder will not arrive: choose again without it.
void ServiceAgent::pull_failed() {
  promotion_->core.pull_failed();
  if (!vm_busy()) choose_source();  // else promotion_step() chooses when the job ends
}

// While the election hands the service over to a host holding a newer
// version: this host stops being primary when that one is decided (and
// follow_election() steps down); if it is not decided in time, or goes
// silent, this host chooses again without it.
void ServiceAgent::handover_expired() {
  replication::Promotion& p = promotion_->core;
  spdlog::warn("{}: {} was not decided primary in time; choosing again", label(), name_of(p.handing_to()));
  election_.cancel_hand_over();
  p.handover_expired();
  choose_source();
}

// What the promotion knows of every survivor, for the pure source rule.
replication::Survivors ServiceAgent::survivors() const {
  replication::Survivors s;
  s.self = config_.self;
  s.own_newest = newest_;
  s.own_committed = committed_;
  for (const auto& [v, size] : versions_) s.own_versions.push_back(v);
  for (const auto& [id, view] : peers_)
    s.peers.push_back({id, suspected(id), view.newest, view.committed, view.versions});
  if (promotion_) {
    s.pulls_tried = promotion_->core.pulls_tried();
    s.handovers_tried = promotion_->core.handovers_tried();
  }
  s.prepared = warm_;
  return s;
}

std::string ServiceAgent::describe(const replication::CommittedLoss& loss) const {
  std::string holders;
  for (const auto& h : loss.holders)
    holders += (holders.empty() ? "" : ", ") + name_of(h.id) + (h.reachable ? "" : " (unreachable)");
  return "committed version " + to_string(loss.committed) + " (held by " +
         (holders.empty() ? std::string("no host known") : holders) + ") cannot be fetched; the newest reachable is " +
         (loss.newest_reachable ? to_string(*loss.newest_reachable) : std::string("none"));
}

// A live host holds a newer version than we can fetch (its pull was
// refused): the election hands the service to it.
void ServiceAgent::hand_over(const replication::HandOver& h) {
  promotion_->core.handing_over(h, now_tick_, timing_);
  election_.hand_over(h.to);
  events_.record(config_.service.name, "handing_over",
                 "to " + name_of(h.to) + ", which holds " + to_string(h.holds) + " and cannot send it here",
                 {.to = name_of(h.to), .version = to_string(h.holds), .peer = name_of(h.to)});
  set_state(ServiceState::restoring, "handing over to " + name_of(h.to) + ", which holds " + to_string(h.holds));
}

// The source rule (replication/source_choice.hpp) picks where the version
// comes from; the VM here is queried (a prepared restore of another version
// powered off first) and decide_promotion() says what to do with it.
void ServiceAgent::choose_source() {
  const replication::SourceChoice choice = replication::choose_source(survivors());
  if (const auto* h = std::get_if<replication::HandOver>(&choice)) return hand_over(*h);
  const replication::Fetch fetch = std::get<replication::Fetch>(choice);
  promotion_->core.deciding(fetch);
  vm_job<replication::VmHere>("VM query",
      [this, fetch] {
        using replication::VmHere;
        if (fetch.use_prepared) return VmHere::prepared;
        if (fetch.drop_prepared) host_.power_off();
        if (!host_.running()) return host_.startable() ? VmHere::startable : VmHere::absent;
        host_.resume();  // paused by a daemon that died mid-switchover or mid-guess
        return VmHere::running;
      },
      [this, fetch](replication::VmHere vm, const JobFailed& error) {
        if (!fetch.use_prepared) warm_.reset();
        if (!promotion_ || state_ != ServiceState::restoring) return;
        if (error) return fail("cannot query the VM: " + failure_text(error));
        const auto mode = config_.service.mode == config::Mode::quorum ? replication::Mode::quorum
                                                                        : replication::Mode::availability;
        act_on(replication::decide_promotion(fetch, vm, mode));
      });
}

void ServiceAgent::act_on(const replication::PromotionDecision& d) {
  Promotion& p = *promotion_;
  if (d.record_loss) {
    const std::string lost = describe(*d.record_loss);
    spdlog::error("{}: {}; serving it (mode availability)", label(), lost);
    events_.record(config_.service.name, "committed_version_lost", lost,
                   {.version = to_string(d.record_loss->committed), .reason = lost});
  }
  if (std::holds_alternative<replication::ServeRunning>(d.step)) {
    // Our VM still runs (first start, or we kept serving through a
    // partition): it is newer than any checkpoint of it.
    p.core.restoring(std::nullopt);
    return run_promote_hooks_then([this] { became_serving("the VM was already running here"); });
  }
  if (const auto* f = std::get_if<replication::FailPromotion>(&d.step)) {
    if (f->kind == replication::FailKind::committed_unreachable)
      return fail(describe(*f->loss) + "; mode quorum serves no older version: bring a holder back");
    return fail("no checkpoint of the service on any survivor and no domain " + host_.domain() + " here");
  }
  if (std::holds_alternative<replication::ResumePrepared>(d.step)) {
    p.core.restoring(p.core.target());
    p.t_fetched = std::chrono::steady_clock::now();
    return run_promote_hooks_then([this] { serve_warm(); });
  }
  if (std::holds_alternative<replication::StartDefined>(d.step)) {
    p.core.restoring(std::nullopt);
    return run_promote_hooks_then([this] {
      vm_job<int>("start", [this] { host_.start(); return 0; }, [this](int, const JobFailed& err) {
        if (err) return fail("start " + host_.domain() + ": " + failure_text(err));
        became_serving("no checkpoint anywhere: started the defined domain");
      });
    });
  }
  if (const auto* pull = std::get_if<replication::Pull>(&d.step)) {
    p.core.pulling(*pull, now_tick_, timing_);
    wire::Replica m;
    m.mutable_pull()->set_term(pull->version.term);
    m.mutable_pull()->set_seq(pull->version.seq);
    send(pull->from, m);
    set_state(ServiceState::restoring, "fetching " + to_string(pull->version) + " from " + name_of(pull->from));
    return;
  }
  p.core.restoring(p.core.target());  // RestoreHere: the version is here
  p.t_fetched = std::chrono::steady_clock::now();
  run_promote_hooks_then([this] { finish_promotion_restore(); });
}

void ServiceAgent::run_promote_hooks_then(std::function<void()> next) {
  const auto& hooks = config_.service.hooks;
  const std::optional<std::uint32_t> old_primary = promotion_ ? promotion_->core.old_primary() : std::nullopt;
  std::string fence = old_primary ? hooks.fence : "";
  auto env = hook_env();
  if (old_primary) env["VMREP_OLD_PRIMARY"] = name_of(*old_primary);
  vm_job<std::string>("promote hooks",
      [fence, pre = hooks.pre_promote, env] {
        HookResult f = run_hook(fence, env, hook_timeout);
        if (!f.ok()) return "fence hook: " + f.summary();
        HookResult r = run_hook(pre, env, hook_timeout);
        if (!r.ok()) return "pre_promote hook: " + r.summary();
        return std::string();
      },
      [this, next = std::move(next)](const std::string& refused, const JobFailed& error) {
        if (state_ != ServiceState::restoring) return;
        if (error || !refused.empty()) return fail(error ? failure_text(error) : refused);
        next();
      });
}

void ServiceAgent::finish_promotion_restore() {
  const snapshots::Version v = *promotion_->core.target();
  set_state(ServiceState::restoring, "restoring " + to_string(v));
  vm_job<RestoreOutcome>("restore", [this, v] { return host_.restore(v); },
                      [this](const RestoreOutcome& out, const JobFailed& error) {
                        if (error) return fail("restore: " + failure_text(error));
                        serving_version_ = out.version;
                        last_failover_["rebuild_ms"] = out.rebuild_ms;
                        last_failover_["from_standby"] = out.from_standby;
                        last_failover_["flatten_ms"] = out.flatten_ms;
                        last_failover_["restore_ms"] = out.restore_ms;
                        // Lost the election meanwhile: stop_vm() (pending) takes the VM down.
                        if (state_ != ServiceState::restoring) return;
                        became_serving("restored " + to_string(out.version));
                      });
}

void ServiceAgent::serve_warm() {
  const snapshots::Version v = *warm_;
  const auto t0 = std::chrono::steady_clock::now();
  vm_job<int>("resume prepared", [this] { host_.resume(); return 0; }, [this, v, t0](int, const JobFailed& error) {
    warm_.reset();
    if (error) return fail("resume the prepared restore of " + to_string(v) + ": " + failure_text(error));
    serving_version_ = v;
    last_failover_["from_standby"] = true;
    last_failover_["prepared_at_suspicion"] = true;
    last_failover_["rebuild_ms"] = 0;
    last_failover_["flatten_ms"] = 0;
    last_failover_["restore_ms"] = ms_between(t0, std::chrono::steady_clock::now());
    last_failover_["prepared_restore_ms"] = warm_restore_ms_;
    if (state_ != ServiceState::restoring) return;  // lost the election meanwhile: stop_vm() follows
    became_serving("resumed " + to_string(v) + ", restored while the primary was suspected");
  });
}

// While a backup: when the primary is suspected and this host is the likely
// successor, restore the newest version paused, so the promotion that
// probably follows only resumes it (the restore overlaps the election and
// the survivors' query). Undone when the guess turns out wrong.
void ServiceAgent::maybe_warm() {
  if (vm_busy()) return;
  const consensus::Node& node = election_.node();
  const std::uint32_t primary = node.primary();
  const bool primary_lost = primary != 0 && primary != config_.self && suspected(primary) &&
                            (config_.service.mode == config::Mode::availability || replication::majority_in_sight(role_view()));
  if (warm_) {
    if (primary_lost && node.likely_successor() == config_.self) return;
    const snapshots::Version v = *warm_;
    vm_job<int>("power off prepared", [this] { host_.power_off(); return 0; }, [this, v](int, const JobFailed& error) {
      if (error) return spdlog::error("{}: power off the prepared restore of {}: {}", label(), to_string(v), failure_text(error));
      warm_.reset();
      events_.record(config_.service.name, "warm_dropped", "the prepared restore of " + to_string(v) + " is not needed");
    });
    return;
  }
  // Also when the standby copy lags (restore() then rebuilds the version):
  // the promotion would have to do that work anyway.
  if (!primary_lost || node.likely_successor() != config_.self || !newest_) return;
  for (const auto& [id, view] : peers_)
    if (!suspected(id) && view.newest && *view.newest > *newest_) return;  // the promotion would fetch that one
  const snapshots::Version v = *newest_;
  vm_job<RestoreOutcome>("prepare restore", [this, v] { return host_.restore(v, true); },
                      [this, v](const RestoreOutcome& out, const JobFailed& error) {
                        if (error)
                          return spdlog::warn("{}: preparing a restore of {}: {}", label(), to_string(v), failure_text(error));
                        warm_ = v;
                        warm_restore_ms_ = out.rebuild_ms + out.flatten_ms + out.restore_ms;
                        events_.record(config_.service.name, "warm_restore",
                                       "restored " + to_string(v) + " paused in " +
                                           std::to_string(static_cast<long>(warm_restore_ms_)) +
                                           " ms: the primary is suspected and this host is next in turn");
                      });
}

void ServiceAgent::became_serving(const std::string& how) {
  const auto now = std::chrono::steady_clock::now();
  failures_in_a_row_ = 0;
  term_ = fresh_term();
  seq_ = 0;
  if (promotion_) {
    Promotion& p = *promotion_;
    last_failover_["started"] = format_time(p.wall_start);
    const auto target = p.core.target();
    last_failover_["version"] = target ? to_string(*target) : "running VM";
    const auto fetched = p.t_fetched.time_since_epoch().count() ? p.t_fetched : p.t_start;
    last_failover_["fetch_ms"] = ms_between(p.t_start, fetched);
    last_failover_["to_serving_ms"] = ms_between(p.t_start, now);
  }
  promotion_.reset();
  next_checkpoint_tick_ = now_tick_ + 1;  // a first version at once: backups hold nothing of this term yet
  set_state(ServiceState::serving, how + " (term " + std::to_string(term_) + ")");
  const std::string post = config_.service.hooks.post_promote;
  if (!post.empty()) {
    job<std::string>([post, env = hook_env()] { return run_hook(post, env, hook_timeout).summary(); },
                     [this](const std::string& summary, const JobFailed& error) {
                       if (error || summary != "ok")
                         spdlog::warn("{}: post_promote hook: {}", label(), error ? failure_text(error) : summary);
                     });
  }
}

void ServiceAgent::demote(const std::string& why) {
  if (state_ == ServiceState::serving) stop_was_serving_ = true;
  stop_pending_ = true;
  promotion_.reset();
  set_state(ServiceState::stopping, why);
  stop_vm();
}

// Runs once no other VM job of the service is in flight (tick retries).
void ServiceAgent::stop_vm() {
  if (!stop_pending_ || vm_busy()) return;
  stop_pending_ = false;
  const std::uint32_t primary = election_.node().primary();
  auto env = hook_env();
  env["VMREP_PRIMARY"] = name_of(primary);
  if (newest_) env["VMREP_LOCAL_VERSION"] = to_string(*newest_);
  auto it = peers_.find(primary);
  if (it != peers_.end() && it->second.newest) env["VMREP_PRIMARY_VERSION"] = to_string(*it->second.newest);
  // A planned switchover's stop is no split brain: no hook.
  const bool was_serving = stop_was_serving_ && !planned_stop_;
  stop_was_serving_ = false;
  planned_stop_ = false;
  const std::string hook = was_serving ? config_.service.hooks.on_split_brain : "";
  vm_job<std::string>("stop",
      [this, hook, env] {
        host_.power_off();
        return run_hook(hook, env, hook_timeout).summary();
      },
      [this, was_serving](const std::string& summary, const JobFailed& error) {
        if (error) spdlog::error("{}: stopping the VM: {}", label(), failure_text(error));
        if (was_serving)
          events_.record(config_.service.name, "split_brain_resolved",
                         "stopped our VM (newest here " + (newest_ ? to_string(*newest_) : std::string("none")) +
                             "); on_split_brain hook: " + summary);
        serving_version_.reset();
        warm_.reset();
        set_state(ServiceState::backup, "following " + name_of(election_.node().primary()));
      });
}

void ServiceAgent::fail(const std::string& why) {
  promotion_.reset();
  spdlog::error("{}: {}", label(), why);
  ++failures_in_a_row_;
  const std::uint64_t wait = replication::retry_after_ticks(timing_, failures_in_a_row_);
  failed_until_tick_ = now_tick_ + wait;
  set_state(ServiceState::failed, why);
  events_.record(config_.service.name, "promotion_failed",
                 why + "; retry in " + std::to_string(wait * config_.tick_ms / 1000) + " s (failure " +
                     std::to_string(failures_in_a_row_) + " in a row)",
                 {.reason = why});
}

// A failed promotion waits out its backoff only while nothing changes: a
// peer that comes back, or reports other versions, may hold what it lacked.
void ServiceAgent::retry_now_if_failed(const char* why) {
  if (state_ != ServiceState::failed || failed_until_tick_ <= now_tick_) return;
  spdlog::info("{}: retrying the failed promotion now: {}", label(), why);
  failed_until_tick_ = now_tick_;
}

void ServiceAgent::notice_returns() {
  for (auto& [id, view] : peers_) {
    const bool now_suspected = suspected(id);
    if (view.suspected && !now_suspected) retry_now_if_failed("a peer is back");
    view.suspected = now_suspected;
  }
}

std::map<std::string, std::string> ServiceAgent::hook_env() const {
  std::map<std::string, std::string> env{{"VMREP_SERVICE", config_.service.name},
                                         {"VMREP_NODE", name_of(config_.self)},
                                         {"VMREP_DOMAIN", config_.service.domain}};
  if (newest_) env["VMREP_VERSION"] = to_string(*newest_);
  return env;
}

}  // namespace vmrep::agents

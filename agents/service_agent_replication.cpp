// ServiceAgent, replication: the primary's checkpoint loop (checkpoint ->
// store -> push to every backup in parallel -> commit at min_acks acks) and
// the backups' side (verify and publish what arrives, acknowledge), plus the
// inventories every host sends so a new primary can find the newest version.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "agents/service_agent.hpp"
#include "snapshots/incoming.hpp"
#include "text/utf8.hpp"

namespace vmrep::agents {
namespace {

using snapshots::Version;

Version from_wire(const wire::SnapVersion& v) { return Version{v.term(), v.seq()}; }
void to_wire(Version v, wire::SnapVersion* out) {
  out->set_term(v.term);
  out->set_seq(v.seq);
}

// A peer's text for our logs, events and status: bounded, valid UTF-8 (cut on
// a character boundary; a cut inside one made the status API answer 500),
// control characters masked so it cannot forge log lines.
using text::peer_text;

}  // namespace

std::optional<Version> ServiceAgent::highest_known() const {
  std::optional<Version> best = newest_;
  for (const auto& [id, view] : peers_)
    if (view.newest && (!best || *view.newest > *best)) best = view.newest;
  return best;
}

std::uint64_t ServiceAgent::fresh_term() const {
  return replication::fresh_term(election_.node().key().epoch, highest_known());
}

std::uint64_t ServiceAgent::known_term() const {
  std::uint64_t term = std::max(election_.node().key().epoch, term_);
  if (newest_) term = std::max(term, newest_->term);
  if (committed_) term = std::max(term, committed_->term);
  return term;
}

bool ServiceAgent::believable(std::uint32_t from, const char* what, Version v) {
  const std::uint64_t known = known_term();
  const replication::ClaimVerdict verdict = replication::judge_claim(v, known);
  if (verdict == replication::ClaimVerdict::believable) return true;
  if (const auto skipped = claims_log_.admit(std::chrono::steady_clock::now()))
    spdlog::warn("{}: {} claims {} {}, {} (known term {}): ignored{}", label(), name_of(from), what, to_string(v),
                 replication::to_string(verdict), known,
                 *skipped ? " (" + std::to_string(*skipped) + " more since the last warning)" : std::string());
  return false;
}

// A version newer than our next one exists (another side of a healed
// partition served meanwhile): our next checkpoint must order after it, or a
// later failover would take that side branch for the newest. Done as soon as
// it is known, so a serving host's term is never below a known version's
// (replication/invariants).
void ServiceAgent::order_after_known() {
  const std::optional<Version> known = highest_known();
  if (state_ != ServiceState::serving || !known || *known <= Version{term_, seq_}) return;
  term_ = fresh_term();
  seq_ = 0;
}

// The store holds v and marks it committed. The store may publish a pushed
// version before its accept job reports (it still verifies chunks): until
// then v waits, so committed never runs ahead of the newest version held.
void ServiceAgent::note_committed(Version v) {
  if (committed_ && v <= *committed_) return;
  if (!newest_ || v > *newest_) {
    if (!committed_waiting_ || v > *committed_waiting_) committed_waiting_ = v;
    return;
  }
  committed_ = v;
}

void ServiceAgent::check_invariants() {
#ifndef NDEBUG
  std::vector<std::string> found;
  replication::check_host({state_, newest_, committed_, term_, highest_known()}, found);
  for (const std::string& v : found) {
    ++invariant_violations_;
    spdlog::error("{}: invariant violated: {}", label(), v);
    events_.record(config_.service.name, "invariant_violated", v, {.reason = v});
  }
#endif
}

void ServiceAgent::maybe_checkpoint() {
  if (vm_busy() || now_tick_ < next_checkpoint_tick_) return;
  next_checkpoint_tick_ = now_tick_ + timing_.checkpoint_interval_ticks;
  order_after_known();
  const Version v{term_, ++seq_};
  const std::optional<Version> parent = newest_ && *newest_ < v ? newest_ : std::nullopt;
  vm_job<CheckpointOutcome>("checkpoint", [this, v, parent] { return host_.checkpoint(v, parent, unix_ms_now()); },
                         [this](const CheckpointOutcome& out, const JobFailed& error) {
                           if (error) {
                             ++checkpoint_failures_;
                             spdlog::error("{}: checkpoint failed: {}", label(), failure_text(error));
                             events_.record(config_.service.name, "checkpoint_failed", failure_text(error),
                                            {.reason = error->detail, .failure = to_string(error->kind)});
                             return;
                           }
                           checkpoint_done(out);
                         });
}

void ServiceAgent::checkpoint_done(const CheckpointOutcome& out) {
  ++checkpoints_;
  ++checkpoints_since_housekeeping_;
  last_checkpoint_ = out;
  last_checkpoint_at_ = std::chrono::steady_clock::now();
  newest_ = out.version;
  serving_version_ = out.version;
  versions_[out.version] = out.plain_bytes;
  spdlog::info("{}: checkpoint {}: {} bytes, {} new ({} chunks), downtime {} ms, {:.0f}+{:.0f}+{:.0f} ms", label(),
               to_string(out.version), out.plain_bytes, out.new_bytes, out.new_chunks,
               out.downtime_ms ? std::to_string(*out.downtime_ms) : "?", out.checkpoint_ms, out.ingest_ms,
               out.commit_ms);
  if (config_.service.min_acks == 0) commit(out.version);
  std::vector<replication::NodeId> backups;
  std::set<replication::NodeId> suspects;
  for (const auto& [id, target] : config_.peers) {
    backups.push_back(id);
    if (suspected(id)) suspects.insert(id);
  }
  for (const replication::StartPush& push : lanes_.checkpointed(out.version, backups, suspects)) push_to(push);
  broadcast_inventory();
}

// What the push to `peer` may assume it holds: what it acknowledged and what
// its last inventory lists (a held version keeps all its chunks there), so
// the push sends the difference without listing the backup's store.
transport::sftp::BackupKnowledge ServiceAgent::knowledge_of(std::uint32_t peer) const {
  if (lanes_.planning(peer) == replication::PushPlanning::listing) return transport::sftp::BackupUnknown{};
  transport::sftp::BackupHolds holds;
  if (const auto acked = lanes_.last_acknowledged(peer)) holds.versions.push_back(*acked);
  const auto view = peers_.find(peer);
  if (view != peers_.end()) holds.versions.insert(holds.versions.end(), view->second.versions.begin(), view->second.versions.end());
  if (!holds.versions.empty()) return holds;
  if (view != peers_.end() && view->second.inventories > 0) return transport::sftp::BackupEmpty{};
  return transport::sftp::BackupUnknown{};
}

// Runs a push PushLanes started (its lane is busy until done() below).
void ServiceAgent::push_to(const replication::StartPush& push) {
  const std::uint32_t peer = push.to;
  const Version v = push.v;
  const bool answer_pull = push.answers_pull;
  PushState& ps = pushes_[peer];
  ps.progress = std::make_shared<PushProgressCell>();
  if (!ps.pusher) {
    const PeerTarget& target = config_.peers.at(peer);
    transport::sftp::PushOptions options;
    options.remote_root = target.remote_root;
    options.parallel_sessions = 2;
    ps.pusher = std::make_shared<transport::sftp::Pusher>(store_, target.endpoint, options);
  }
  transport::sftp::ProgressFn progress = [cell = ps.progress](const transport::sftp::PushProgress& p) {
    cell->bytes_done = p.bytes_done;
    cell->bytes_total = p.bytes_total;
    cell->chunks_done = p.chunks_done;
    cell->chunks_total = p.chunks_total;
  };
  const std::string service = config_.service.name;
  job<transport::sftp::PushStats>(
      [pusher = ps.pusher, known = knowledge_of(peer), progress, service, v] {
        return pusher->push(service, v, known, progress);
      },
      [this, peer, v, answer_pull](const transport::sftp::PushStats& stats, const JobFailed& error) {
        PushState& ps = pushes_[peer];
        const replication::PushOutcome outcome = lanes_.done(peer, v, !error);
        ++ps.pushes;
        if (error) {
          ++ps.failures;
          ps.last_error = failure_text(error);
          spdlog::warn("{}: push {} to {} failed: {}", label(), to_string(v), name_of(peer), failure_text(error));
          if (outcome.refuse_pull) refuse_pull(peer, *outcome.refuse_pull, "push failed: " + failure_text(error));
        } else {
          ps.bytes_sent += stats.bytes_sent();
          ps.last_round_trips = stats.round_trips;
          shipped_bytes_[v] += stats.bytes_sent();
          while (shipped_bytes_.size() > versions_max) shipped_bytes_.erase(shipped_bytes_.begin());
          ps.last_error.clear();
          spdlog::info("{}: pushed {} to {}: {} of {} chunks sent, {} bytes, {}, {} round trips{}{}", label(),
                       to_string(v), name_of(peer), stats.chunks_sent, stats.chunks_referenced, stats.bytes_sent(),
                       stats.base ? "against " + to_string(*stats.base) : stats.listed ? std::string("listed") : std::string("all"),
                       stats.round_trips, stats.connected ? " (new session)" : "", answer_pull ? " (pull)" : "");
          ledger_.pushed(peer, v);
          wire::Replica m;
          to_wire(v, m.mutable_pushed());
          send(peer, m);
        }
        if (outcome.next) push_to(*outcome.next);
      });
}

void ServiceAgent::on_message(std::uint32_t from, const wire::Replica& m) {
  if (!peers_.count(from)) return;
  switch (m.body_case()) {
    case wire::Replica::kPushed: on_pushed(from, from_wire(m.pushed())); break;
    case wire::Replica::kAck: on_ack(from, m.ack()); break;
    case wire::Replica::kCommitted: {
      const Version v = from_wire(m.committed());
      if (committed_ && v <= *committed_) break;
      job<bool>([this, v] {
        if (!store_.has_version(config_.service.name, v)) return false;
        store_.mark_committed(config_.service.name, v);
        return true;
      }, [this, v](bool held, const JobFailed& error) {
        if (error) return spdlog::warn("{}: mark committed {}: {}", label(), to_string(v), failure_text(error));
        if (held) note_committed(v);
      });
      break;
    }
    case wire::Replica::kInventory: on_inventory(from, m.inventory()); break;
    case wire::Replica::kQuery: send_inventory(from); break;
    case wire::Replica::kPull: on_pull(from, from_wire(m.pull())); break;
    case wire::Replica::kPullRefused: on_pull_refused(from, m.pull_refused()); break;
    case wire::Replica::BODY_NOT_SET: spdlog::warn("{}: peer {}: replica frame without a body", label(), name_of(from)); break;
  }
  check_invariants();
}

struct Received {
  std::string refused;  // empty: verified and published
  std::uint64_t bytes = 0;
};

constexpr std::size_t verified_max = 1 << 20;  // ~48 MiB of ids at most

// The MAC of the manifest, then every chunk not verified before: present,
// re-hashed, the size the manifest says.
Received verify_new_chunks(snapshots::Store& store, const std::string& service, Version v,
                           std::set<snapshots::ChunkId>& verified) {
  const snapshots::Manifest m = store.load(service, v);
  if (verified.size() > verified_max) verified.clear();
  snapshots::Bytes plain;
  for (const auto& f : m.files)
    for (const auto& c : f.chunks) {
      if (verified.count(c.id)) continue;
      store.chunks().read(c.id, plain);
      if (plain.size() != c.size)
        return Received{"chunk of " + f.name + " has " + std::to_string(plain.size()) + " bytes, the manifest says " +
                        std::to_string(c.size)};
      verified.insert(c.id);
    }
  return Received{"", m.total_bytes()};
}

void ServiceAgent::on_pushed(std::uint32_t from, Version v) {
  if (!believable(from, "to have pushed", v)) return;
  if (const auto started = intake_.pushed(from, v)) accept(*started);
}

// Runs an accept replication::Intake started (one at a time).
void ServiceAgent::accept(const replication::AcceptJob& started) {
  const std::uint32_t from = started.from;
  const Version v = started.v;
  const std::string service = config_.service.name;
  job<Received>(
      [this, service, v, verified = verified_] {
        if (verified->size() > verified_max) verified->clear();
        snapshots::AcceptStats accepted = snapshots::accept_incoming(store_, verified.get());
        for (const auto& e : accepted.errors) spdlog::warn("accept: {}", e);
        if (!store_.has_version(service, v))
          return Received{accepted.errors.empty() ? std::string("version not found after the push")
                                                  : accepted.errors.front()};
        return verify_new_chunks(store_, service, v, *verified);
      },
      [this, from, v](const Received& got, const JobFailed& error) {
        const std::optional<replication::AcceptJob> next = intake_.accepted();
        accepted(from, v, error ? failure_text(error) : got.refused, got.bytes);
        if (next) accept(*next);
      });
}

void ServiceAgent::accepted(std::uint32_t from, Version v, const std::string& problem, std::uint64_t bytes) {
  wire::Replica m;
  to_wire(v, m.mutable_ack()->mutable_version());
  m.mutable_ack()->set_ok(problem.empty());
  m.mutable_ack()->set_error(peer_text(problem, 300));
  send(from, m);
  if (!problem.empty()) {
    spdlog::warn("{}: version {} from {} refused: {}", label(), to_string(v), name_of(from), problem);
    events_.record(config_.service.name, "version_refused", to_string(v) + " from " + name_of(from) + ": " + problem,
                   {.version = to_string(v), .peer = name_of(from), .reason = problem});
    return;
  }
  if (!newest_ || v > *newest_) newest_ = v;
  versions_[v] = bytes;
  if (committed_waiting_ && *committed_waiting_ <= *newest_) note_committed(*std::exchange(committed_waiting_, {}));
  order_after_known();
  broadcast_inventory();  // the others know at once what this host holds
  spdlog::debug("{}: holds {} from {}", label(), to_string(v), name_of(from));
  // Keep the standby files at the newest version, so a promotion restores
  // without rebuilding. Skipped when busy: the next version catches up.
  if (state_ == ServiceState::backup && v == newest_ && !vm_busy() && intake_.idle()) {
    vm_job<std::uint64_t>("standby", [this, v] { return host_.prepare_standby(v); },
                       [this, v](std::uint64_t written, const JobFailed& error) {
                         if (error) spdlog::warn("{}: standby of {}: {}", label(), to_string(v), failure_text(error));
                         else spdlog::debug("{}: standby at {} ({} bytes written)", label(), to_string(v), written);
                       });
  }
  if (promotion_ && state_ == ServiceState::restoring && promotion_->core.pushed(from, v)) {
    last_failover_["fetched_from"] = name_of(from);
    promotion_->t_fetched = std::chrono::steady_clock::now();
    run_promote_hooks_then([this] { finish_promotion_restore(); });
  }
}

void ServiceAgent::on_ack(std::uint32_t from, const wire::PushAck& ack) {
  const Version v = from_wire(ack.version());
  switch (ledger_.acknowledged(from, v, ack.ok())) {
    case replication::AckVerdict::not_pushed:
      spdlog::warn("{}: {} acknowledged {}, which was not pushed to it: ignored", label(), name_of(from), to_string(v));
      return;
    case replication::AckVerdict::refused: {
      const std::string why = peer_text(ack.error(), 300);
      spdlog::warn("{}: {} refused {}: {}", label(), name_of(from), to_string(v), why);
      pushes_[from].last_error = "refused: " + why;
      // It may have lost chunks a held version names: find out by listing.
      lanes_.refused(from);
      return;
    }
    case replication::AckVerdict::held: break;
  }
  lanes_.acknowledged(from, v);
  if (state_ != ServiceState::serving) return;
  if (switchover_) switchover_acked(from, v);
  if (const auto newly = ledger_.count(from, v, config_.service.min_acks, committed_)) commit(*newly);
}

void ServiceAgent::commit(Version v) {
  committed_ = v;
  const std::string service = config_.service.name;
  job<int>([this, service, v] { store_.mark_committed(service, v); return 0; },
           [this, v](int, const JobFailed& error) {
             if (error) spdlog::error("{}: mark committed {}: {}", label(), to_string(v), failure_text(error));
           });
  events_.record(config_.service.name, "committed", to_string(v), {.version = to_string(v)});
  wire::Replica m;
  to_wire(v, m.mutable_committed());
  for (const auto& [id, view] : peers_)
    if (!suspected(id)) send(id, m);
}

// A version that is not (or no more) here fails the push, which refuses the pull.
void ServiceAgent::on_pull(std::uint32_t from, Version v) {
  spdlog::info("{}: {} pulls {}", label(), name_of(from), to_string(v));
  if (const auto push = lanes_.pulled(from, v)) push_to(*push);
}

void ServiceAgent::refuse_pull(std::uint32_t to, Version v, const std::string& why) {
  wire::Replica m;
  to_wire(v, m.mutable_pull_refused()->mutable_version());
  m.mutable_pull_refused()->set_error(peer_text(why, 300));
  send(to, m);
}

void ServiceAgent::on_pull_refused(std::uint32_t from, const wire::PullRefused& r) {
  const Version v = from_wire(r.version());
  if (!promotion_ || state_ != ServiceState::restoring || !promotion_->core.refused(from, v)) return;
  const std::string why = peer_text(r.error(), 300);
  spdlog::warn("{}: {} cannot send {}: {}", label(), name_of(from), to_string(v), why);
  events_.record(config_.service.name, "pull_refused", name_of(from) + " cannot send " + to_string(v) + ": " + why,
                 {.version = to_string(v), .peer = name_of(from), .reason = why});
  if (!vm_busy()) choose_source();  // else promotion_step() chooses when the job ends
}

void ServiceAgent::on_inventory(std::uint32_t from, const wire::Inventory& inv) {
  // One claim not believed and the whole inventory is ignored: its other
  // entries come from the same liar (or the same corruption).
  for (const wire::SnapVersion* claim : {&inv.newest(), &inv.committed(), &inv.serving()})
    if (!believable(from, "to hold", from_wire(*claim))) return;
  for (const auto& claim : inv.versions())
    if (!believable(from, "to hold", from_wire(claim))) return;
  PeerView& view = peers_[from];
  const auto newest_before = view.newest, committed_before = view.committed;
  view.newest = inv.has_newest() ? std::optional<Version>(from_wire(inv.newest())) : std::nullopt;
  view.committed = inv.has_committed() ? std::optional<Version>(from_wire(inv.committed())) : std::nullopt;
  view.serving = inv.has_serving() ? std::optional<Version>(from_wire(inv.serving())) : std::nullopt;
  view.state = replication::parse_state(inv.state());
  view.heard_tick = now_tick_;
  ++view.inventories;
  view.versions.clear();
  for (const auto& v : inv.versions()) {
    if (view.versions.size() == versions_max) break;
    view.versions.push_back(from_wire(v));
  }
  if (view.newest != newest_before || view.committed != committed_before)
    retry_now_if_failed("a peer reports other versions");
  order_after_known();
  // A promotion waiting for the survivors' answers goes on at the last one,
  // not at the next tick.
  if (state_ == ServiceState::restoring && promotion_ && !vm_busy()) promotion_step();
}

void ServiceAgent::send_inventory(std::uint32_t to) {
  wire::Replica m;
  wire::Inventory* inv = m.mutable_inventory();
  if (newest_) to_wire(*newest_, inv->mutable_newest());
  if (committed_) to_wire(*committed_, inv->mutable_committed());
  if (serving_version_ && state_ == ServiceState::serving) to_wire(*serving_version_, inv->mutable_serving());
  inv->set_state(state_name(state_));
  auto it = versions_.size() > versions_max ? std::prev(versions_.end(), versions_max) : versions_.begin();
  for (; it != versions_.end(); ++it) to_wire(it->first, inv->add_versions());
  send(to, m);
}

void ServiceAgent::broadcast_inventory() {
  for (const auto& [id, view] : peers_)
    if (!suspected(id)) send_inventory(id);
}

// Retention and GC, on the worker pool, every few checkpoints (primary) or
// about once a minute (backups).
void ServiceAgent::maybe_housekeep() {
  const std::uint64_t every = timing_.housekeeping_every_ticks;
  const bool due = checkpoints_since_housekeeping_ >= 10 || (now_tick_ % every == every / 2);
  if (!due || housekeeping_) return;
  housekeeping_ = true;
  checkpoints_since_housekeeping_ = 0;
  const std::string service = config_.service.name;
  const std::uint32_t keep = config_.service.retention;
  struct Swept {
    std::vector<Version> removed;
    std::uint64_t chunks_deleted = 0;
  };
  job<Swept>(
      [this, service, keep] {
        auto r = store_.apply_retention(service, keep);
        auto g = store_.gc();
        return Swept{r.removed, g.sweep.chunks_deleted};
      },
      [this](const Swept& swept, const JobFailed& error) {
        housekeeping_ = false;
        if (error) return spdlog::warn("{}: retention/gc: {}", label(), failure_text(error));
        for (const auto& v : swept.removed) versions_.erase(v);
        newest_ = versions_.empty() ? std::nullopt : std::optional<Version>(versions_.rbegin()->first);
        spdlog::debug("{}: retention/gc: {} version(s) and {} chunk(s) removed", label(), swept.removed.size(),
                      swept.chunks_deleted);
      });
}

}  // namespace vmrep::agents

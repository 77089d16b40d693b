#pragma once
// Passive replication of one protected service on this host: the paper's
// checkpoint (primary), replica (backup) and failover roles, driven by the
// service's ElectionAgent.
//
//   backup ──decided primary──> restoring ──VM up──> serving ──lost──> stopping ──> backup
//      ^                            │ (fetch newest among survivors,     │ (on_split_brain hook)
//      └──────── failed <───────────┘  fence, pre_promote, restore)      └─ checkpoint every interval,
//                                                                           push to every backup, commit
//                                                                           at min_acks acks
// Peer messages (transport/peer.proto, Replica): pushed / ack / committed
// between primary and backups; query / inventory / pull for the failover's
// "newest version among the survivors" (the paper's case 6: fetch it, then
// boot; never boot an old one and reboot).
//
// Contract: event-loop thread only (tick, on_message, status). Blocking work
// (libvirt, chunking, SFTP, hooks) runs on `workers` and its result is posted
// back to `io`; at most one VM/store job of the service runs at a time, plus
// at most one push per peer. Work lambdas touch only thread-safe objects
// (VmHost, Store, Pusher) and their captured copies, never agent members.
// The owner must join `workers` before destroying VmHost and Store; a result
// that arrives after the agent is gone is dropped.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agents/clock.hpp"
#include "agents/election_agent.hpp"
#include "agents/event_log.hpp"
#include "agents/vm_host.hpp"
#include "config/config.hpp"
#include "agents/job_failure.hpp"
#include "replication/claims.hpp"
#include "replication/commit_ledger.hpp"
#include "replication/failure.hpp"
#include "replication/intake.hpp"
#include "replication/invariants.hpp"
#include "replication/promotion.hpp"
#include "replication/push_lanes.hpp"
#include "replication/role_rules.hpp"
#include "replication/roles.hpp"
#include "replication/source_choice.hpp"
#include "replication/switchover.hpp"
#include "replication/timing.hpp"
#include "text/log_budget.hpp"
#include "transport/peer.pb.h"
#include "transport/sftp/pusher.hpp"

namespace vmrep::agents {

class ReplicaSender {
 public:
  virtual ~ReplicaSender() = default;
  virtual void send_replica(std::uint32_t to, const wire::Replica& m) = 0;
};

struct PeerTarget {
  std::string name;
  transport::sftp::Endpoint endpoint;
  std::string remote_root;  // the peer's snapshot store
};

struct ServiceAgentConfig {
  config::Service service;
  std::uint32_t instance = 0;  // >= 1, as in the election and on the wire
  std::uint32_t self = 0;
  std::vector<std::string> names;           // index id-1
  std::map<std::uint32_t, PeerTarget> peers;  // every other node
  std::uint32_t tick_ms = 100;
  std::uint32_t heartbeat_ticks = 2;
};

using replication::ServiceState;
using replication::state_name;

class ServiceAgent {
 public:
  ServiceAgent(ServiceAgentConfig config, ElectionAgent& election, VmHost& host, snapshots::Store& store,
               ReplicaSender& sender, EventLog& events, boost::asio::io_context& io,
               boost::asio::thread_pool& workers);
  ~ServiceAgent();

  void start();  // reads the store's newest and committed versions (blocking, small)
  void tick();   // once per consensus tick, after the election ticked
  void on_message(std::uint32_t from, const wire::Replica& m);
  nlohmann::json status() const;
  // Planned switchover to node `to` (this host must be serving): the guest
  // is paused, a final checkpoint goes to `to`, and once `to` acknowledged it
  // the election hands over; this host stops its VM when `to` is decided.
  // Returns "" when started, else why not (one line). Progress and the
  // outcome show in status()["switchover"].
  std::string start_switchover(const std::string& to);
  // A reloaded configuration's hooks (SIGHUP): every hook started from now
  // on runs the new commands; one already running finishes as it began.
  void set_hooks(const config::Hooks& hooks) { config_.service.hooks = hooks; }
  // Every node's versions with sizes and bytes shipped (vmrepctl snapshots).
  nlohmann::json snapshots() const;
  static constexpr std::size_t versions_max = 64;
  ServiceState state() const { return state_; }
  // A VM of the service runs here: serving, or a restore prepared ahead of
  // a promotion (paused). The controller powers it off when vmrepd stops.
  bool vm_up_here() const { return state_ == ServiceState::serving || warm_.has_value(); }

 private:
  struct PeerView {
    std::optional<snapshots::Version> newest, committed, serving;
    std::vector<snapshots::Version> versions;  // at most versions_max
    std::optional<ServiceState> state;  // none: not heard yet, or a name we do not know
    std::uint64_t heard_tick = 0;
    std::uint64_t inventories = 0;  // heard so far: 0 means `versions` says nothing yet
    bool suspected = false;         // as of the last tick (notice_returns())
  };
  // A promotion in progress: the pure phase machine (replication/promotion)
  // and the wall-clock marks status reports.
  struct Promotion {
    explicit Promotion(replication::Promotion c) : core(std::move(c)) {}
    replication::Promotion core;
    std::chrono::steady_clock::time_point t_start, t_fetched;
    std::chrono::system_clock::time_point wall_start;
  };
  // Written by the pusher's transfer threads, read by status() on the loop.
  struct PushProgressCell {
    std::atomic<std::uint64_t> bytes_done{0}, bytes_total{0}, chunks_done{0}, chunks_total{0};
  };
  // The I/O side of a backup's push lane (the policy is replication::PushLanes).
  struct PushState {
    std::shared_ptr<PushProgressCell> progress = std::make_shared<PushProgressCell>();
    // Kept between pushes (its SSH session, an interrupted pack to reuse);
    // used by one push job at a time (PushLanes: one push per lane).
    std::shared_ptr<transport::sftp::Pusher> pusher;
    std::uint64_t bytes_sent = 0, pushes = 0, failures = 0;
    std::uint64_t last_round_trips = 0;  // of the last successful push
    std::string last_error;
  };

  struct Switchover {
    replication::Switchover core;  // phases, deadlines, when to resume
    std::chrono::steady_clock::time_point started;
    std::chrono::system_clock::time_point wall_started;
  };
  // service_agent_switchover.cpp
  void switchover_tick();
  void switchover_checkpointed(const CheckpointOutcome& out);
  void switchover_acked(std::uint32_t from, snapshots::Version v);
  void abort_switchover(const std::string& why, bool resume_guest);
  void resume_if_pending();
  void end_switchover(const std::string& outcome, const std::string& detail);
  // service_agent.cpp: roles and failover
  void follow_election();
  void begin_promotion();
  void promotion_step();
  void choose_source();
  replication::Survivors survivors() const;
  std::string describe(const replication::CommittedLoss& loss) const;
  void hand_over(const replication::HandOver& h);
  void act_on(const replication::PromotionDecision& d);
  void pull_failed();
  void handover_expired();
  std::vector<replication::PeerHeard> peers_heard() const;
  void finish_promotion_restore();
  void run_promote_hooks_then(std::function<void()> next);
  void became_serving(const std::string& how);
  void serve_warm();
  void maybe_warm();
  void demote(const std::string& why);
  void stop_vm();
  void fail(const std::string& why);
  void retry_now_if_failed(const char* why);
  void notice_returns();
  void set_state(ServiceState s, const std::string& detail);
  replication::RoleView role_view() const;
  bool suspected(std::uint32_t id) const;
  std::map<std::string, std::string> hook_env() const;
  // service_agent_replication.cpp: checkpoints, pushes, acks, backups
  void maybe_checkpoint();
  void checkpoint_done(const CheckpointOutcome& out);
  void push_to(const replication::StartPush& push);
  transport::sftp::BackupKnowledge knowledge_of(std::uint32_t peer) const;
  void on_ack(std::uint32_t from, const wire::PushAck& ack);
  void commit(snapshots::Version v);
  void on_pushed(std::uint32_t from, snapshots::Version v);
  void accept(const replication::AcceptJob& started);
  void accepted(std::uint32_t from, snapshots::Version v, const std::string& problem, std::uint64_t bytes);
  void on_pull(std::uint32_t from, snapshots::Version v);
  void refuse_pull(std::uint32_t to, snapshots::Version v, const std::string& why);
  void on_pull_refused(std::uint32_t from, const wire::PullRefused& r);
  void on_inventory(std::uint32_t from, const wire::Inventory& inv);
  void broadcast_inventory();
  void send_inventory(std::uint32_t to);
  void maybe_housekeep();
  std::optional<snapshots::Version> highest_known() const;
  std::uint64_t fresh_term() const;
  // The highest of the election's epoch and the terms this host holds itself:
  // what a peer's claim is judged against (replication/claims).
  std::uint64_t known_term() const;
  void order_after_known();
  void note_committed(snapshots::Version v);
  // Debug builds: replication/invariants after every input; a violation is
  // logged and recorded as an `invariant_violated` event.
  void check_invariants();
  // False (and logged at a bounded rate) for a claim not believed.
  bool believable(std::uint32_t from, const char* what, snapshots::Version v);

  void send(std::uint32_t to, wire::Replica m) {
    m.set_instance(config_.instance);
    sender_.send_replica(to, m);
  }
  std::string name_of(std::uint32_t id) const;
  std::string label() const { return "service " + config_.service.name; }

  // Runs `work` on the pool; `done(result, error)` on the loop. error is
  // empty on success, else the failure typed (agents/job_failure.hpp).
  using JobFailed = std::optional<replication::Failure>;
  // "detail [kind]" of a failed job, for logs and events; "" when it did not fail.
  static std::string failure_text(const JobFailed& f) {
    return f ? f->detail + " [" + replication::to_string(f->kind) + "]" : std::string();
  }
  template <class T>
  void job(std::function<T()> work, std::function<void(T, const JobFailed&)> done) {
    std::weak_ptr<int> alive = alive_;
    boost::asio::post(workers_, [this, alive, work = std::move(work), done = std::move(done)]() mutable {
      T result{};
      JobFailed error;
      try {
        result = work();
      } catch (...) {
        error = classify(std::current_exception());
      }
      boost::asio::post(io_, [alive, done = std::move(done), result = std::move(result), error]() {
        if (alive.lock()) done(result, error);
      });
    });
  }

  // The one place "at most one VM/store job of the service at a time" holds:
  // runs `work` as job() does unless another VM job runs (then refuses: false,
  // logged as an error, since every caller checks vm_busy() first); the
  // service counts as busy until `done` is called back on the loop. `what`
  // names the job in status.
  template <class T>
  bool vm_job(const char* what, std::function<T()> work, std::function<void(T, const JobFailed&)> done) {
    if (vm_job_ != nullptr) {
      spdlog::error("{}: {} not started: {} still runs (a bug: callers check vm_busy())", label(), what, vm_job_);
      return false;
    }
    vm_job_ = what;
    job<T>(std::move(work), [this, done = std::move(done)](T result, const JobFailed& error) {
      vm_job_ = nullptr;
      done(std::move(result), error);
    });
    return true;
  }
  bool vm_busy() const { return vm_job_ != nullptr; }

  ServiceAgentConfig config_;
  ElectionAgent& election_;
  VmHost& host_;
  snapshots::Store& store_;
  ReplicaSender& sender_;
  EventLog& events_;
  boost::asio::io_context& io_;
  boost::asio::thread_pool& workers_;
  const replication::ServiceTiming timing_;  // every *_ms of the policy, in ticks
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  ServiceState state_ = ServiceState::backup;
  std::string state_detail_;
  std::uint64_t now_tick_ = 0;
  const char* vm_job_ = nullptr;  // the VM/store job of this service that runs, or none (vm_job())
  std::optional<snapshots::Version> newest_, committed_, serving_version_;
  std::optional<snapshots::Version> committed_waiting_;  // committed by the primary, not yet accepted here
  std::uint64_t invariant_violations_ = 0;
  // This host's versions of the service and their plain sizes, kept current
  // by the jobs that add and remove them (the loop never lists the store).
  std::map<snapshots::Version, std::uint64_t> versions_;
  std::map<snapshots::Version, std::uint64_t> shipped_bytes_;  // pushed by this host, all peers
  std::map<std::uint32_t, PeerView> peers_;
  std::map<std::uint32_t, PushState> pushes_;
  std::optional<Promotion> promotion_;
  std::uint64_t failed_until_tick_ = 0;
  std::uint32_t failures_in_a_row_ = 0;  // failed promotions since this host last served
  bool stop_pending_ = false, stop_was_serving_ = false;

  // While serving.
  std::uint64_t term_ = 0, seq_ = 0;
  std::uint64_t next_checkpoint_tick_ = 0;
  // Which acks are believed and when a version commits (replication/commit_ledger).
  replication::CommitLedger ledger_{versions_max};
  replication::PushLanes lanes_;  // which version goes to which backup, one push at a time each
  text::LogBudget claims_log_{1, std::chrono::seconds(10)};  // claims not believed
  std::optional<CheckpointOutcome> last_checkpoint_;
  std::chrono::steady_clock::time_point last_checkpoint_at_{};
  std::uint64_t checkpoints_ = 0, checkpoint_failures_ = 0;
  std::uint64_t checkpoints_since_housekeeping_ = 0;
  bool housekeeping_ = false;
  replication::Intake intake_;  // pushed versions: one accept (unpack + verify) at a time
  // Chunk ids this host already re-hashed: a version is verified by reading
  // only the chunks it adds (every restore re-hashes everything anyway).
  // Only accept jobs touch it, one at a time. Bounded: cleared when full.
  std::shared_ptr<std::set<snapshots::ChunkId>> verified_ = std::make_shared<std::set<snapshots::ChunkId>>();
  nlohmann::json last_failover_;
  // A restore prepared ahead of the decision: while the primary is suspected
  // and this host is the likely successor, its newest version is restored
  // paused; the promotion then only resumes it. Powered off again when the
  // primary comes back or another host is decided.
  std::optional<snapshots::Version> warm_;
  double warm_restore_ms_ = 0;
  std::optional<Switchover> switchover_;
  nlohmann::json last_switchover_;
  bool resume_pending_ = false;  // an aborted switchover paused the guest: resume once no VM job runs
  bool planned_stop_ = false;  // the next stop_vm() is a switchover's: no split-brain hook
};

}  // namespace vmrep::agents

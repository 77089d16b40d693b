// ServiceAgent, planned switchover (vmrepctl switchover SERVICE --to NODE):
//   pausing -> checkpointing: the guest is paused, then a final checkpoint is
//     taken, so no request is served after it (clients wait, none is lost);
//   pushing: the final version goes to the target, which verifies and acks;
//   handing_over: committed, and the election proposes the target
//     (consensus::Node::hand_over); when the target is decided this host
//     stops its paused VM (no split-brain hook: planned) and the target's
//     failover restores the final version, the newest anywhere.
// The phases and their deadlines are replication::Switchover; any failure or
// timeout after the pause resumes the guest here, once no VM job runs.
#include <spdlog/spdlog.h>

#include "agents/service_agent.hpp"

namespace vmrep::agents {

std::string ServiceAgent::start_switchover(const std::string& to_name) {
  std::uint32_t to = 0;
  for (const auto& [id, view] : peers_)
    if (name_of(id) == to_name) to = id;
  if (to == 0) return "no peer node '" + to_name + "'";
  if (state_ != ServiceState::serving) return "this node is not serving the service (it is " + std::string(state_name(state_)) + ")";
  if (switchover_) return "a switchover to " + name_of(switchover_->core.to()) + " is already running";
  if (suspected(to)) return to_name + " is suspected (unreachable): not a safe target";
  if (resume_pending_) return "the guest of the last aborted switchover is not resumed yet; try again";
  switchover_ = Switchover{replication::Switchover(to, now_tick_, timing_), std::chrono::steady_clock::now(),
                           std::chrono::system_clock::now()};
  events_.record(config_.service.name, "switchover_started", "to " + to_name, {.to = to_name});
  spdlog::info("{}: switchover to {} started", label(), to_name);
  return "";
}

// Each tick while a switchover runs.
void ServiceAgent::switchover_tick() {
  using Step = replication::Switchover::Step;
  replication::Switchover& core = switchover_->core;
  const replication::Switchover::Next next = core.tick(now_tick_, state_, vm_busy());
  switch (next.step) {
    case Step::wait: return;
    case Step::done: return end_switchover("done", "this node is backup");
    case Step::abort:
      if (next.cancel_hand_over) election_.cancel_hand_over();
      return abort_switchover(next.why, next.resume_guest);
    case Step::take_final_checkpoint: break;
  }
  // Pause, then the final checkpoint, in one job: nothing runs in between.
  core.checkpoint_started(now_tick_);
  order_after_known();
  const snapshots::Version v{term_, ++seq_};
  const std::optional<snapshots::Version> parent = newest_ && *newest_ < v ? newest_ : std::nullopt;
  vm_job<CheckpointOutcome>("final checkpoint",
      [this, v, parent] {
        host_.suspend();
        try {
          return host_.checkpoint(v, parent, unix_ms_now(), false);
        } catch (...) {
          host_.resume();
          throw;
        }
      },
      [this](const CheckpointOutcome& out, const JobFailed& error) {
        if (error) {
          if (switchover_) abort_switchover("final checkpoint: " + failure_text(error), false);  // the job resumed
          return;
        }
        checkpoint_done(out);  // stores, counts and pushes it like any checkpoint
        if (switchover_) switchover_checkpointed(out);
      });
}

void ServiceAgent::switchover_checkpointed(const CheckpointOutcome& out) {
  Switchover& s = *switchover_;
  s.core.checkpointed(out.version, now_tick_);
  // checkpoint_done() pushed it to every idle backup; a target still busy
  // with an older push gets it when that push ends.
  lanes_.queue(s.core.to(), out.version);
  spdlog::info("{}: switchover: final checkpoint {} taken with the guest paused ({} ms since start)", label(),
               to_string(out.version), static_cast<long>(ms_since(s.started)));
}

// From on_ack(): an ok ack of `v` by `from`.
void ServiceAgent::switchover_acked(std::uint32_t from, snapshots::Version v) {
  Switchover& s = *switchover_;
  if (!s.core.acked(from, v, now_tick_)) return;
  if (!committed_ || *committed_ < v) commit(v);
  planned_stop_ = true;
  election_.hand_over(from);
  spdlog::info("{}: switchover: {} holds {}; handing over", label(), name_of(from), to_string(v));
}

void ServiceAgent::abort_switchover(const std::string& why, bool resume_guest) {
  planned_stop_ = false;
  spdlog::warn("{}: switchover to {} aborted: {}{}", label(), name_of(switchover_->core.to()), why,
               resume_guest ? "; resuming the guest here" : "");
  resume_pending_ = resume_pending_ || resume_guest;
  end_switchover("aborted", why);
  resume_if_pending();
}

// A guest an aborted switchover paused is resumed as soon as no VM job runs
// (the final checkpoint may still run when the abort comes).
void ServiceAgent::resume_if_pending() {
  if (!resume_pending_ || vm_busy()) return;
  resume_pending_ = false;
  if (state_ != ServiceState::serving) return;  // lost the role meanwhile: its VM is being stopped
  vm_job<int>("resume", [this] { host_.resume(); return 0; }, [this](int, const JobFailed& error) {
    if (error) spdlog::error("{}: resume after the aborted switchover: {}", label(), failure_text(error));
  });
}

void ServiceAgent::end_switchover(const std::string& outcome, const std::string& detail) {
  const Switchover& s = *switchover_;
  const std::optional<snapshots::Version> version = s.core.version();
  last_switchover_ = {{"to", name_of(s.core.to())},
                      {"outcome", outcome},
                      {"detail", detail},
                      {"version", version ? nlohmann::json(to_string(*version)) : nlohmann::json(nullptr)},
                      {"started", format_time(s.wall_started)},
                      {"elapsed_ms", ms_since(s.started)}};
  events_.record(config_.service.name, "switchover_" + outcome, "to " + name_of(s.core.to()) + ": " + detail,
                 {.to = name_of(s.core.to()), .version = version ? to_string(*version) : "", .reason = detail});
  spdlog::info("{}: switchover to {} {}: {}", label(), name_of(s.core.to()), outcome, detail);
  switchover_.reset();
}

}  // namespace vmrep::agents

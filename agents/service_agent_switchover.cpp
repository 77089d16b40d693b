// ServiceAgent, planned switchover (vmrepctl switchover SERVICE --to NODE):
//   pausing -> checkpointing: the guest is paused, then a final checkpoint is
//     taken, so no request is served after it (clients wait, none is lost);
//   pushing: the final version goes to the target, which verifies and acks;
//   handing_over: committed, and the election proposes the target
//     (consensus::Node::hand_over); when the target is decided this host
//     stops its paused VM (no split-brain hook: planned) and the target's
//     failover restores the final version, the newest anywhere.
// Any failure or timeout before the hand-over resumes the guest here.
#include <spdlog/spdlog.h>

#include "agents/service_agent.hpp"

namespace vmrep::agents {

std::string ServiceAgent::start_switchover(const std::string& to_name) {
  std::uint32_t to = 0;
  for (const auto& [id, view] : peers_)
    if (name_of(id) == to_name) to = id;
  if (to == 0) return "no peer node '" + to_name + "'";
  if (state_ != ServiceState::serving) return "this node is not serving the service (it is " + std::string(state_name(state_)) + ")";
  if (switchover_) return "a switchover to " + name_of(switchover_->to) + " is already running";
  if (suspected(to)) return to_name + " is suspected (unreachable): not a safe target";
  Switchover s;
  s.to = to;
  s.phase = SwitchoverPhase::pausing;
  s.started = std::chrono::steady_clock::now();
  s.wall_started = std::chrono::system_clock::now();
  s.deadline_tick = now_tick_ + timing_.switchover_phase_ticks;
  switchover_ = s;
  events_.record(config_.service.name, "switchover_started", "to " + to_name, {.to = to_name});
  spdlog::info("{}: switchover to {} started", label(), to_name);
  return "";
}

// Each tick while a switchover runs.
void ServiceAgent::switchover_tick() {
  Switchover& s = *switchover_;
  if (state_ != ServiceState::serving && state_ != ServiceState::stopping) {
    end_switchover(state_ == ServiceState::backup ? "done" : "aborted",
                   std::string("this node is ") + state_name(state_));
    return;
  }
  const std::string limit = std::to_string(replication::switchover_phase_ms / 1000) + " s";
  if (s.phase != SwitchoverPhase::handing_over && s.phase != SwitchoverPhase::pausing && now_tick_ >= s.deadline_tick)
    return abort_switchover(std::string("no progress in phase ") + replication::phase_name(s.phase) + " for " + limit);
  if (s.phase == SwitchoverPhase::handing_over && now_tick_ >= s.deadline_tick) {
    election_.cancel_hand_over();
    return abort_switchover(name_of(s.to) + " was not decided primary within " + limit);
  }
  if (s.phase != SwitchoverPhase::pausing || vm_busy()) return;
  // Pause, then the final checkpoint, in one job: nothing runs in between.
  s.phase = SwitchoverPhase::checkpointing;
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
        if (!switchover_) return;
        if (error) return abort_switchover("final checkpoint: " + failure_text(error));
        checkpoint_done(out);  // stores, counts and pushes it like any checkpoint
        switchover_checkpointed(out);
      });
}

void ServiceAgent::switchover_checkpointed(const CheckpointOutcome& out) {
  Switchover& s = *switchover_;
  s.version = out.version;
  s.phase = SwitchoverPhase::pushing;
  s.deadline_tick = now_tick_ + timing_.switchover_phase_ticks;
  // checkpoint_done() pushed it to every idle backup; a target still busy
  // with an older push gets it when that push ends.
  lanes_.queue(s.to, out.version);
  spdlog::info("{}: switchover: final checkpoint {} taken with the guest paused ({} ms since start)", label(),
               to_string(out.version), static_cast<long>(ms_since(s.started)));
}

// From on_ack(): an ok ack of `v` by its sender.
void ServiceAgent::switchover_acked(snapshots::Version v) {
  Switchover& s = *switchover_;
  if (s.phase != SwitchoverPhase::pushing || s.version != v) return;
  if (!committed_ || *committed_ < v) commit(v);
  s.phase = SwitchoverPhase::handing_over;
  s.deadline_tick = now_tick_ + timing_.switchover_phase_ticks;
  planned_stop_ = true;
  election_.hand_over(s.to);
  spdlog::info("{}: switchover: {} holds {}; handing over", label(), name_of(s.to), to_string(v));
}

void ServiceAgent::abort_switchover(const std::string& why) {
  planned_stop_ = false;
  spdlog::warn("{}: switchover to {} aborted: {}; resuming the guest here", label(), name_of(switchover_->to), why);
  if (!vm_busy()) {
    vm_job<int>("resume", [this] { host_.resume(); return 0; }, [this](int, const JobFailed& error) {
      if (error) spdlog::error("{}: resume after the aborted switchover: {}", label(), failure_text(error));
    });
  }
  end_switchover("aborted", why);
}

void ServiceAgent::end_switchover(const std::string& outcome, const std::string& detail) {
  const Switchover& s = *switchover_;
  last_switchover_ = {{"to", name_of(s.to)},
                      {"outcome", outcome},
                      {"detail", detail},
                      {"version", s.version ? nlohmann::json(to_string(*s.version)) : nlohmann::json(nullptr)},
                      {"started", format_time(s.wall_started)},
                      {"elapsed_ms", ms_since(s.started)}};
  events_.record(config_.service.name, "switchover_" + outcome, "to " + name_of(s.to) + ": " + detail,
                 {.to = name_of(s.to), .version = s.version ? to_string(*s.version) : "", .reason = detail});
  spdlog::info("{}: switchover to {} {}: {}", label(), name_of(s.to), outcome, detail);
  switchover_.reset();
}

}  // namespace vmrep::agents

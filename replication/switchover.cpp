#include "replication/switchover.hpp"

namespace vmrep::replication {

Switchover::Switchover(NodeId to, std::uint64_t now_tick, const ServiceTiming& timing)
    : to_(to), phase_ticks_(timing.switchover_phase_ticks), deadline_tick_(now_tick + timing.switchover_phase_ticks) {}

// The guest is resumed only where it still serves: a host that lost the role
// meanwhile is stopping (or stopped) its VM.
Switchover::Next Switchover::abort(std::string why, ServiceState state) const {
  return Next{Step::abort, std::move(why), guest_paused() && state == ServiceState::serving,
              phase_ == SwitchoverPhase::handing_over};
}

Switchover::Next Switchover::tick(std::uint64_t now_tick, ServiceState state, bool vm_busy) {
  if (state == ServiceState::backup && phase_ == SwitchoverPhase::handing_over) return Next{Step::done, "", false, false};
  if (state != ServiceState::serving && state != ServiceState::stopping)
    return abort(std::string("this node is ") + state_name(state), state);
  const std::string limit = std::to_string(switchover_phase_ms / 1000) + " s";
  // Pausing waits for the VM job in flight (a checkpoint) without a deadline:
  // the guest still runs, nothing is lost by waiting.
  if (phase_ != SwitchoverPhase::pausing && now_tick >= deadline_tick_) {
    if (phase_ == SwitchoverPhase::handing_over) return abort("the target was not decided primary within " + limit, state);
    return abort(std::string("no progress in phase ") + phase_name(phase_) + " for " + limit, state);
  }
  if (phase_ == SwitchoverPhase::pausing && !vm_busy) return Next{Step::take_final_checkpoint, "", false, false};
  return Next{};
}

void Switchover::checkpoint_started(std::uint64_t now_tick) {
  phase_ = SwitchoverPhase::checkpointing;
  deadline_tick_ = now_tick + phase_ticks_;
}

void Switchover::checkpointed(Version v, std::uint64_t now_tick) {
  if (phase_ != SwitchoverPhase::checkpointing) return;
  version_ = v;
  phase_ = SwitchoverPhase::pushing;
  deadline_tick_ = now_tick + phase_ticks_;
}

bool Switchover::acked(NodeId from, Version v, std::uint64_t now_tick) {
  if (phase_ != SwitchoverPhase::pushing || from != to_ || version_ != v) return false;
  phase_ = SwitchoverPhase::handing_over;
  deadline_tick_ = now_tick + phase_ticks_;
  return true;
}

}  // namespace vmrep::replication

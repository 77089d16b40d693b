#pragma once
// A planned switchover on the serving host (vmrepctl switchover SERVICE --to
// NODE), phase by phase. Pure: the agent asks tick() what to do each
// consensus tick and reports the final checkpoint and the target's ack.
//
//   pausing ──no VM job──> checkpointing ──taken──> pushing ──acked──> handing_over ──decided──> done
//      │                        │                      │                    │
//      └────────────────────────┴──── abort: timeout, or not serving ───────┘
//
// From checkpointing on, the guest here is paused. Every abort from there on
// a host still serving says resume_guest: the agent resumes it as soon as no VM job runs (an abort
// while the final checkpoint job still ran once left the guest paused for
// good: the job's answer found no switchover and returned).
#include <cstdint>
#include <optional>
#include <string>

#include "replication/roles.hpp"
#include "replication/timing.hpp"
#include "replication/types.hpp"

namespace vmrep::replication {

class Switchover {
 public:
  enum class Step {
    wait,
    take_final_checkpoint,  // pause the guest and checkpoint it, in one VM job
    done,                   // this host stepped down: the target serves
    abort,                  // see why(); resume the guest when resume_guest()
  };
  struct Next {
    Step step = Step::wait;
    std::string why;            // abort: one line
    bool resume_guest = false;  // abort: the guest was paused here
    bool cancel_hand_over = false;
  };

  Switchover(NodeId to, std::uint64_t now_tick, const ServiceTiming& timing);

  Next tick(std::uint64_t now_tick, ServiceState state, bool vm_busy);
  // The final checkpoint job started / ended.
  void checkpoint_started(std::uint64_t now_tick);
  void checkpointed(Version v, std::uint64_t now_tick);
  // An ok ack of `v` from `from`: true when it is the target's ack of the
  // final version (commit it, hand over now).
  bool acked(NodeId from, Version v, std::uint64_t now_tick);

  NodeId to() const { return to_; }
  SwitchoverPhase phase() const { return phase_; }
  std::optional<Version> version() const { return version_; }
  bool guest_paused() const { return phase_ != SwitchoverPhase::pausing; }

 private:
  Next abort(std::string why, ServiceState state) const;

  NodeId to_;
  std::uint64_t phase_ticks_;
  SwitchoverPhase phase_ = SwitchoverPhase::pausing;
  std::optional<Version> version_;
  std::uint64_t deadline_tick_;
};

}  // namespace vmrep::replication

#include "replication/switchover.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

using Step = Switchover::Step;
const ServiceTiming kTiming = service_timing(100, 2, 1000);  // 60 s phases = 600 ticks

// A switchover to node 2 driven into `phase`, at tick 10.
Switchover in_phase(SwitchoverPhase phase) {
  Switchover s(2, 0, kTiming);
  if (phase == SwitchoverPhase::pausing) return s;
  EXPECT_EQ(s.tick(1, ServiceState::serving, false).step, Step::take_final_checkpoint);
  s.checkpoint_started(1);
  if (phase == SwitchoverPhase::checkpointing) return s;
  s.checkpointed(Version{4, 9}, 5);
  if (phase == SwitchoverPhase::pushing) return s;
  EXPECT_TRUE(s.acked(2, Version{4, 9}, 10));
  return s;
}

TEST(Switchover, Rule_PhasesInOrder) {
  Switchover s(2, 0, kTiming);
  EXPECT_EQ(s.tick(1, ServiceState::serving, true).step, Step::wait);  // a checkpoint runs: wait, no deadline
  EXPECT_EQ(s.tick(5000, ServiceState::serving, true).step, Step::wait);
  EXPECT_EQ(s.tick(5001, ServiceState::serving, false).step, Step::take_final_checkpoint);
  s.checkpoint_started(5001);
  EXPECT_EQ(s.phase(), SwitchoverPhase::checkpointing);
  s.checkpointed(Version{4, 9}, 5010);
  EXPECT_EQ(s.phase(), SwitchoverPhase::pushing);
  EXPECT_FALSE(s.acked(3, Version{4, 9}, 5011));  // another backup's ack
  EXPECT_FALSE(s.acked(2, Version{4, 8}, 5011));  // an older version
  EXPECT_TRUE(s.acked(2, Version{4, 9}, 5012));
  EXPECT_EQ(s.phase(), SwitchoverPhase::handing_over);
  EXPECT_EQ(s.tick(5013, ServiceState::stopping, false).step, Step::wait);  // the target was decided: stopping here
  EXPECT_EQ(s.tick(5014, ServiceState::backup, false).step, Step::done);
}

// Issue 16: "switchover aborted at each phase resumes the guest".
TEST(Switchover, Rule_AbortedAtEachPhaseResumesTheGuest) {
  for (const SwitchoverPhase phase :
       {SwitchoverPhase::checkpointing, SwitchoverPhase::pushing, SwitchoverPhase::handing_over}) {
    SCOPED_TRACE(phase_name(phase));
    Switchover s = in_phase(phase);
    ASSERT_EQ(s.phase(), phase);
    EXPECT_EQ(s.tick(11, ServiceState::serving, true).step, Step::wait);
    // Timed out, even with a VM job still running (the final checkpoint):
    // the agent must resume once that job ends.
    const Switchover::Next next = s.tick(5000, ServiceState::serving, true);
    EXPECT_EQ(next.step, Step::abort);
    EXPECT_TRUE(next.resume_guest);
    EXPECT_EQ(next.cancel_hand_over, phase == SwitchoverPhase::handing_over);
    EXPECT_NE(next.why.find(phase == SwitchoverPhase::handing_over ? "not decided primary" : "no progress"),
              std::string::npos)
        << next.why;
  }
}

TEST(Switchover, Rule_AbortBeforeThePauseHasNothingToResume) {
  Switchover s = in_phase(SwitchoverPhase::pausing);
  const Switchover::Next next = s.tick(3, ServiceState::failed, true);
  EXPECT_EQ(next.step, Step::abort);
  EXPECT_FALSE(next.resume_guest);
}

TEST(Switchover, Rule_HostThatLostTheRoleDoesNotResume) {
  Switchover s = in_phase(SwitchoverPhase::pushing);
  const Switchover::Next next = s.tick(12, ServiceState::backup, false);  // demoted by the election meanwhile
  EXPECT_EQ(next.step, Step::abort);
  EXPECT_FALSE(next.resume_guest);  // its VM is stopped: nothing to resume
}

}  // namespace
}  // namespace vmrep::replication

#pragma once
// When a host's service changes role with the election: promote, follow
// another primary, or step down. Pure: the agent describes what it sees and
// acts on the answer.
//
//   backup  + decided primary here + promotion allowed + no VM job    -> promote
//   failed  + the same, once the retry backoff is over                -> promote
//   failed  + another host decided                                    -> follow
//   restoring/serving + another host decided                          -> step down
//   restoring/serving + quorum mode and no majority in sight          -> step down
//   anything while the election is undecided                          -> stay (the service keeps running)
//
// "Promotion allowed": the daemon has settled (heard every peer, or a
// suspicion timeout of silence passed: a fresh daemon would otherwise take
// itself for its configured initial primary) and, in quorum mode, a
// majority of the cluster (itself included) is trusted.
#include <cstdint>

#include "replication/roles.hpp"
#include "replication/types.hpp"

namespace vmrep::replication {

enum class ElectionRole { primary, backup, electing };

struct RoleView {
  ServiceState state = ServiceState::backup;
  ElectionRole role = ElectionRole::electing;
  Mode mode = Mode::availability;
  std::uint64_t now_tick = 0;
  std::uint64_t suspect_after_ticks = 0;  // the detector's first timeout
  std::uint32_t cluster_size = 1;         // nodes, this one included
  std::uint32_t peers_unheard = 0;        // peers that never sent an inventory since this daemon started
  std::uint32_t peers_trusted = 0;        // peers the detector does not suspect
  bool vm_busy = false;                   // a VM job of the service runs
  std::uint64_t retry_at_tick = 0;        // failed: no promotion before this tick
};

bool startup_settled(const RoleView& v);
bool majority_in_sight(const RoleView& v);
bool promotion_allowed(const RoleView& v);

enum class RoleStep {
  stay,
  promote,
  follow,                  // failed -> backup: another host is primary
  step_down_for_primary,   // another host is the decided primary
  step_down_no_majority,   // quorum mode lost its majority
};

RoleStep next_role_step(const RoleView& v);

}  // namespace vmrep::replication

#include "replication/role_rules.hpp"

namespace vmrep::replication {

bool startup_settled(const RoleView& v) { return v.now_tick >= v.suspect_after_ticks || v.peers_unheard == 0; }

bool majority_in_sight(const RoleView& v) {
  return 2ULL * (static_cast<std::uint64_t>(v.peers_trusted) + 1) > v.cluster_size;
}

bool promotion_allowed(const RoleView& v) {
  return startup_settled(v) && (v.mode == Mode::availability || majority_in_sight(v));
}

RoleStep next_role_step(const RoleView& v) {
  switch (v.state) {
    case ServiceState::backup:
      return v.role == ElectionRole::primary && promotion_allowed(v) && !v.vm_busy ? RoleStep::promote
                                                                                    : RoleStep::stay;
    case ServiceState::failed:
      if (v.role == ElectionRole::backup) return RoleStep::follow;
      return v.role == ElectionRole::primary && promotion_allowed(v) && !v.vm_busy && v.now_tick >= v.retry_at_tick
                 ? RoleStep::promote
                 : RoleStep::stay;
    case ServiceState::restoring:
    case ServiceState::serving:
      // Only a decided, trusted other primary (or a lost majority in quorum
      // mode) makes a serving host step down: never an undecided election.
      if (v.role == ElectionRole::backup) return RoleStep::step_down_for_primary;
      if (!promotion_allowed(v)) return RoleStep::step_down_no_majority;
      return RoleStep::stay;
    case ServiceState::stopping:
      return RoleStep::stay;
  }
  return RoleStep::stay;
}

}  // namespace vmrep::replication

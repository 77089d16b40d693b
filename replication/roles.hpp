#pragma once
// The names the replication policy shares with its peers and its operators:
// a service's state on a host (sent in every inventory, shown by status) and
// the phases of a planned switchover. Enums inside; strings only at the edges
// (the wire's Inventory.state, JSON), converted here and nowhere else.
#include <optional>
#include <string_view>

namespace vmrep::replication {

//   backup ──decided primary──> restoring ──VM up──> serving ──lost──> stopping ──> backup
//      ^                            │
//      └──────── failed <───────────┘
enum class ServiceState { backup, restoring, serving, stopping, failed };
const char* state_name(ServiceState s);                          // "backup", ...
std::optional<ServiceState> parse_state(std::string_view name);  // nullopt: not a state name

// A planned switchover on the serving host, in order.
enum class SwitchoverPhase {
  pausing,        // waiting for no other VM job, then pause the guest
  checkpointing,  // the final checkpoint of the paused guest
  pushing,        // the final version to the target, until it acknowledges
  handing_over,   // the election hands over; ends when the target is decided
};
const char* phase_name(SwitchoverPhase p);  // "pausing", ...

}  // namespace vmrep::replication

#include "replication/roles.hpp"

namespace vmrep::replication {

const char* state_name(ServiceState s) {
  switch (s) {
    case ServiceState::backup: return "backup";
    case ServiceState::restoring: return "restoring";
    case ServiceState::serving: return "serving";
    case ServiceState::stopping: return "stopping";
    case ServiceState::failed: return "failed";
  }
  return "?";
}

std::optional<ServiceState> parse_state(std::string_view name) {
  for (ServiceState s : {ServiceState::backup, ServiceState::restoring, ServiceState::serving, ServiceState::stopping,
                         ServiceState::failed})
    if (name == state_name(s)) return s;
  return std::nullopt;
}

const char* phase_name(SwitchoverPhase p) {
  switch (p) {
    case SwitchoverPhase::pausing: return "pausing";
    case SwitchoverPhase::checkpointing: return "checkpointing";
    case SwitchoverPhase::pushing: return "pushing";
    case SwitchoverPhase::handing_over: return "handing_over";
  }
  return "?";
}

}  // namespace vmrep::replication

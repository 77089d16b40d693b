#pragma once
// vmrepctl switchover SERVICE --to NODE: asks the primary's vmrepd for a
// planned move and follows it through /v1/status until the target serves
// (or the move is aborted), printing each phase with its time.
#include <string>

namespace vmrep::cli {

// Returns the exit code: 0 the target serves, 1 refused/aborted/timed out.
// Throws Unreachable when the daemon cannot be reached.
int run_switchover(const std::string& socket, const std::string& service, const std::string& to, bool json,
                   int timeout_s);

}  // namespace vmrep::cli

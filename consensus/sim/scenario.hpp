#pragma once
// Scenarios as data (etcd raft's testdata/, Proxmox HA's test-*/cmdlist): a
// command list run against the simulator, producing a log that is compared
// with the expected one.
//
//   cluster nodes=5 seed=1 [heartbeat=2 suspect=6 suspect_max=40 delay_max=3 epoch_min=4]
//   tick N                      run N ticks, printing the timeline
//   crash IDS | restart IDS [corrupt] | corrupt IDS
//   partition IDS|IDS[|IDS...] | heal
//   until ID proposing [within N]   run until node ID is coordinator in its
//                                   proposal phase (the paper's "Decide" state)
//   status                      one line per node
//   expect primary P | expect primaries K | expect converged | expect violations 0
//   # a comment
// `expect` lines print "ok: ..." or "FAIL: ..."; a scenario passes when no
// line says FAIL and no invariant was violated.

#include <stdexcept>
#include <string>

namespace vmrep::consensus::sim {

struct ScenarioResult {
  std::string log;
  bool passed = true;
};

// Throws std::invalid_argument "line N: ..." for a malformed command.
ScenarioResult run_scenario(const std::string& commands);

}  // namespace vmrep::consensus::sim

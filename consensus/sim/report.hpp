#pragma once
// The result of a vmrep-sim run, as the JSON object the tool prints.

#include <string>

#include <nlohmann/json.hpp>

#include "consensus/sim/fault_plan.hpp"
#include "consensus/sim/simulator.hpp"

namespace vmrep::consensus::sim {

struct RunResult {
  bool converged = false;                       // at the end: all live name one live primary
  std::optional<std::uint64_t> converged_tick;  // since when that holds
  NodeId primary = kNoNode;
  std::uint32_t max_primaries = 0;
  bool within_bound = false;  // converged no later than last fault + bound
};

RunResult result_of(const Simulator& sim);
nlohmann::json report_json(const Simulator& sim, const FaultPlan& plan, std::uint64_t ticks);

}  // namespace vmrep::consensus::sim

#pragma once
// Fault schedules: parsed from the vmrep-sim SPEC text, or drawn from a seed,
// and printed back as SPEC text so any run can be replayed from a command line.
//
// SPEC is ';'-separated events:
//   crash:IDS@TICK  restart:IDS@TICK  corrupt:IDS@TICK  partition:IDS|IDS[|IDS...]@FROM-TO
// IDS is a comma list of node ids 1..n, or `all`. An event @T is applied when
// the simulator's clock reads T, before tick T+1 runs (so @0 is the start).
// A partition holds from FROM until the heal at TO; nodes it does not name
// form one more group together.

#include <cstdint>
#include <string>
#include <vector>

#include "consensus/sim/rng.hpp"
#include "consensus/sim/simulator.hpp"

namespace vmrep::consensus::sim {

struct FaultEvent {
  enum class Kind { crash, restart, corrupt, partition, heal };
  std::uint64_t tick = 0;
  Kind kind = Kind::crash;
  std::vector<NodeId> ids;                   // crash, restart, corrupt
  std::vector<std::vector<NodeId>> groups;   // partition
};

struct FaultPlan {
  std::vector<FaultEvent> events;  // sorted by tick, stable
  std::uint64_t last_fault_tick() const { return events.empty() ? 0 : events.back().tick; }
};

// Throws std::invalid_argument with a one-line message naming the event.
FaultPlan parse_fault_plan(const std::string& spec, std::uint32_t n);
std::string to_spec(const FaultPlan& plan);

// A random safety phase of `safety_ticks` (crashes, restarts, corruptions,
// partitions that heal before it ends), leaving at least one node live.
FaultPlan random_fault_plan(Rng& rng, std::uint32_t n, std::uint64_t safety_ticks);

void apply(Simulator& sim, const FaultEvent& e);
// Runs the simulator to `ticks`, applying each event at its tick.
void run(Simulator& sim, const FaultPlan& plan, std::uint64_t ticks);

}  // namespace vmrep::consensus::sim

// vmrep-sim: run n simulated consensus nodes under a fault schedule and report.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "consensus/sim/fault_plan.hpp"
#include "consensus/sim/report.hpp"
#include "consensus/sim/timeline.hpp"

using namespace vmrep::consensus;
using namespace vmrep::consensus::sim;

namespace {

void print_summary(const Simulator& sim, std::uint64_t ticks) {
  RunResult r = result_of(sim);
  const Checker& c = sim.checker();
  std::printf("\n%u nodes, seed %llu, %llu ticks, %llu messages (%llu lost to crashes and partitions)\n",
              sim.n(), static_cast<unsigned long long>(sim.config().seed), static_cast<unsigned long long>(ticks),
              static_cast<unsigned long long>(sim.messages_sent()),
              static_cast<unsigned long long>(sim.messages_dropped()));
  std::printf("bounds: detection %llu ticks, failover %llu, convergence %llu\n",
              static_cast<unsigned long long>(c.bounds().detection_ticks),
              static_cast<unsigned long long>(c.bounds().failover_ticks),
              static_cast<unsigned long long>(c.bounds().convergence_ticks));
  if (r.converged)
    std::printf("converged: primary %u since tick %llu (%llu ticks after the last fault at %llu)\n", r.primary,
                static_cast<unsigned long long>(*r.converged_tick),
                static_cast<unsigned long long>(*r.converged_tick > c.last_fault_tick()
                                                    ? *r.converged_tick - c.last_fault_tick() : 0),
                static_cast<unsigned long long>(c.last_fault_tick()));
  else
    std::printf("NOT converged: live nodes do not name one live primary at the end\n");
  if (c.violations().empty()) std::printf("invariants: all held\n");
  for (const auto& v : c.violations()) std::printf("VIOLATION %s\n", v.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmrep-sim: deterministic simulator of vmrep's self-stabilizing primary election.\n"
               "Same seed, same run. Exit 0 when every invariant held, 1 on a violation, 2 on bad input."};
  std::uint32_t nodes = 5;
  std::uint64_t seed = 1;
  std::uint64_t ticks = 1000;
  std::string faults;
  bool json = false;
  bool verbose = false;
  SimConfig config;
  app.add_option("--nodes", nodes, "number of nodes (ids 1..N)")->check(CLI::Range(1u, 1000u));
  app.add_option("--seed", seed, "seed of every random draw");
  app.add_option("--ticks", ticks, "ticks to run")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}));
  app.add_option("--faults", faults,
                 "';'-separated events: crash:IDS@TICK restart:IDS@TICK corrupt:IDS@TICK "
                 "partition:IDS|IDS[|IDS...]@FROM-TO (IDS: comma list or 'all'); "
                 "'random' draws a schedule from the seed");
  app.add_option("--heartbeat-ticks", config.node.heartbeat_every_ticks, "ticks between heartbeats (Estimates)")
      ->capture_default_str();
  app.add_option("--suspect-ticks", config.node.detector.suspect_after_ticks, "initial suspicion timeout")
      ->capture_default_str();
  app.add_option("--suspect-ticks-max", config.node.detector.suspect_after_ticks_max, "cap of the adaptive timeout")
      ->capture_default_str();
  app.add_option("--max-delay-ticks", config.link.delay_max_ticks, "largest per-link base delay")
      ->capture_default_str();
  app.add_flag("--json", json, "print one JSON object instead of the timeline");
  app.add_flag("-v,--verbose", verbose, "timeline: also suspicions and decisions");
  CLI11_PARSE(app, argc, argv);

  config.n = nodes;
  config.seed = seed;
  FaultPlan plan;
  try {
    if (faults == "random") {
      Rng rng(seed ^ 0x5eed5eed5eed5eedull);
      plan = random_fault_plan(rng, nodes, std::max<std::uint64_t>(ticks / 2, 2));
    } else {
      plan = parse_fault_plan(faults, nodes);
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "vmrep-sim: --faults: %s\n", e.what());
    return 2;
  }

  Simulator sim(config);
  Timeline timeline(verbose);
  if (!json) sim.add_observer(&timeline);
  run(sim, plan, ticks);

  if (json) {
    std::cout << report_json(sim, plan, ticks).dump() << "\n";
  } else {
    for (const auto& line : timeline.take_lines()) std::printf("%s\n", line.c_str());
    print_summary(sim, ticks);
  }
  return sim.violations().empty() ? 0 : 1;
}

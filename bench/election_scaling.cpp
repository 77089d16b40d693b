// Report binary: how the election scales with the number of nodes.
// For each N: ticks from a cold start to one agreed primary, from a crash of
// the primary to a new agreed primary, from an all-corrupt start to
// agreement; and messages per decision in steady state. Medians over seeds.
// Prints a Markdown table for BENCHMARKS.md.
//
//   election_scaling [--seeds K] [--nodes 3,5,9,...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "consensus/sim/fault_plan.hpp"
#include "consensus/sim/report.hpp"

using namespace vmrep::consensus;
using namespace vmrep::consensus::sim;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Ticks from `from` until the cluster agrees, or -1.
double ticks_to_agree(Simulator& sim, std::uint64_t from, std::uint64_t limit) {
  while (sim.now() < from + limit) {
    sim.tick();
    if (sim.checker().converged_since() && sim.checker().agreed_primary() != kNoNode) {
      // Agreement must hold for a while to count: wait 20 quiet ticks.
      std::uint64_t since = *sim.checker().converged_since();
      while (sim.now() < since + 20 && sim.checker().converged_since() == since) sim.tick();
      if (sim.checker().converged_since() == since) return static_cast<double>(since - from);
    }
  }
  return -1;
}

struct Row {
  double cold = 0, failover = 0, corrupt = 0, per_decision = 0, ms_per_kilotick = 0;
};

Row measure(std::uint32_t n, std::uint64_t seeds) {
  std::vector<double> cold, failover, corrupt, per_decision, speed;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    SimConfig c;
    c.n = n;
    c.seed = seed;
    auto t0 = std::chrono::steady_clock::now();
    Simulator sim(c);
    cold.push_back(ticks_to_agree(sim, 0, 2000));
    // Steady state: messages per decision over 200 quiet ticks.
    std::uint64_t sent = sim.messages_sent();
    std::uint64_t epoch = sim.node(1)->key().epoch;
    for (int i = 0; i < 200; ++i) sim.tick();
    std::uint64_t decisions = sim.node(1)->key().epoch - epoch;
    per_decision.push_back(decisions ? double(sim.messages_sent() - sent) / double(decisions) : 0);
    NodeId primary = sim.checker().agreed_primary();
    std::uint64_t crash_at = sim.now();
    sim.crash(primary);
    failover.push_back(ticks_to_agree(sim, crash_at, 3000));
    double ticks = static_cast<double>(sim.now());
    speed.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() * 1000 / ticks);

    Simulator bad(c);
    for (NodeId id = 1; id <= n; ++id) bad.corrupt(id);
    corrupt.push_back(ticks_to_agree(bad, 0, 3000));
  }
  return Row{median(cold), median(failover), median(corrupt), median(per_decision), median(speed)};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seeds = 5;
  std::vector<std::uint32_t> sizes{3, 5, 9, 17, 33, 65, 101};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seeds") seeds = std::stoull(argv[i + 1]);
    else if (a == "--nodes") {
      sizes.clear();
      std::string list = argv[i + 1];
      for (std::size_t p = 0; p < list.size();) {
        std::size_t q = list.find(',', p);
        sizes.push_back(static_cast<std::uint32_t>(std::stoul(list.substr(p, q - p))));
        p = q == std::string::npos ? list.size() : q + 1;
      }
    } else {
      std::fprintf(stderr, "usage: election_scaling [--seeds K] [--nodes 3,5,9]\n");
      return 2;
    }
  }
  SimConfig defaults;
  std::printf("Defaults: heartbeat every %u ticks, suspicion after %u..%u ticks, epoch at least %u ticks, "
              "link delay %u..%u + jitter %u ticks. Medians over %llu seeds.\n\n",
              defaults.node.heartbeat_every_ticks, defaults.node.detector.suspect_after_ticks,
              defaults.node.detector.suspect_after_ticks_max, defaults.node.epoch_min_ticks,
              defaults.link.delay_min_ticks, defaults.link.delay_max_ticks, defaults.link.jitter_ticks,
              static_cast<unsigned long long>(seeds));
  std::printf("| N | cold start -> agreed (ticks) | primary crash -> agreed (ticks) | all corrupt -> agreed (ticks) "
              "| failover bound (ticks) | messages per decision | messages per decision / N^2 | sim ms per 1000 ticks |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (std::uint32_t n : sizes) {
    Row r = measure(n, seeds);
    SimConfig c;
    c.n = n;
    std::printf("| %u | %.0f | %.0f | %.0f | %llu | %.0f | %.2f | %.1f |\n", n, r.cold, r.failover, r.corrupt,
                static_cast<unsigned long long>(bounds_for(c).failover_ticks), r.per_decision,
                r.per_decision / (double(n) * n), r.ms_per_kilotick);
    std::fflush(stdout);
  }
  return 0;
}

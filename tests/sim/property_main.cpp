// Property run: random seeded fault schedules, each in two phases (faults
// drawn from the seed, then a quiet phase that must converge within the
// stated bound), every invariant checked at every step. Prints the command
// that replays any failure. Exit 0 only when every schedule passed.
//
//   sim_property --first-seed S --count K
//   sim_property --regressions FILE     (one seed per line; '#' comments)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "consensus/sim/fault_plan.hpp"
#include "consensus/sim/report.hpp"

using namespace vmrep::consensus::sim;

namespace {

struct Case {
  std::uint64_t seed;
  std::uint32_t n;
  std::uint64_t ticks;
  FaultPlan plan;
};

// Everything about a case follows from its seed.
Case make_case(std::uint64_t seed) {
  Rng rng(seed);
  Case c{seed, static_cast<std::uint32_t>(rng.between(3, 9)), 0, {}};
  std::uint64_t safety = rng.between(100, 400);
  c.plan = random_fault_plan(rng, c.n, safety);
  SimConfig config;
  config.n = c.n;
  c.ticks = std::max(safety, c.plan.last_fault_tick()) + bounds_for(config).convergence_ticks + 50;
  return c;
}

// The slowest convergence seen, as a share of its bound: how much slack the
// stated bound has.
double worst_share = 0;
std::string worst_case;

bool check(const Case& c) {
  SimConfig config;
  config.n = c.n;
  config.seed = c.seed;
  Simulator sim(config);
  run(sim, c.plan, c.ticks);
  RunResult r = result_of(sim);
  if (r.converged) {
    const auto& k = sim.checker();
    std::uint64_t took = *r.converged_tick > k.last_fault_tick() ? *r.converged_tick - k.last_fault_tick() : 0;
    double share = double(took) / double(k.bounds().convergence_ticks);
    if (share > worst_share) {
      worst_share = share;
      worst_case = "seed " + std::to_string(c.seed) + ": " + std::to_string(took) + " ticks, bound " +
                   std::to_string(k.bounds().convergence_ticks);
    }
  }
  if (sim.violations().empty() && r.converged && r.within_bound && r.max_primaries == 1) return true;
  std::printf("FAILED seed %llu: replay with\n  vmrep-sim --nodes %u --seed %llu --ticks %llu --faults '%s'\n",
              static_cast<unsigned long long>(c.seed), c.n, static_cast<unsigned long long>(c.seed),
              static_cast<unsigned long long>(c.ticks), to_spec(c.plan).c_str());
  if (!r.converged) std::printf("  not converged at the end\n");
  else if (!r.within_bound)
    std::printf("  converged at tick %llu, later than last fault %llu + bound %llu\n",
                static_cast<unsigned long long>(*r.converged_tick),
                static_cast<unsigned long long>(sim.checker().last_fault_tick()),
                static_cast<unsigned long long>(sim.checker().bounds().convergence_ticks));
  for (const auto& v : sim.violations()) std::printf("  %s\n", v.c_str());
  return false;
}

std::vector<std::uint64_t> read_seeds(const char* path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "sim_property: cannot read %s\n", path);
    std::exit(2);
  }
  std::vector<std::uint64_t> seeds;
  for (std::string line; std::getline(in, line);) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    seeds.push_back(std::stoull(line));
  }
  return seeds;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::uint64_t> seeds;
  std::uint64_t first = 1, count = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--first-seed") first = std::stoull(argv[i + 1]);
    else if (a == "--count") count = std::stoull(argv[i + 1]);
    else if (a == "--regressions") seeds = read_seeds(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: sim_property [--first-seed S --count K | --regressions FILE]\n");
      return 2;
    }
  }
  if (seeds.empty())
    for (std::uint64_t s = first; s < first + count; ++s) seeds.push_back(s);
  std::size_t failed = 0;
  for (std::uint64_t s : seeds) failed += check(make_case(s)) ? 0 : 1;
  std::printf("slowest convergence after the last fault: %s (%.0f%% of the bound)\n", worst_case.c_str(),
              worst_share * 100);
  std::printf("%zu passed, %zu failed\n", seeds.size() - failed, failed);
  return failed == 0 ? 0 : 1;
}

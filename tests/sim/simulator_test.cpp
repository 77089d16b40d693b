// The simulator and the election it drives, through the same entry points
// vmrep-sim uses: the cases issue #2 must show, determinism, and a checker
// that does report what it is meant to catch.
#include <gtest/gtest.h>

#include "consensus/sim/fault_plan.hpp"
#include "consensus/sim/report.hpp"
#include "consensus/sim/timeline.hpp"

namespace vmrep::consensus::sim {
namespace {

struct SimRun {
  std::unique_ptr<Simulator> sim;
  RunResult result;
};

SimRun run_spec(std::uint32_t n, const std::string& spec, std::uint64_t ticks, std::uint64_t seed = 1) {
  SimConfig c;
  c.n = n;
  c.seed = seed;
  auto sim = std::make_unique<Simulator>(c);
  run(*sim, parse_fault_plan(spec, n), ticks);
  RunResult r = result_of(*sim);
  return SimRun{std::move(sim), r};
}

std::uint64_t after_fault(const SimRun& r) { return *r.result.converged_tick - r.sim->checker().last_fault_tick(); }

TEST(Election, KillPrimaryOfFive_NewPrimaryWithinBound) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SimRun r = run_spec(5, "crash:1@200", 600, seed);
    ASSERT_TRUE(r.sim->violations().empty()) << "seed " << seed << ": " << r.sim->violations().front();
    ASSERT_TRUE(r.result.converged) << "seed " << seed;
    EXPECT_NE(r.result.primary, 1u);
    EXPECT_TRUE(r.result.within_bound);
    EXPECT_LE(after_fault(r), r.sim->checker().bounds().failover_ticks) << "seed " << seed;
  }
}

TEST(Election, KillFourOfFiveWithPrimary_SurvivorServes) {
  for (NodeId survivor = 2; survivor <= 5; ++survivor) {
    std::vector<NodeId> dead;
    for (NodeId id = 1; id <= 5; ++id)
      if (id != survivor) dead.push_back(id);
    SimRun r = run_spec(5, "crash:" + ids_text(dead) + "@150", 500);
    EXPECT_TRUE(r.sim->violations().empty());
    ASSERT_TRUE(r.result.converged);
    EXPECT_EQ(r.result.primary, survivor);
    EXPECT_TRUE(r.sim->node(survivor)->is_primary());
    EXPECT_EQ(r.result.max_primaries, 1u);
  }
}

// The paper's case 3: a primary on each side, then exactly one after the heal,
// the one of the side whose (epoch, round) was higher.
TEST(Election, PartitionTwoThree_PrimaryEachSideThenOneByKeyRule) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    SimConfig c;
    c.n = 5;
    c.seed = seed;
    Simulator sim(c);
    for (int i = 0; i < 100; ++i) sim.tick();
    sim.partition({{1, 2}, {3, 4, 5}});
    for (int i = 0; i < 200; ++i) sim.tick();
    NodeId left = sim.node(1)->primary();
    NodeId right = sim.node(3)->primary();
    EXPECT_EQ(left, 1u) << "seed " << seed;
    EXPECT_EQ(sim.node(2)->primary(), left);
    EXPECT_TRUE(right >= 3 && right <= 5) << "seed " << seed << " right side names " << right;
    EXPECT_EQ(sim.node(4)->primary(), right);
    EXPECT_EQ(sim.node(5)->primary(), right);
    // Keys go on moving until the first message crosses: the winner is fixed
    // by the keys both sides hold then; at heal time they hold these.
    Key left_key = std::max(sim.node(1)->key(), sim.node(2)->key());
    Key right_key = std::max({sim.node(3)->key(), sim.node(4)->key(), sim.node(5)->key()});
    sim.heal();
    for (int i = 0; i < 300; ++i) sim.tick();
    RunResult r = result_of(sim);
    ASSERT_TRUE(sim.violations().empty()) << sim.violations().front();
    ASSERT_TRUE(r.converged) << "seed " << seed;
    EXPECT_EQ(r.max_primaries, 1u);
    if (left_key.epoch > right_key.epoch + 1) {
      EXPECT_EQ(r.primary, left) << "seed " << seed;
    }
    if (right_key.epoch > left_key.epoch + 1) {
      EXPECT_EQ(r.primary, right) << "seed " << seed;
    }
    EXPECT_TRUE(r.primary == left || r.primary == right);
  }
}

TEST(Election, CorruptAllAtStart_Converges) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    SimRun r = run_spec(5, "corrupt:all@0", 400, seed);
    EXPECT_TRUE(r.sim->violations().empty()) << "seed " << seed << ": " << r.sim->violations().front();
    EXPECT_TRUE(r.result.converged) << "seed " << seed;
    EXPECT_TRUE(r.result.within_bound) << "seed " << seed;
  }
}

TEST(Election, RestartAfterMajorityLoss_ConvergesToOne) {
  SimRun r = run_spec(5, "crash:1,2,3@100;restart:1,2,3@300", 700);
  EXPECT_TRUE(r.sim->violations().empty());
  ASSERT_TRUE(r.result.converged);
  EXPECT_EQ(r.result.max_primaries, 1u);
  for (NodeId id = 1; id <= 5; ++id) EXPECT_EQ(r.sim->node(id)->primary(), r.result.primary);
}

TEST(Election, DecidedLogStaysBoundedOverLongRuns) {
  SimRun r = run_spec(3, "", 20000);
  for (NodeId id = 1; id <= 3; ++id) {
    const DecidedLog& log = r.sim->node(id)->instance().state().log;
    EXPECT_LE(log.recent.size(), r.sim->node(id)->config().log_window);
    EXPECT_GT(log.evicted_count, 1000u);  // it did keep deciding
  }
}

TEST(Simulator, SameSeed_SameRunByteForByte) {
  auto once = [](std::uint64_t seed) {
    SimConfig c;
    c.n = 7;
    c.seed = seed;
    Simulator sim(c);
    Timeline t(true);
    sim.add_observer(&t);
    FaultPlan plan = parse_fault_plan("corrupt:2,5@10;partition:1,2,3|4,5,6,7@100-250;crash:1@300;restart:1@400", 7);
    run(sim, plan, 600);
    std::string out = report_json(sim, plan, 600).dump();
    for (const auto& l : t.take_lines()) out += l + "\n";
    return out;
  };
  EXPECT_EQ(once(42), once(42));
  EXPECT_NE(once(42), once(43));
}

TEST(Simulator, MessagesLostOnlyToPartitionsAndCrashes) {
  SimRun quiet = run_spec(5, "", 300);
  EXPECT_GT(quiet.sim->messages_sent(), 0u);
  EXPECT_EQ(quiet.sim->messages_dropped(), 0u);
  SimRun split = run_spec(5, "partition:1|2,3,4,5@50-100", 300);
  EXPECT_GT(split.sim->messages_dropped(), 0u);
}

// The checker must be able to fail: with bounds shorter than any election can
// meet, a crash of the primary is reported.
TEST(Checker, ReportsMissedBounds) {
  SimConfig c;
  c.n = 5;
  c.bounds = Bounds{1, 2, 3};
  Simulator sim(c);
  run(sim, parse_fault_plan("crash:1@100", 5), 300);
  ASSERT_FALSE(sim.violations().empty());
  EXPECT_NE(sim.violations().front().find("without a primary"), std::string::npos) << sim.violations().front();
}

TEST(Checker, ReportsConflictingDecisionsAfterBound) {
  SimConfig c;
  c.n = 5;
  c.bounds = Bounds{1, 1000, 1};  // agreement expected 1 tick after the heal
  Simulator sim(c);
  run(sim, parse_fault_plan("partition:1,2|3,4,5@50-250", 5), 253);
  bool conflict = false;
  for (const auto& v : sim.violations()) conflict = conflict || v.find("decided differently") != std::string::npos ||
                                                   v.find("not agreed") != std::string::npos;
  EXPECT_TRUE(conflict);
}

}  // namespace
}  // namespace vmrep::consensus::sim

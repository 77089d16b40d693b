#include <gtest/gtest.h>

#include "consensus/sim/fault_plan.hpp"

namespace vmrep::consensus::sim {
namespace {

std::string error_of(const std::string& spec, std::uint32_t n = 5) {
  try {
    parse_fault_plan(spec, n);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(FaultPlan, ParsesEveryKindSortedByTick) {
  FaultPlan p = parse_fault_plan("restart:1@300; crash:1,2@100;partition:1,2|3,4,5@150-250;corrupt:all@0", 5);
  ASSERT_EQ(p.events.size(), 5u);
  EXPECT_EQ(p.events[0].kind, FaultEvent::Kind::corrupt);
  EXPECT_EQ(p.events[0].ids, (std::vector<NodeId>{1, 2, 3, 4, 5}));
  EXPECT_EQ(p.events[1].kind, FaultEvent::Kind::crash);
  EXPECT_EQ(p.events[2].kind, FaultEvent::Kind::partition);
  EXPECT_EQ(p.events[2].groups, (std::vector<std::vector<NodeId>>{{1, 2}, {3, 4, 5}}));
  EXPECT_EQ(p.events[3].kind, FaultEvent::Kind::heal);
  EXPECT_EQ(p.events[3].tick, 250u);
  EXPECT_EQ(p.events[4].kind, FaultEvent::Kind::restart);
  EXPECT_EQ(p.last_fault_tick(), 300u);
}

TEST(FaultPlan, SpecRoundTrips) {
  std::string spec = "corrupt:1,2,3,4,5@0;crash:1,2@100;partition:1,2|3,4,5@150-250;restart:1@300";
  EXPECT_EQ(to_spec(parse_fault_plan(spec, 5)), spec);
}

TEST(FaultPlan, BadInputNamesTheEvent) {
  EXPECT_EQ(error_of("crash:9@10"), "fault 'crash:9@10': node id 9 is not in 1..5");
  EXPECT_EQ(error_of("explode:1@10"), "fault 'explode:1@10': unknown kind 'explode' (crash, restart, corrupt, partition)");
  EXPECT_EQ(error_of("crash:1"), "fault 'crash:1': expected KIND:IDS@TICK");
  EXPECT_EQ(error_of("crash:1@x"), "fault 'crash:1@x': tick 'x' is not a number");
  EXPECT_EQ(error_of("partition:1|2@50"), "fault 'partition:1|2@50': expected @FROM-TO");
  EXPECT_EQ(error_of("partition:1|2@50-40"), "fault 'partition:1|2@50-40': TO must be after FROM");
  EXPECT_EQ(error_of("partition:1,2|2,3@1-5"), "fault 'partition:1,2|2,3@1-5': node 2 in two groups");
  EXPECT_EQ(error_of("crash:1,1@5"), "fault 'crash:1,1@5': node id 1 named twice");
  EXPECT_EQ(error_of("crash:@5"), "fault 'crash:@5': node id '' is not a number");
  EXPECT_EQ(error_of(""), "");
}

TEST(FaultPlan, RandomPlansLeaveALiveNodeAndReplayFromTheirSpec) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    Rng rng(seed);
    auto n = static_cast<std::uint32_t>(rng.between(3, 9));
    FaultPlan p = random_fault_plan(rng, n, 300);
    std::vector<bool> up(n, true);
    for (const auto& e : p.events) {
      EXPECT_LT(e.tick, 300u);
      for (NodeId id : e.ids) {
        if (e.kind == FaultEvent::Kind::crash) up[id - 1] = false;
        if (e.kind == FaultEvent::Kind::restart) up[id - 1] = true;
      }
    }
    EXPECT_TRUE(std::any_of(up.begin(), up.end(), [](bool u) { return u; })) << "seed " << seed;
    EXPECT_EQ(to_spec(parse_fault_plan(to_spec(p), n)), to_spec(p)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace vmrep::consensus::sim

// Scenarios as data: every folder under tests/sim/scenarios holds `cmds` (the
// command list, see consensus/sim/scenario.hpp) and `expected` (its log). Each
// runs as one test. To regenerate the expected logs after an intended change
// of behaviour, run with VMREP_SCENARIO_REWRITE=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "consensus/sim/scenario.hpp"

namespace vmrep::consensus::sim {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(VMREP_SCENARIO_DIR))
    if (fs::exists(e.path() / "cmds")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, MatchesExpectedLog) {
  fs::path dir = fs::path(VMREP_SCENARIO_DIR) / GetParam();
  ScenarioResult r = run_scenario(slurp(dir / "cmds"));
  const char* rewrite = std::getenv("VMREP_SCENARIO_REWRITE");
  if (rewrite != nullptr && std::string(rewrite) == "1") {
    std::ofstream(dir / "expected") << r.log;
  } else {
    EXPECT_EQ(slurp(dir / "expected"), r.log) << "scenario " << GetParam()
                                              << " changed; rerun with VMREP_SCENARIO_REWRITE=1 to review";
  }
  EXPECT_TRUE(r.passed) << r.log;
}

INSTANTIATE_TEST_SUITE_P(Sim, Scenario, ::testing::ValuesIn(scenario_names()),
                         [](const auto& info) { return info.param; });

TEST(ScenarioLanguage, MalformedCommandNamesTheLine) {
  EXPECT_THROW(run_scenario("tick 5\n"), std::invalid_argument);
  try {
    run_scenario("cluster nodes=3\ntick 1\nfrobnicate 2\n");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "line 3: unknown command 'frobnicate'");
  }
}

TEST(ScenarioLanguage, FailedExpectationFailsTheScenario) {
  ScenarioResult r = run_scenario("cluster nodes=3\ntick 60\nexpect primary 2\n");
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.log.find("FAIL: every live node names primary 2"), std::string::npos);
}

}  // namespace
}  // namespace vmrep::consensus::sim

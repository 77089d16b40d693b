// Operator hooks run for real through /bin/sh: environment, exit codes,
// output capture and the timeout that kills the whole process group.
#include "agents/hooks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>

namespace vmrep::agents {
namespace {

using namespace std::chrono_literals;

TEST(Hooks, EmptyCommandRunsNothingAndIsOk) {
  HookResult r = run_hook("", {}, 1s);
  EXPECT_FALSE(r.ran);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.summary(), "no hook");
}

TEST(Hooks, EnvironmentReachesTheCommandAndOutputIsCaptured) {
  HookResult r = run_hook("echo \"$VMREP_SERVICE on $VMREP_NODE\"; echo err >&2", {{"VMREP_SERVICE", "board"},
                                                                                   {"VMREP_NODE", "h2"}},
                          10s);
  EXPECT_TRUE(r.ran);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "board on h2\nerr\n");
  EXPECT_EQ(r.summary(), "ok");
}

TEST(Hooks, NonZeroExitIsAFailureNamingTheFirstLine) {
  HookResult r = run_hook("echo 'fence device unreachable'; echo more; exit 3", {}, 10s);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.summary(), "exit 3: fence device unreachable");
}

TEST(Hooks, TimeoutKillsTheCommandAndItsChildren) {
  const auto t0 = std::chrono::steady_clock::now();
  // The child sleep keeps the pipe open: only killing the group ends it.
  HookResult r = run_hook("sleep 30 & sleep 30; echo never", {}, 300ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.output.find("never"), std::string::npos);
  EXPECT_LT(took, 10s) << "the hook's process group was killed, not waited for";
  EXPECT_EQ(r.summary().rfind("timed out after", 0), 0u) << r.summary();
}

TEST(Hooks, OutputIsBounded) {
  HookResult r = run_hook("head -c 100000 /dev/zero | tr '\\\\0' x", {}, 10s);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.output.size(), 4096u);
}

}  // namespace
}  // namespace vmrep::agents

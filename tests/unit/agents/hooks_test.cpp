// Operator hooks run for real through /bin/sh: environment, exit codes,
// output capture and the timeout that kills the whole process group.
#include "agents/hooks.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
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

TEST(Hooks, SetVariablesOverrideTheDaemonsEnvironment) {
  ::setenv("VMREP_HOOK_TEST", "daemon", 1);
  HookResult r = run_hook("echo \"$VMREP_HOOK_TEST\"", {{"VMREP_HOOK_TEST", "hook"}}, 10s);
  ::unsetenv("VMREP_HOOK_TEST");
  EXPECT_EQ(r.output, "hook\n");
}

// A listening socket made the way Asio makes them (no close-on-exec), bound
// to a free loopback port; returns the descriptor and sets `port`.
int listening_socket(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

bool can_bind(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

TEST(Hooks, ABackgroundedChildHoldsNoDaemonSocketAndDoesNotHoldTheHookOpen) {
  // The lab's failure: a post_promote hook ran `sleep 120 &`, the sleep kept
  // the peer port, and the restarted daemon failed with "Address already in use".
  std::uint16_t port = 0;
  const int fd = listening_socket(port);
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  HookResult r = run_hook("sleep 4 & ls -l /proc/$$/fd", {}, 10s);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_LT(took, 3s) << "the hook's shell had exited; its background child must not keep it running";
  EXPECT_EQ(r.output.find("socket:"), std::string::npos) << r.output;
  ::close(fd);
  EXPECT_TRUE(can_bind(port)) << "the hook's background child still holds the daemon's port " << port;
}

TEST(Hooks, OutputIsBounded) {
  HookResult r = run_hook("head -c 100000 /dev/zero | tr '\\\\0' x", {}, 10s);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.output.size(), 4096u);
}

}  // namespace
}  // namespace vmrep::agents

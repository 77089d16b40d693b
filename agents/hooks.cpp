#include "agents/hooks.hpp"

#include "agents/clock.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace vmrep::agents {
namespace {

constexpr std::size_t output_max = 4096;

// Reads what the child writes until it closes the pipe or the deadline.
// Returns false on timeout.
bool drain(int fd, std::string& out, std::chrono::steady_clock::time_point deadline) {
  char buf[1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (out.size() < output_max) out.append(buf, std::min<std::size_t>(n, output_max - out.size()));
  }
}

}  // namespace

std::string HookResult::summary() const {
  if (!ran) return "no hook";
  if (timed_out) return "timed out after " + std::to_string(static_cast<long>(wall_ms)) + " ms";
  std::string first = output.substr(0, output.find('\n'));
  if (exit_code == 0) return "ok";
  return (exit_code < 0 ? std::string("killed") : "exit " + std::to_string(exit_code)) +
         (first.empty() ? "" : ": " + first);
}

HookResult run_hook(const std::string& command, const std::map<std::string, std::string>& env,
                    std::chrono::milliseconds timeout) {
  HookResult result;
  if (command.empty()) return result;
  result.ran = true;
  const auto t0 = std::chrono::steady_clock::now();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("hook: pipe failed");
  // Built before fork: the child may only call async-signal-safe functions.
  std::vector<std::string> vars;
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error("hook: fork failed");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    for (auto& v : vars) ::putenv(v.data());
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  const bool finished = drain(fds[0], result.output, t0 + timeout);
  ::close(fds[0]);
  if (!finished) {
    ::kill(-pid, SIGKILL);
    result.timed_out = true;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.wall_ms = ms_since(t0);
  return result;
}

}  // namespace vmrep::agents

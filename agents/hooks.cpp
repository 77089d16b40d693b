#include "agents/hooks.hpp"

#include "agents/clock.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace vmrep::agents {
namespace {

constexpr std::size_t output_max = 4096;
constexpr int poll_slice_ms = 20;

// Everything the child needs after fork, made before it: the daemon has
// threads, so between fork and exec the child may only make async-signal-safe
// calls (no allocation, no putenv).
struct ChildPlan {
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  std::string command;
  std::vector<char*> argv;

  ChildPlan(const std::string& cmd, const std::map<std::string, std::string>& env) : command(cmd) {
    // This process's environment, minus the names the hook sets itself.
    for (char** e = environ; e && *e; ++e) {
      const std::string entry(*e);
      const std::string name = entry.substr(0, entry.find('='));
      if (!env.contains(name)) env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    static char sh[] = "sh", dash_c[] = "-c";
    argv = {sh, dash_c, command.data(), nullptr};
  }
};

// In the child: its own process group (the timeout kills it whole), stdin
// from /dev/null, stdout and stderr into the pipe, default signal handling,
// and no other descriptor of the daemon's: a hook that leaves a child behind
// (`sleep 120 &`) must not keep the peer port, the control socket or a TLS
// connection open after vmrepd exits.
[[noreturn]] void exec_child(const ChildPlan& plan, int devnull, int out_fd) {
  ::setpgid(0, 0);
  ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  if (::close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 65536; ++fd) ::close(fd);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  ::execve("/bin/sh", plan.argv.data(), plan.envp.data());
  ::_exit(127);
}

// Collects the child's output until the hook's shell has exited and its
// output is drained, or the deadline. A background child that still holds the
// pipe does not keep the hook running: once the shell is gone, whatever is
// not already written is not waited for. Returns the wait status, or nullopt
// at the deadline.
std::optional<int> collect(pid_t pid, int fd, std::chrono::steady_clock::time_point deadline, std::string& out) {
  char buf[1024];
  bool eof = false;
  std::optional<int> status;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{eof ? -1 : fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), poll_slice_ms)));
    const bool readable = r > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
    if (readable) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0 && out.size() < output_max)
        out.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), output_max - out.size()));
      if (n == 0) eof = true;
      if (n != 0) continue;  // more may follow at once
    }
    if (!status) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) status = st;
    }
    if (status && (eof || !readable)) return status;
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
  const ChildPlan plan(command, env);
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) throw std::runtime_error("hook: cannot open /dev/null");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::close(devnull);
    throw std::runtime_error("hook: pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(plan, devnull, fds[1]);
  ::close(devnull);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    throw std::runtime_error("hook: fork failed");
  }
  std::optional<int> status = collect(pid, fds[0], t0 + timeout, result.output);
  ::close(fds[0]);
  if (!status) {
    ::kill(-pid, SIGKILL);
    result.timed_out = true;
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    status = st;
  }
  result.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  result.wall_ms = ms_since(t0);
  return result;
}

}  // namespace vmrep::agents

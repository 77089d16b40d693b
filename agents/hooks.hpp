#pragma once
// Operator hooks (services.NAME.hooks: pre_promote, post_promote,
// on_split_brain, fence): a command run by /bin/sh -c with VMREP_* variables
// in its environment.
//
// Who calls it: a worker thread (it blocks until the command exits or the
// timeout kills it). Never the event loop.
#include <chrono>
#include <map>
#include <string>

namespace vmrep::agents {

struct HookResult {
  bool ran = false;       // false: no command configured
  int exit_code = 0;      // -1: killed by a signal or the timeout
  bool timed_out = false;
  std::string output;     // the first 4 KiB of stdout+stderr
  double wall_ms = 0;
  bool ok() const { return !ran || (exit_code == 0 && !timed_out); }
  // "exit 3: <first output line>", "timed out after 30000 ms", "ok"
  std::string summary() const;
};

// Runs `command` (empty: nothing, ok). The environment is this process's with
// `env` set over it; stdin is /dev/null and no other descriptor of the daemon
// (sockets, store files) reaches the command. It returns once the shell has
// exited: a child it left in the background keeps running but does not hold
// the hook open. On timeout the whole process group is killed (SIGKILL).
HookResult run_hook(const std::string& command, const std::map<std::string, std::string>& env,
                    std::chrono::milliseconds timeout);

}  // namespace vmrep::agents

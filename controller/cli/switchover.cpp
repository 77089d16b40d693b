#include "controller/cli/switchover.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "controller/cli/control_client.hpp"

namespace vmrep::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json replication_of(const std::string& socket, const std::string& service) {
  auto r = get(socket, "/v1/status");
  auto j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object()) throw std::runtime_error("status: HTTP " + std::to_string(r.status));
  for (const auto& s : j.value("services", json::array()))
    if (s.value("name", "") == service) return s.value("replication", json::object());
  throw std::runtime_error("no service '" + service + "' on this node");
}

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace

int run_switchover(const std::string& socket, const std::string& service, const std::string& to, bool as_json,
                   int timeout_s) {
  const json before = replication_of(socket, service);
  const std::string previous = before.contains("last_switchover") ? text(before["last_switchover"], "started") : "";
  auto r = post(socket, "/v1/switchover?service=" + service + "&to=" + to);
  auto answer = json::parse(r.body, nullptr, false);
  if (r.status != 202) {
    std::string why = answer.is_object() && answer.contains("error") ? text(answer, "error") : r.body;
    std::fprintf(stderr, "vmrepctl: switchover of %s to %s refused: %s\n", service.c_str(), to.c_str(), why.c_str());
    return 1;
  }
  const auto t0 = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto say = [&](const std::string& line) {
    if (!as_json) std::printf("[%5.1fs] %s\n", elapsed(), line.c_str());
    std::fflush(stdout);
  };
  say("switchover of " + service + " to " + to + " started");
  std::string phase, outcome;
  json last;
  while (elapsed() < timeout_s) {
    json rep = replication_of(socket, service);
    if (rep.contains("switchover")) {
      std::string now = text(rep["switchover"], "phase");
      if (now != phase) {
        phase = now;
        std::string v = text(rep["switchover"], "version");
        say(phase == "checkpointing" ? "guest paused; final checkpoint"
            : phase == "pushing"     ? "final version " + v + " going to " + to
            : phase == "handing_over" ? to + " holds " + v + "; handing the primary role over"
                                      : phase);
      }
    } else if (outcome.empty() && rep.contains("last_switchover") &&
               text(rep["last_switchover"], "started") != previous) {
      last = rep["last_switchover"];
      outcome = text(last, "outcome");
      if (outcome != "done") {
        say("aborted: " + text(last, "detail") + " (the guest runs on here)");
        if (as_json) std::cout << json{{"outcome", outcome}, {"detail", last["detail"]}}.dump() << "\n";
        return 1;
      }
      say("this node stopped its paused VM and follows " + to);
    }
    if (outcome == "done" && rep.contains("nodes") && rep["nodes"].contains(to) &&
        text(rep["nodes"][to], "state") == "serving") {
      say(to + " serves " + service);
      if (as_json)
        std::cout << json{{"outcome", "done"}, {"to", to}, {"version", last["version"]}, {"seconds", elapsed()}}.dump()
                  << "\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::fprintf(stderr, "vmrepctl: switchover of %s to %s: no outcome within %d s (phase %s)\n", service.c_str(),
               to.c_str(), timeout_s, phase.c_str());
  return 1;
}

}  // namespace vmrep::cli

// vmrepctl: the operator's command line. A thin client of vmrepd's control
// API (status, events, snapshots, metrics) plus the cluster PKI helper.
// Exit codes: 0 ok, 1 error, 2 usage, 3 daemon unreachable.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "controller/cli/control_client.hpp"
#include "controller/cli/switchover.hpp"
#include "controller/cli/views.hpp"
#include "transport/pki.hpp"

namespace {

struct Globals {
  std::string socket;
  std::string config;
  std::string node;
  bool json = false;
};

// --socket, else VMREP_SOCKET, else the cluster file's control socket for
// --node (or this host), else the default path.
std::string socket_path(const Globals& g) {
  if (!g.socket.empty()) return g.socket;
  if (const char* env = std::getenv("VMREP_SOCKET")) return env;
  if (!g.config.empty()) {
    auto c = vmrep::config::load_file(g.config);
    std::string node = g.node;
    if (node.empty()) {
      char buf[256] = {};
      gethostname(buf, sizeof buf - 1);
      node = std::string(buf).substr(0, std::string(buf).find('.'));
    }
    return vmrep::config::resolve_for_node(c, node).control_socket;
  }
  return vmrep::config::Config{}.control_socket;
}

nlohmann::json fetch(const Globals& g, const std::string& target) {
  auto r = vmrep::cli::get(socket_path(g), target);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200)
    throw std::runtime_error(target + ": HTTP " + std::to_string(r.status) + ": " +
                             (j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r.body));
  if (j.is_discarded()) throw std::runtime_error(target + ": the daemon sent something that is not JSON");
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmrepctl: inspect and control vmrep, the self-stabilizing VM replication daemon."};
  app.require_subcommand(1);
  Globals g;
  app.add_option("-s,--socket", g.socket, "vmrepd control socket (default: $VMREP_SOCKET, the cluster file's, "
                                          "or /run/vmrep/vmrepd.sock)");
  app.add_option("-c,--config", g.config, "cluster file to find the control socket in");
  app.add_option("-n,--node", g.node, "node name in the cluster file (default: the host name)");
  app.add_flag("--json", g.json, "machine-readable output");

  auto* status = app.add_subcommand(
      "status", "who is primary, peers' reachability and suspicion; per service the replication state, each node's "
                "newest and committed version, lag, bytes shipped, the last checkpoint's age");
  status->add_flag("--json", g.json, "machine-readable output");
  auto* events = app.add_subcommand("events", "recent role changes and suspicions with timestamps");
  std::uint64_t since = 0, limit = 50;
  events->add_option("--since", since, "only events after this sequence number");
  events->add_option("--limit", limit, "at most this many (newest)")->capture_default_str();
  events->add_flag("--json", g.json, "machine-readable output");
  auto* snaps = app.add_subcommand("snapshots",
                                   "a service's snapshot versions on every node, as this node knows them: size, "
                                   "committed or not, bytes this node shipped of each version");
  std::string service;
  snaps->add_option("service", service, "service name (as in the cluster file)")->required();
  snaps->add_flag("--json", g.json, "machine-readable output");
  auto* switchover = app.add_subcommand(
      "switchover", "planned move of SERVICE to NODE, run against the service's primary: the guest pauses, a final "
                    "checkpoint goes to NODE, NODE takes over from it; nothing served is lost. Shows progress.");
  std::string to;
  int switch_timeout = 180;
  switchover->add_option("service", service, "service name")->required();
  switchover->add_option("--to", to, "the node to move it to")->required();
  switchover->add_option("--timeout", switch_timeout, "seconds to wait for the outcome")->capture_default_str();
  switchover->add_flag("--json", g.json, "print the outcome as JSON");
  auto* metrics = app.add_subcommand("metrics", "the daemon's Prometheus metrics");

  auto* pki = app.add_subcommand("pki", "make a cluster CA and node certificates");
  pki->require_subcommand(1);
  std::string dir = ".", cluster = "vmrep", issue_cluster;
  int issue_days = 825;
  std::vector<std::string> nodes;
  auto* init = pki->add_subcommand("init", "create DIR/ca.key and DIR/ca.crt");
  init->add_option("--dir", dir, "where the files go")->capture_default_str();
  init->add_option("--cluster", cluster, "CA name")->capture_default_str();
  init->add_flag("--json", g.json, "machine-readable output");
  auto* issue = pki->add_subcommand("issue", "create DIR/NODE.key and DIR/NODE.crt signed by the CA");
  issue->add_option("nodes", nodes, "node names")->required();
  issue->add_option("--dir", dir, "where the CA is and the files go")->capture_default_str();
  issue->add_option("--cluster", issue_cluster,
                    "the nodes' cluster, put in O= and checked by peers (default: the CA's --cluster)");
  issue->add_option("--days", issue_days, "validity in days")->capture_default_str()->check(CLI::Range(1, 36500));
  issue->add_flag("--json", g.json, "machine-readable output");
  auto* renew = pki->add_subcommand(
      "renew", "replace DIR/NODE.crt by a new one for the same key (then SIGHUP the node's vmrepd: no restart)");
  renew->add_option("nodes", nodes, "node names")->required();
  renew->add_option("--dir", dir, "where the CA and the node's key are")->capture_default_str();
  renew->add_option("--days", issue_days, "validity in days from now")->capture_default_str()->check(CLI::Range(1, 36500));
  renew->add_flag("--json", g.json, "machine-readable output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError that exits 0; every other one is a usage error (2,
    // as the header says), not CLI11's own numbering.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (status->parsed()) {
      auto j = fetch(g, "/v1/status");
      std::cout << (g.json ? j.dump(2) + "\n" : vmrep::cli::render_status(j));
    } else if (events->parsed()) {
      auto j = fetch(g, "/v1/events?since=" + std::to_string(since) + "&limit=" + std::to_string(limit));
      std::cout << (g.json ? j.dump(2) + "\n" : vmrep::cli::render_events(j));
    } else if (snaps->parsed()) {
      // Names are [A-Za-z0-9._-] (the config checks it), so nothing needs escaping and
      // anything else cannot name a service.
      if (service.empty() || service.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                       "0123456789._-") != std::string::npos)
        throw std::runtime_error("snapshots of service '" + service + "': not a service name ([A-Za-z0-9._-])");
      auto r = vmrep::cli::get(socket_path(g), "/v1/snapshots?service=" + service);
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      const std::string what = "snapshots of service '" + service + "': ";
      if (r.status != 200) {
        const bool has_error = j.is_object() && j.contains("error") && j["error"].is_string();
        throw std::runtime_error(what +
                                 (has_error ? j["error"].get<std::string>() : "HTTP " + std::to_string(r.status)));
      }
      if (j.is_discarded()) throw std::runtime_error(what + "the daemon sent something that is not JSON");
      std::cout << (g.json ? j.dump(2) + "\n" : vmrep::cli::render_snapshots(j));
    } else if (switchover->parsed()) {
      return vmrep::cli::run_switchover(socket_path(g), service, to, g.json, switch_timeout);
    } else if (metrics->parsed()) {
      std::cout << vmrep::cli::get(socket_path(g), "/metrics").body;
    } else if (init->parsed()) {
      vmrep::transport::pki::init(dir, cluster);
      if (g.json) std::cout << nlohmann::json{{"files", {dir + "/ca.key", dir + "/ca.crt"}}}.dump() << "\n";
      else std::cout << "created " << dir << "/ca.key and " << dir << "/ca.crt (keep ca.key secret)\n";
    } else if (issue->parsed()) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& n : nodes) {
        vmrep::transport::pki::issue(dir, n, issue_days, issue_cluster);
        files.push_back(dir + "/" + n + ".key");
        files.push_back(dir + "/" + n + ".crt");
        if (!g.json) std::cout << "created " << dir << "/" << n << ".key and " << dir << "/" << n << ".crt\n";
      }
      if (g.json) std::cout << nlohmann::json{{"files", files}}.dump() << "\n";
    } else if (renew->parsed()) {
      nlohmann::json renewed = nlohmann::json::array();
      namespace pki = vmrep::transport::pki;
      for (const auto& n : nodes) {
        const pki::Renewal r = pki::renew(dir, n, issue_days);
        const std::string file = dir + "/" + n + ".crt";
        renewed.push_back({{"file", file}, {"old_not_after", pki::rfc3339(r.old_not_after)},
                           {"not_after", pki::rfc3339(r.new_not_after)}});
        if (!g.json)
          std::cout << "renewed " << file << ": expires " << pki::rfc3339(r.new_not_after) << " (was "
                    << pki::rfc3339(r.old_not_after) << "); send SIGHUP to " << n << "'s vmrepd to use it\n";
      }
      if (g.json) std::cout << nlohmann::json{{"renewed", renewed}}.dump() << "\n";
    }
  } catch (const vmrep::cli::Unreachable& e) {
    std::fprintf(stderr, "vmrepctl: %s\n", e.what());
    return 3;
  } catch (const vmrep::config::ConfigError& e) {
    for (const auto& l : e.lines()) std::fprintf(stderr, "%s\n", l.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmrepctl: %s\n", e.what());
    return 1;
  }
  return 0;
}

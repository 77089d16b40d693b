// vmrepctl's human renderings of /v1/status and /v1/snapshots, from JSON
// fixtures shaped like ServiceAgent::status() and ::snapshots() produce them.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/cli/views.hpp"

namespace vmrep::cli {
namespace {

using nlohmann::json;

// h1 serves "web" (term 3); h2 is a backup one version behind that h1 pushed
// to; h3 is unreachable, of an older term, and its last push failed.
json status_fixture() {
  return json::parse(R"J({
    "node": "h1", "node_id": 1, "cluster": "prod", "version": "0.1.0", "uptime_seconds": 3725.0, "ticks": 100,
    "cluster_election": {"primary": "h1", "primary_id": 1, "epoch": 4, "round": 0, "role": "primary",
                         "suspects": ["h3"], "primary_changes": 1},
    "peers": [
      {"name": "h2", "id": 2, "address": "10.0.0.2:7100", "reachable": true, "outbound_up": true,
       "inbound_up": true, "suspected": false, "last_error": ""},
      {"name": "h3", "id": 3, "address": "10.0.0.3:7100", "reachable": false, "outbound_up": false,
       "inbound_up": false, "suspected": true, "last_error": "connect: Connection refused"}],
    "services": [{
      "name": "web", "domain": "web-vm", "mode": "quorum", "primary": "h1", "primary_id": 1, "epoch": 3,
      "round": 0, "role": "primary", "suspects": ["h3"], "primary_changes": 2,
      "replication": {
        "state": "serving", "detail": "restored 3.41 (term 3)", "mode": "quorum", "min_acks": 1,
        "checkpoint_interval_ms": 2000, "newest": "3.42", "committed": "3.41", "serving_version": "3.41",
        "newest_known": "3.42", "checkpoints": 42, "checkpoint_failures": 1, "term": 3,
        "last_checkpoint": {"version": "3.42", "age_ms": 3200, "plain_bytes": 2147483648,
                            "new_bytes": 12582912, "new_chunks": 30, "downtime_ms": 85,
                            "checkpoint_ms": 1234.5, "ingest_ms": 300.2, "commit_ms": 20.0},
        "last_failover": {"started": "2026-11-29T19:00:00Z", "version": "3.41", "fetched_from": "h2",
                          "fetch_ms": 1100, "to_serving_ms": 4200},
        "nodes": {
          "h1": {"state": "serving", "newest": "3.42", "committed": "3.41", "lag": 0},
          "h2": {"state": "backup", "newest": "3.41", "committed": "3.41", "lag": 1, "pushes": 41,
                 "push_failures": 0, "bytes_shipped": 1610612736, "push_in_flight": true, "last_acked": "3.41"},
          "h3": {"state": "unreachable", "newest": "2.17", "committed": null, "lag": null, "pushes": 5,
                 "push_failures": 2, "bytes_shipped": 1536, "push_in_flight": false, "last_acked": null,
                 "last_error": "ssh: connect to 10.0.0.3:22: Connection refused"}}}}]
  })J");
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The first line that contains every needle, or "" (and a failure).
std::string line_with(const std::string& text, const std::vector<std::string>& needles) {
  for (const auto& l : lines(text)) {
    bool all = true;
    for (const auto& n : needles) all = all && l.find(n) != std::string::npos;
    if (all) return l;
  }
  ADD_FAILURE() << "no line with all of the needles in:\n" << text;
  return "";
}

// A table row split on runs of two or more spaces: its cells.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  for (; i < line.size(); ++i) {
    if (line[i] == ' ' && i + 1 < line.size() && line[i + 1] == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      while (i + 1 < line.size() && line[i + 1] == ' ') ++i;
      continue;
    }
    cur += line[i];
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

TEST(HumanUnits, SizesAndAges) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(12582912), "12.0 MiB");
  EXPECT_EQ(human_bytes(1610612736), "1.5 GiB");
  EXPECT_EQ(human_ms(0), "0 ms");
  EXPECT_EQ(human_ms(0.3), "<1 ms");
  EXPECT_EQ(human_ms(850), "850 ms");
  EXPECT_EQ(human_ms(3200), "3.2 s");
  EXPECT_EQ(human_ms(242000), "4m02s");
  EXPECT_EQ(human_ms(3725000), "1h02m");
  EXPECT_EQ(human_ms(-5), "0 ms");
}

TEST(RenderStatus, ServicesTableShowsPrimaryStateCommittedAndCheckpointAge) {
  const std::string out = render_status(status_fixture());
  auto header = cells(line_with(out, {"SERVICE", "PRIMARY"}));
  EXPECT_EQ(header, (std::vector<std::string>{"SERVICE", "PRIMARY", "THIS NODE", "STATE", "COMMITTED",
                                              "LAST CHECKPOINT", "MODE", "EPOCH", "ROUND", "SUSPECTS"}));
  auto row = cells(line_with(out, {"web ", "serving"}));
  EXPECT_EQ(row, (std::vector<std::string>{"web", "h1", "primary", "serving", "3.41", "3.2 s ago, down 85 ms",
                                           "quorum", "3", "0", "h3"}));
}

TEST(RenderStatus, KeepsClusterAndPeers) {
  const std::string out = render_status(status_fixture());
  EXPECT_NE(out.find("Cluster prod: node h1 (id 1), up 1h02m"), std::string::npos) << out;
  EXPECT_NE(out.find("Cluster election: primary h1, epoch 4 round 0, this node is primary"), std::string::npos);
  EXPECT_EQ(cells(line_with(out, {"h2", "10.0.0.2:7100"})),
            (std::vector<std::string>{"h2", "10.0.0.2:7100", "up", "no", "-"}));
  EXPECT_EQ(cells(line_with(out, {"h3", "10.0.0.3:7100"})),
            (std::vector<std::string>{"h3", "10.0.0.3:7100", "down", "yes", "connect: Connection refused"}));
}

TEST(RenderStatus, ServiceBlockShowsEveryNodesVersionsLagAndShipping) {
  const std::string out = render_status(status_fixture());
  EXPECT_NE(out.find("web: this node serving - restored 3.41 (term 3)"), std::string::npos) << out;
  EXPECT_NE(line_with(out, {"min_acks 1", "checkpoint every 2.0 s", "term 3", "42 checkpoints (1 failed)"}), "");
  EXPECT_NE(line_with(out, {"last checkpoint 3.42, 3.2 s ago: 2.0 GiB, 12.0 MiB new in 30 chunks", "down 85 ms",
                            "checkpoint 1.2 s", "ingest 300 ms", "commit 20 ms"}),
            "");
  EXPECT_NE(line_with(out, {"last failover 2026-11-29T19:00:00Z: 3.41 fetched from h2 in 1.1 s",
                            "serving after 4.2 s"}),
            "");
  EXPECT_EQ(cells(line_with(out, {"NODE", "LAG"})),
            (std::vector<std::string>{"NODE", "STATE", "NEWEST", "COMMITTED", "LAG", "SHIPPED", "PUSHES",
                                      "LAST ERROR"}));
  EXPECT_EQ(cells(line_with(out, {"h1 (this node)"})),
            (std::vector<std::string>{"h1 (this node)", "serving", "3.42", "3.41", "0", "-", "-", "-"}));
  EXPECT_EQ(cells(line_with(out, {"h2", "backup"})),
            (std::vector<std::string>{"h2", "backup", "3.41", "3.41", "1", "1.5 GiB", "41 (1 running)", "-"}));
  // Null committed and lag (another term): "-" and "behind", never "null".
  EXPECT_EQ(cells(line_with(out, {"h3", "unreachable"})),
            (std::vector<std::string>{"h3", "unreachable", "2.17", "-", "behind", "1.5 KiB", "5 (2 failed)",
                                      "ssh: connect to 10.0.0.3:22: Connection refused"}));
  EXPECT_EQ(out.find("null"), std::string::npos) << out;
}

TEST(RenderStatus, CheckpointWithoutDowntimeFigure) {
  json s = status_fixture();
  s["services"][0]["replication"]["last_checkpoint"]["downtime_ms"] = nullptr;
  const std::string out = render_status(s);
  EXPECT_EQ(cells(line_with(out, {"web ", "serving"}))[5], "3.2 s ago");
  EXPECT_NE(line_with(out, {"last checkpoint 3.42", "chunks; checkpoint 1.2 s"}), "");
  EXPECT_EQ(out.find("down -"), std::string::npos) << out;
  EXPECT_EQ(out.find("down null"), std::string::npos) << out;
}

TEST(RenderStatus, NullsOfAServiceThatHasNotReplicatedYet) {
  json s = status_fixture();
  json& r = s["services"][0]["replication"];
  r = {{"state", "restoring"},
       {"detail", ""},
       {"newest", nullptr},
       {"committed", nullptr},
       {"serving_version", nullptr},
       {"newest_known", nullptr},
       {"checkpoints", 0},
       {"checkpoint_failures", 0},
       {"nodes", {{"h1", {{"state", "restoring"}, {"newest", nullptr}, {"committed", nullptr}, {"lag", 0}}},
                  {"h2", {{"state", "backup"}, {"newest", nullptr}, {"committed", nullptr}, {"lag", 0}}}}}};
  s["services"][0]["primary"] = nullptr;
  const std::string out = render_status(s);
  EXPECT_EQ(cells(line_with(out, {"web ", "restoring"})),
            (std::vector<std::string>{"web", "none", "primary", "restoring", "-", "-", "quorum", "3", "0", "h3"}));
  EXPECT_NE(out.find("web: this node restoring\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("last checkpoint"), std::string::npos);
  EXPECT_EQ(out.find("last failover"), std::string::npos);
  EXPECT_EQ(cells(line_with(out, {"h2", "backup"})),
            (std::vector<std::string>{"h2", "backup", "-", "-", "0", "-", "-", "-"}));
  EXPECT_EQ(out.find("null"), std::string::npos) << out;
}

TEST(RenderStatus, PreparedRestoreIsShownOnTheBackupAndInTheFailoverLine) {
  json s = status_fixture();
  auto& r = s["services"][0]["replication"];
  EXPECT_EQ(render_status(s).find("prepared"), std::string::npos) << "nothing prepared, nothing said";
  r["prepared_restore"] = "3.42";
  r["last_failover"]["prepared_at_suspicion"] = true;
  const std::string out = render_status(s);
  EXPECT_NE(line_with(out, {"restore of 3.42 prepared here, paused"}), "");
  EXPECT_NE(line_with(out, {"last failover", "(restore prepared at suspicion, resumed)", "serving after 4.2 s"}), "");
}

TEST(RenderStatus, OlderDaemonWithoutReplicationKeepsTheElectionTable) {
  json s = status_fixture();
  s["services"][0].erase("replication");
  const std::string out = render_status(s);
  EXPECT_EQ(cells(line_with(out, {"SERVICE", "PRIMARY"})),
            (std::vector<std::string>{"SERVICE", "PRIMARY", "THIS NODE", "EPOCH", "ROUND", "MODE", "SUSPECTS"}));
  EXPECT_EQ(cells(line_with(out, {"web ", "h1"})),
            (std::vector<std::string>{"web", "h1", "primary", "3", "0", "quorum", "h3"}));
  EXPECT_EQ(out.find("LAG"), std::string::npos) << out;
  EXPECT_EQ(out.find("web: this node"), std::string::npos) << out;
}

TEST(RenderStatus, NoServicesNoPeersAndMissingSections) {
  json s = status_fixture();
  s["services"] = json::array();
  s["peers"] = json::array();
  std::string out = render_status(s);
  EXPECT_NE(out.find("Peers:\n  (none)"), std::string::npos) << out;
  EXPECT_NE(out.find("Services:\n  (none configured)"), std::string::npos) << out;
  // A daemon that leaves whole sections out must not crash the client.
  out = render_status(json{{"node", "h1"}});
  EXPECT_NE(out.find("Cluster -: node h1"), std::string::npos) << out;
  EXPECT_NE(out.find("primary none"), std::string::npos) << out;
  EXPECT_NE(out.find("(none configured)"), std::string::npos) << out;
}

TEST(RenderStatus, OneServiceReplicatesAnotherDoesNot) {
  json s = status_fixture();
  json other = s["services"][0];
  other["name"] = "db";
  other["primary"] = "h2";
  other["role"] = "backup";
  other.erase("replication");
  s["services"].push_back(other);
  const std::string out = render_status(s);
  EXPECT_EQ(cells(line_with(out, {"db ", "h2"})),
            (std::vector<std::string>{"db", "h2", "backup", "-", "-", "-", "quorum", "3", "0", "h3"}));
  EXPECT_EQ(out.find("db: this node"), std::string::npos) << out;
  EXPECT_NE(out.find("web: this node serving"), std::string::npos) << out;
}

json snapshots_fixture() {
  return json::parse(R"J({
    "service": "web", "committed": "3.41",
    "nodes": {
      "h1": {"state": "serving", "versions": [
        {"version": "3.40", "committed": true, "bytes": 2147483648, "shipped_bytes": 1048576},
        {"version": "3.41", "committed": true, "bytes": 2147483648},
        {"version": "3.42", "committed": false, "bytes": 2147483648}]},
      "h2": {"state": "backup", "versions": [
        {"version": "3.41", "committed": true, "bytes": 2147483648, "shipped_bytes": 524288}]},
      "h3": {"state": "unreachable", "versions": []}}
  })J");
}

TEST(RenderSnapshots, VersionsPerNodeWithSizeCommittedAndShipped) {
  const std::string out = render_snapshots(snapshots_fixture());
  EXPECT_NE(out.find("Service web: committed 3.41\n"), std::string::npos) << out;
  EXPECT_NE(out.find("h1 (serving): 3 versions\n"), std::string::npos) << out;
  EXPECT_NE(out.find("h2 (backup): 1 version\n"), std::string::npos) << out;
  EXPECT_NE(out.find("h3 (unreachable): 0 versions\n"), std::string::npos) << out;
  EXPECT_EQ(cells(line_with(out, {"VERSION"})),
            (std::vector<std::string>{"VERSION", "SIZE", "COMMITTED", "SHIPPED"}));
  EXPECT_EQ(cells(line_with(out, {"3.40"})), (std::vector<std::string>{"3.40", "2.0 GiB", "yes", "1.0 MiB"}));
  EXPECT_EQ(cells(line_with(out, {"3.42"})), (std::vector<std::string>{"3.42", "2.0 GiB", "no", "-"}));
  // h2's table comes after its heading and holds its one version.
  const auto h2 = out.find("h2 (backup)");
  ASSERT_NE(h2, std::string::npos);
  EXPECT_EQ(cells(line_with(out.substr(h2), {"3.41"})),
            (std::vector<std::string>{"3.41", "2.0 GiB", "yes", "512.0 KiB"}));
}

TEST(RenderSnapshots, NothingCommittedAndMissingFields) {
  json s = snapshots_fixture();
  s["committed"] = nullptr;
  s["nodes"]["h1"]["versions"] = json::array({json{{"version", "1.1"}, {"committed", false}}});
  s["nodes"]["h2"].erase("versions");
  std::string out = render_snapshots(s);
  EXPECT_NE(out.find("Service web: committed none\n"), std::string::npos) << out;
  EXPECT_EQ(cells(line_with(out, {"1.1"})), (std::vector<std::string>{"1.1", "-", "no", "-"}));
  EXPECT_NE(out.find("h2 (backup): 0 versions\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("null"), std::string::npos) << out;
  out = render_snapshots(json{{"service", "web"}});
  EXPECT_NE(out.find("(no nodes)"), std::string::npos) << out;
}

}  // namespace
}  // namespace vmrep::cli

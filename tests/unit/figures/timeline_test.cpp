// vmrep-timeline: spans, faults and recovery times derived from a scenario
// runner's file, and their SVG, text and JSON renderings.
//
// testdata/primary-dies.json is a hand-written failover shaped like the real
// event logs (agents/service_agent.cpp, agents/election_agent.cpp,
// controller/controller.cpp): h1 serves; "kill h1" at +2.786 s; h2 suspects
// it, elects itself, restores and serves at +5.186 s; h3 joins late (+1.0 s)
// and stays a backup; h1 is restarted, logs "started" at +11.020 s and comes
// back as a backup. It also carries events that must not count: the cluster
// election's role changes (service ""), another service's state change,
// "link_up", "committed", "suspected", "trusted".
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "figures/timeline.hpp"

namespace vmrep::figures {
namespace {

using nlohmann::json;

json fixture() {
  std::ifstream in(std::string(VMREP_TIMELINE_TESTDATA) + "/primary-dies.json");
  EXPECT_TRUE(in) << "testdata/primary-dies.json";
  return json::parse(in);
}

struct Expected {
  NodeState state;
  double start, end;
};

void expect_spans(const NodeRow& row, const std::vector<Expected>& want) {
  ASSERT_EQ(row.spans.size(), want.size())
      << row.name << ": " << timeline_json(Timeline{"", "", "", 0, 0, {row}, {}, {}}).dump();
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(row.name + " span " + std::to_string(i));
    EXPECT_EQ(row.spans[i].state, want[i].state) << state_name(row.spans[i].state);
    EXPECT_NEAR(row.spans[i].start, want[i].start, 1e-9);
    EXPECT_NEAR(row.spans[i].end, want[i].end, 1e-9);
  }
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The bar of NODE's line in a text rendering: what is between the '|'s.
std::string bar_of(const std::string& text, const std::string& node) {
  for (const auto& l : lines(text))
    if (l.rfind(node + " ", 0) == 0) {
      auto a = l.find('|'), b = l.rfind('|');
      if (a != std::string::npos && b > a) return l.substr(a + 1, b - a - 1);
    }
  ADD_FAILURE() << "no bar for " << node << " in:\n" << text;
  return "";
}

// Every element opened is closed, in order: enough to catch a broken
// document or text that was not escaped.
void expect_balanced_xml(const std::string& svg) {
  std::vector<std::string> open;
  for (std::size_t p = svg.find('<'); p != std::string::npos; p = svg.find('<', p + 1)) {
    const auto close = svg.find('>', p);
    ASSERT_NE(close, std::string::npos);
    const std::string tag = svg.substr(p + 1, close - p - 1);
    if (tag[0] == '?' || tag.back() == '/') continue;
    if (tag[0] == '/') {
      ASSERT_FALSE(open.empty()) << "</" << tag << "> closes nothing";
      EXPECT_EQ(open.back(), tag.substr(1));
      open.pop_back();
    } else {
      open.push_back(tag.substr(0, tag.find(' ')));
    }
  }
  EXPECT_TRUE(open.empty()) << open.size() << " elements left open";
}

TEST(TimelineSpans, FailoverFromRealisticEvents) {
  const Timeline t = build_timeline(fixture());
  EXPECT_EQ(t.scenario, "primary-dies");
  EXPECT_EQ(t.service, "board");
  EXPECT_DOUBLE_EQ(t.start, 0);
  // Last relevant event: h1's "committed 3.2" at +13.1 s; a margin of 1 s.
  EXPECT_NEAR(t.end, 14.1, 1e-9);
  ASSERT_EQ(t.nodes.size(), 3u);
  EXPECT_EQ(t.nodes[0].name, "h1");
  EXPECT_EQ(t.nodes[1].name, "h2");
  EXPECT_EQ(t.nodes[2].name, "h3");

  // Serving since before t0, down from the kill until its next "started",
  // electing briefly (candidate), then a backup.
  expect_spans(t.nodes[0], {{NodeState::serving, 0, 2.786},
                            {NodeState::down, 2.786, 11.020},
                            {NodeState::candidate, 11.020, 11.410},
                            {NodeState::backup, 11.410, 14.1}});
  // Electing after suspecting h1 (candidate), primary with the service still a
  // backup for 10 ms, restoring, serving. The cluster election's "backup ->
  // electing" and service web's "backup -> serving" change nothing.
  expect_spans(t.nodes[1], {{NodeState::backup, 0, 3.987},
                            {NodeState::candidate, 3.987, 4.420},
                            {NodeState::backup, 4.420, 4.430},
                            {NodeState::restoring, 4.430, 5.186},
                            {NodeState::serving, 5.186, 14.1}});
  // Down before its first event; candidate until the election tells it the primary.
  expect_spans(t.nodes[2], {{NodeState::down, 0, 1.0},
                            {NodeState::candidate, 1.0, 1.3},
                            {NodeState::backup, 1.3, 4.011},
                            {NodeState::candidate, 4.011, 4.450},
                            {NodeState::backup, 4.450, 14.1}});
  EXPECT_EQ(t.nodes[1].spans[3].detail, "restoring 2.3");
  EXPECT_EQ(t.nodes[0].spans[1].detail, "killed by 'kill h1'");
}

TEST(TimelineSpans, FaultsParsedWithKindAndNodes) {
  const Timeline t = build_timeline(fixture());
  ASSERT_EQ(t.faults.size(), 2u);
  EXPECT_NEAR(t.faults[0].time, 2.786, 1e-9);
  EXPECT_EQ(t.faults[0].kind, "kill");
  EXPECT_EQ(t.faults[0].nodes, std::vector<std::string>{"h1"});
  EXPECT_EQ(t.faults[0].at, "2026-11-29T19:33:07.786Z");
  EXPECT_NEAR(t.faults[1].time, 10.0, 1e-9);
  EXPECT_EQ(t.faults[1].kind, "restart");
}

TEST(TimelineRecovery, FromKillToFirstNodeServing) {
  const Timeline t = build_timeline(fixture());
  ASSERT_EQ(t.recoveries.size(), 1u) << "only kill and partition faults have a recovery";
  const Recovery& r = t.recoveries[0];
  EXPECT_EQ(r.fault, 0u);
  EXPECT_EQ(r.outcome, Recovery::Outcome::recovered);
  ASSERT_TRUE(r.seconds);
  EXPECT_NEAR(*r.seconds, 2.4, 1e-9);
  EXPECT_NEAR(*r.at, 5.186, 1e-9);
  EXPECT_EQ(r.node, "h2");
  EXPECT_EQ(r.label(), "recovered 2.4 s");
}

// A small scenario: {"t0": 0 s, nodes: NAME -> [(seconds, service, kind, detail)]}.
struct Ev {
  double at;
  std::string service, kind, detail;
};

std::string iso(double secs) {
  const int ms = static_cast<int>(secs * 1000 + 0.5);
  char buf[64];
  std::snprintf(buf, sizeof buf, "2026-11-29T20:%02d:%02d.%03dZ", ms / 60000, (ms / 1000) % 60, ms % 1000);
  return buf;
}

json scenario(const std::vector<std::pair<std::string, std::vector<Ev>>>& nodes,
              const std::vector<std::pair<double, std::string>>& faults) {
  json j{
      {"scenario", "test"}, {"service", "board"}, {"t0", iso(0)}, {"nodes", json::object()}, {"faults", json::array()}};
  for (const auto& [name, evs] : nodes) {
    json list = json::array();
    int seq = 1;
    for (const auto& e : evs) {
      json ev{{"seq", seq++}, {"time", iso(e.at)}, {"service", e.service}, {"kind", e.kind}, {"detail", e.detail}};
      // vmrepd's changes carry from/to/reason beside the "FROM -> TO: reason" detail.
      if (const auto arrow = e.detail.find(" -> "); arrow != std::string::npos) {
        const std::string rest = e.detail.substr(arrow + 4);
        const auto colon = rest.find(": ");
        ev["from"] = e.detail.substr(0, arrow);
        ev["to"] = rest.substr(0, colon);
        if (colon != std::string::npos) ev["reason"] = rest.substr(colon + 2);
      }
      list.push_back(ev);
    }
    j["nodes"][name] = list;
  }
  for (const auto& [at, label] : faults) j["faults"].push_back({{"time", iso(at)}, {"label", label}});
  return j;
}

std::vector<Ev> serving_from(double at) {
  return {{at, "", "started", "vmrepd"},
          {at + 0.1, "board", "role_changed", "electing -> primary"},
          {at + 0.2, "board", "state_changed", "backup -> serving: booted"}};
}

std::vector<Ev> backup_from(double at) {
  return {{at, "", "started", "vmrepd"}, {at + 0.1, "board", "role_changed", "electing -> backup"}};
}

TEST(TimelineSpans, ContiguousAndNeverEmpty) {
  // A state left and re-entered at the same instant is no span and no entry into serving.
  auto h1 = serving_from(1);
  h1.push_back({3, "board", "state_changed", "serving -> restoring: reloading"});
  h1.push_back({3, "board", "state_changed", "restoring -> serving: reloaded"});
  std::vector<Timeline> all{build_timeline(fixture()), build_timeline(fixture(), {"", "3"}),
                            build_timeline(scenario({{"h1", h1}, {"h2", backup_from(1)}}, {{2, "partition h1|h2"}}))};
  for (const Timeline& t : all)
    for (const auto& row : t.nodes) {
      ASSERT_FALSE(row.spans.empty()) << row.name;
      EXPECT_DOUBLE_EQ(row.spans.front().start, t.start) << row.name;
      EXPECT_DOUBLE_EQ(row.spans.back().end, t.end) << row.name;
      for (std::size_t i = 0; i < row.spans.size(); ++i) {
        EXPECT_LT(row.spans[i].start, row.spans[i].end) << row.name << " span " << i;
        if (i > 0) {
          EXPECT_DOUBLE_EQ(row.spans[i].start, row.spans[i - 1].end) << row.name << " span " << i;
          EXPECT_NE(row.spans[i].state, row.spans[i - 1].state) << row.name << " span " << i;
        }
      }
    }
  const Timeline& t = all.back();
  EXPECT_EQ(t.nodes[0].spans.back().state, NodeState::serving);
  EXPECT_NEAR(t.nodes[0].spans.back().start, 1.2, 1e-9);
  // h1 served through the partition: nothing entered serving after it.
  EXPECT_EQ(t.recoveries[0].outcome, Recovery::Outcome::no_outage);
}

TEST(TimelineRecovery, SimultaneousKillsAreOneOutage) {
  std::vector<Ev> h3 = backup_from(1);
  h3.push_back({8, "board", "state_changed", "backup -> serving: restored"});
  const Timeline t = build_timeline(
      scenario({{"h1", serving_from(1)}, {"h2", backup_from(1)}, {"h3", h3}}, {{5, "kill h1"}, {5, "kill h2"}}));
  ASSERT_EQ(t.recoveries.size(), 1u);
  EXPECT_EQ(t.recoveries[0].fault, 0u);
  EXPECT_NEAR(*t.recoveries[0].seconds, 3.0, 1e-9);
  const std::string svg = render_timeline_svg(t);
  EXPECT_NE(svg.find(">recovered 3.0 s<"), std::string::npos);
  EXPECT_EQ(svg.find(">recovered 3.0 s<"), svg.rfind(">recovered 3.0 s<")) << "drawn once";
}

TEST(TimelineRecovery, NobodyServesAfterwardsIsNotRecovered) {
  const Timeline t = build_timeline(scenario({{"h1", serving_from(1)}, {"h2", backup_from(1)}}, {{5, "kill h1"}}));
  ASSERT_EQ(t.recoveries.size(), 1u);
  EXPECT_EQ(t.recoveries[0].outcome, Recovery::Outcome::not_recovered);
  EXPECT_FALSE(t.recoveries[0].seconds);
  EXPECT_NE(render_timeline_svg(t).find(">not recovered<"), std::string::npos);
  EXPECT_NE(render_timeline_text(t).find("kill h1  not recovered"), std::string::npos) << render_timeline_text(t);
}

TEST(TimelineRecovery, KillingABackupWhileThePrimaryServesIsNoOutage) {
  const Timeline t = build_timeline(scenario({{"h1", serving_from(1)}, {"h2", backup_from(1)}}, {{5, "kill h2"}}));
  ASSERT_EQ(t.recoveries.size(), 1u);
  EXPECT_EQ(t.recoveries[0].outcome, Recovery::Outcome::no_outage);
  EXPECT_EQ(t.recoveries[0].label(), "no outage (h1 kept serving)");
}

TEST(TimelineRecovery, PartitionRecoversWhenTheMajorityElectsANewPrimary) {
  auto h2 = backup_from(1);
  h2.push_back({7.5, "board", "role_changed", "backup -> electing"});
  h2.push_back({8.0, "board", "role_changed", "electing -> primary"});
  h2.push_back({8.1, "board", "state_changed", "backup -> restoring: restoring 1.2"});
  h2.push_back({9.5, "board", "state_changed", "restoring -> serving: restored 1.2 (term 2)"});
  auto h1 = serving_from(1);
  h1.push_back({8.5, "board", "state_changed", "serving -> stopping: lost quorum"});
  const Timeline t = build_timeline(
      scenario({{"h1", h1}, {"h2", h2}, {"h3", backup_from(1)}}, {{6, "partition h1|h2,h3"}, {12, "heal"}}));
  ASSERT_EQ(t.recoveries.size(), 1u);
  EXPECT_EQ(t.faults[0].nodes, (std::vector<std::string>{"h1", "h2", "h3"}));
  EXPECT_EQ(t.recoveries[0].outcome, Recovery::Outcome::recovered);
  EXPECT_NEAR(*t.recoveries[0].seconds, 3.5, 1e-9);
  EXPECT_EQ(t.recoveries[0].node, "h2");
  // A partition kills nobody: h1 keeps its state until it stops.
  EXPECT_EQ(t.nodes[0].spans.back().state, NodeState::stopped);
  EXPECT_NEAR(t.nodes[0].spans.back().start, 8.5, 1e-9);
}

TEST(TimelineSpans, KillNamingSeveralNodesAndDaemonStopping) {
  auto h3 = backup_from(1);
  h3.push_back({6, "", "stopping", "SIGTERM"});
  const Timeline t =
      build_timeline(scenario({{"h1", serving_from(1)}, {"h2", backup_from(1)}, {"h3", h3}}, {{4, "kill h1, h2"}}));
  EXPECT_EQ(t.faults[0].nodes, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(t.nodes[0].spans.back().state, NodeState::down);
  EXPECT_NEAR(t.nodes[0].spans.back().start, 4, 1e-9);
  EXPECT_EQ(t.nodes[1].spans.back().state, NodeState::down);
  EXPECT_EQ(t.nodes[2].spans.back().state, NodeState::stopped);
  EXPECT_NEAR(t.nodes[2].spans.back().start, 6, 1e-9);
}

TEST(TimelineSpans, EventsOfAKilledNodeCountOnlyFromItsNextStart) {
  auto h1 = serving_from(1);
  h1.push_back({4.5, "board", "committed", "1.3"});  // clock skew: logged after the kill
  h1.push_back({4.6, "board", "state_changed", "serving -> failed: guest crashed"});
  const Timeline t = build_timeline(scenario({{"h1", h1}}, {{4, "kill h1"}}), {"", "10"});
  const Span& last = t.nodes[0].spans.back();
  EXPECT_EQ(last.state, NodeState::down);
  EXPECT_NEAR(last.start, 4, 1e-9);
  EXPECT_NEAR(last.end, 10, 1e-9);
  for (const auto& s : t.nodes[0].spans) EXPECT_NE(s.state, NodeState::failed);
}

TEST(TimelineSpans, LogThatStartsMidRunTakesTheFirstChangesFromState) {
  // No "started": before the first change it was what that change left.
  const Timeline t = build_timeline(scenario(
      {{"h1",
        {{2, "board", "role_changed", "primary -> electing"}, {3, "board", "state_changed", "serving -> failed: x"}}}},
      {}));
  ASSERT_EQ(t.nodes[0].spans.size(), 3u);
  EXPECT_EQ(t.nodes[0].spans[0].state, NodeState::down);
  EXPECT_EQ(t.nodes[0].spans[1].state, NodeState::serving);
  EXPECT_EQ(t.nodes[0].spans[2].state, NodeState::failed);
}

TEST(TimelineSpans, NodesSortByNameWithNumbersInOrder) {
  const Timeline t =
      build_timeline(scenario({{"h10", backup_from(1)}, {"h2", backup_from(1)}, {"h1", serving_from(1)}}, {}));
  ASSERT_EQ(t.nodes.size(), 3u);
  EXPECT_EQ(t.nodes[0].name, "h1");
  EXPECT_EQ(t.nodes[1].name, "h2");
  EXPECT_EQ(t.nodes[2].name, "h10");
}

TEST(TimelineSpans, UntilAsSecondsOrTime) {
  EXPECT_NEAR(build_timeline(fixture(), {"", "20"}).end, 20, 1e-9);
  EXPECT_NEAR(build_timeline(fixture(), {"", "2026-11-29T19:33:15.500Z"}).end, 10.5, 1e-9);
  // The chart ends there: spans are clipped, recoveries after it do not count.
  const Timeline t = build_timeline(fixture(), {"", "4"});
  EXPECT_NEAR(t.nodes[1].spans.back().end, 4, 1e-9);
  EXPECT_EQ(t.recoveries[0].outcome, Recovery::Outcome::not_recovered);
}

TEST(TimelineSpans, ServiceFromOptionOrTheOnlyOneNamed) {
  json doc = fixture();
  EXPECT_EQ(build_timeline(doc, {"web", ""}).nodes[1].spans.back().state, NodeState::serving);
  EXPECT_NEAR(build_timeline(doc, {"web", ""}).nodes[1].spans.back().start, 4.4, 1e-9);
  json one = scenario({{"h1", serving_from(1)}}, {});
  one.erase("service");
  EXPECT_EQ(build_timeline(one).service, "board");
}

TEST(TimelineSvg, OneRowPerNodeFaultLinesAndRecoveryLabel) {
  const Timeline t = build_timeline(fixture());
  const std::string svg = render_timeline_svg(t);
  EXPECT_EQ(
      svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"",
                0),
      0u);
  expect_balanced_xml(svg);
  EXPECT_EQ(count(svg, "<g class=\"node\""), 3u);
  const auto h1 = svg.find(">h1</text>"), h2 = svg.find(">h2</text>"), h3 = svg.find(">h3</text>");
  ASSERT_NE(h1, std::string::npos);
  ASSERT_NE(h2, std::string::npos);
  ASSERT_NE(h3, std::string::npos);
  EXPECT_LT(h1, h2);
  EXPECT_LT(h2, h3);
  // Both faults: a dashed line and a label each (the legend has one more dashed line).
  EXPECT_EQ(count(svg, "<g class=\"fault\">"), 2u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 3u);
  EXPECT_NE(svg.find(">kill h1<title>"), std::string::npos);
  EXPECT_NE(svg.find(">restart h1<title>"), std::string::npos);
  EXPECT_NE(svg.find(">recovered 2.4 s<title>"), std::string::npos);
  // State names written in the wide bars, and a legend of every state.
  EXPECT_GE(count(svg, ">serving</text>"), 3u);  // h1, h2, legend
  for (NodeState s : kAllStates) EXPECT_NE(svg.find(std::string(">") + state_name(s) + "</text>"), std::string::npos);
  // Self-contained.
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("@font-face"), std::string::npos);
  EXPECT_EQ(svg.find("href"), std::string::npos);
  EXPECT_EQ(count(svg, "http"), 1u);  // the namespace
}

TEST(TimelineSvg, FaultLineAtTheFaultsTime) {
  const Timeline t = build_timeline(fixture(), {"", "20"});
  const std::string svg = render_timeline_svg(t);
  // The plot spans x = 96 .. 936 for 0 .. 20 s: the kill at 2.786 s is at 213.0.
  EXPECT_NE(svg.find("<line x1=\"213.0\""), std::string::npos) << svg;
}

TEST(TimelineSvg, SameInputSameBytes) {
  EXPECT_EQ(render_timeline_svg(build_timeline(fixture())), render_timeline_svg(build_timeline(fixture())));
}

TEST(TimelineSvg, TextIsEscaped) {
  json doc = scenario({{"h1", serving_from(1)}, {"h2", backup_from(1)}}, {{5, "kill h1 <after \"x\" & 'y'>"}});
  doc["scenario"] = "a<b>&c";
  doc["nodes"]["h1"][2]["reason"] = "</title><script>alert(1)</script>";
  const std::string svg = render_timeline_svg(build_timeline(doc));
  expect_balanced_xml(svg);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<after"), std::string::npos);
  EXPECT_NE(svg.find("kill h1 &lt;after &quot;x&quot; &amp; &apos;y&apos;&gt;"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b&gt;&amp;c"), std::string::npos);
  EXPECT_NE(svg.find("&lt;/title&gt;&lt;script&gt;"), std::string::npos);
}

TEST(TimelineSvg, XmlEscape) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
  EXPECT_EQ(xml_escape(std::string("bell\x07.")), "bell\xEF\xBF\xBD.");  // XML 1.0 allows no C0 controls
  EXPECT_EQ(xml_escape("tab\tok, h\xC3\xA9llo"), "tab\tok, h\xC3\xA9llo");
}

TEST(TimelineText, LettersAtTheRightColumns) {
  // 40 columns over 0..20 s: column i shows the state at 0.5 i + 0.25 s.
  const std::string text = render_timeline_text(build_timeline(fixture(), {"", "20"}), 40);
  EXPECT_EQ(bar_of(text, "h1"), "SSSSSS................CBBBBBBBBBBBBBBBBB") << text;
  EXPECT_EQ(bar_of(text, "h2"), "BBBBBBBBCRSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS") << text;
  EXPECT_EQ(bar_of(text, "h3"), "..CBBBBBCBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB") << text;
  // Fault marks under the bars: kill h1 (2.786 s) in column 5, restart h1 (10 s) in column 20.
  const auto all = lines(text);
  auto marks = std::find_if(all.begin(), all.end(), [](const std::string& l) { return l.rfind("faults ", 0) == 0; });
  ASSERT_NE(marks, all.end()) << text;
  const auto bar_start = all[2].find('|') + 1;  // the h1 line
  EXPECT_EQ(marks->substr(bar_start), std::string(5, ' ') + "1" + std::string(14, ' ') + "2");
  // Axis labels at their columns: 5 s is column 10.
  EXPECT_EQ(all[1].substr(bar_start, 13), "0s        5s ");
}

TEST(TimelineText, LegendFaultsAndRecoveryListed) {
  const std::string text = render_timeline_text(build_timeline(fixture()));
  EXPECT_EQ(bar_of(text, "h1").size(), 100u);
  EXPECT_NE(text.find("B backup  C candidate  R restoring  S serving  X stopped  F failed  . down"), std::string::npos);
  EXPECT_NE(text.find("  1  at 2.786 s   kill h1     recovered 2.4 s (h2 serving at 5.186 s)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  2  at 10.000 s  restart h1"), std::string::npos) << text;
}

TEST(TimelineJson, SpansFaultsAndRecoveries) {
  const json j = timeline_json(build_timeline(fixture()));
  EXPECT_EQ(j["service"], "board");
  EXPECT_EQ(j["nodes"][0]["name"], "h1");
  EXPECT_EQ(j["nodes"][0]["spans"][0]["state"], "serving");
  EXPECT_EQ(j["nodes"][0]["spans"][1]["state"], "down");
  EXPECT_NEAR(j["nodes"][0]["spans"][1]["start"].get<double>(), 2.786, 1e-9);
  EXPECT_EQ(j["faults"][0]["label"], "kill h1");
  EXPECT_EQ(j["recoveries"][0]["outcome"], "recovered");
  EXPECT_EQ(j["recoveries"][0]["node"], "h2");
  EXPECT_NEAR(j["recoveries"][0]["seconds"].get<double>(), 2.4, 1e-9);
}

TEST(TimelineTime, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01.5Z"), 1500000);
  EXPECT_EQ(parse_rfc3339("2026-11-29T19:33:05.000Z"), parse_rfc3339("2026-11-29T20:33:05+01:00"));
  EXPECT_EQ(parse_rfc3339("2026-11-29t19:33:05.1234567z"), *parse_rfc3339("2026-11-29T19:33:05Z") + 123456);
  EXPECT_EQ(*parse_rfc3339("2024-03-01T00:00:00Z") - *parse_rfc3339("2024-02-28T00:00:00Z"), 2LL * 86400 * 1000000);
  for (const char* bad :
       {"", "yesterday", "2026-11-29", "2026-11-29T19:33:05", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z",
        "2026-11-29T19:33:05.Z", "2026-11-29T19:33:05Zjunk", "2026-11-29T19:33:05+0100", "1764444785"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

std::string error_of(const json& doc, const TimelineOptions& o = {}) {
  try {
    build_timeline(doc, o);
  } catch (const TimelineError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TimelineErrors, NameTheField) {
  json doc = fixture();
  doc["nodes"]["h2"][3]["time"] = "19:33:09";
  EXPECT_EQ(error_of(doc), "nodes.h2[3].time: not an RFC 3339 time");

  doc = fixture();
  doc["nodes"]["h1"][0].erase("kind");
  EXPECT_EQ(error_of(doc), "nodes.h1[0].kind: missing");
  doc = fixture();
  doc["nodes"]["h1"][0]["kind"] = 7;
  EXPECT_EQ(error_of(doc), "nodes.h1[0].kind: not a string but number");
  doc = fixture();
  doc["nodes"]["h3"][1].erase("from");
  EXPECT_EQ(error_of(doc).rfind("nodes.h3[1]: a state_changed event without its \"from\" and \"to\" fields", 0), 0u)
      << error_of(doc);
  doc = fixture();
  doc["nodes"]["h3"][2]["to"] = "leader";
  EXPECT_EQ(error_of(doc), "nodes.h3[2].to: 'leader' is not one of primary, backup, electing") << error_of(doc);
  doc = fixture();
  doc["nodes"]["h2"] = json::object();
  EXPECT_EQ(error_of(doc), "nodes.h2: not an array of events but object");
  doc = fixture();
  doc["nodes"]["h2"][0] = "started";
  EXPECT_EQ(error_of(doc), "nodes.h2[0]: not an event object but string");
  doc = fixture();
  doc.erase("nodes");
  EXPECT_EQ(error_of(doc), "nodes: missing");
  doc = fixture();
  doc["faults"][1].erase("label");
  EXPECT_EQ(error_of(doc), "faults[1].label: missing");
  doc = fixture();
  doc["faults"][0]["time"] = 12.5;
  EXPECT_EQ(error_of(doc), "faults[0].time: not a string but number");
  doc = fixture();
  doc["t0"] = "soon";
  EXPECT_EQ(error_of(doc), "t0: not an RFC 3339 time");
  EXPECT_EQ(error_of(json::array()), "top level: not a JSON object but array");
  EXPECT_EQ(error_of(fixture(), {"", "later"}), "--until: 'later' is neither seconds after t0 nor an RFC 3339 time");
  EXPECT_EQ(error_of(fixture(), {"", "-3"}).rfind("--until: '-3' is not after t0", 0), 0u);
  doc = fixture();
  doc.erase("service");
  EXPECT_EQ(error_of(doc), "service: missing, and the events name several services (board, web); pass --service");
}

std::string load_error(const std::string& file) {
  try {
    load_timeline(file);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TimelineErrors, FileErrorsAreOneLineNamingTheFile) {
  const std::string dir = testing::TempDir();
  EXPECT_EQ(load_error(dir + "/no-such-timeline.json"),
            dir + "/no-such-timeline.json: cannot read: No such file or directory");

  const std::string broken = dir + "/timeline-broken.json";
  std::ofstream(broken) << "{\"nodes\": {\"h1\": [}";
  const std::string e = load_error(broken);
  EXPECT_EQ(e.rfind(broken + ": not JSON: parse error at line 1, column ", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);

  json doc = fixture();
  doc["nodes"]["h2"][3]["time"] = "2026-11-29 at noon";
  const std::string bad = dir + "/timeline.json";
  std::ofstream(bad) << doc.dump();
  EXPECT_EQ(load_error(bad), bad + ": nodes.h2[3].time: not an RFC 3339 time");
  std::remove(broken.c_str());
  std::remove(bad.c_str());
}

}  // namespace
}  // namespace vmrep::figures

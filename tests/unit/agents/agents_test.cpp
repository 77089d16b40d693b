#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "agents/election_agent.hpp"
#include "agents/event_log.hpp"
#include "agents/heartbeat_agent.hpp"

namespace vmrep::agents {
namespace {

class FixedClock : public Clock {
 public:
  std::chrono::system_clock::time_point now{std::chrono::seconds(1'800'000'000)};
  std::chrono::system_clock::time_point wall() const override { return now; }
};

TEST(EventLog, KeepsTheNewestUpToCapacity) {
  FixedClock clock;
  EventLog log(clock, 3);
  for (int i = 1; i <= 5; ++i) log.record("svc", "kind", "event " + std::to_string(i));
  ASSERT_EQ(log.records().size(), 3u);
  EXPECT_EQ(log.records().front().detail, "event 3");
  EXPECT_EQ(log.records().back().seq, 5u);
}

TEST(EventLog, JsonHonoursSinceAndLimit) {
  FixedClock clock;
  EventLog log(clock);
  for (int i = 1; i <= 5; ++i) log.record("", "k", std::to_string(i));
  auto j = log.to_json(2, 2);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["seq"], 4);
  EXPECT_EQ(j[1]["detail"], "5");
  EXPECT_EQ(j[0]["time"], "2027-01-15T08:00:00.000Z");
}

TEST(EventLog, StructuredFieldsAppearOnlyWhenSet) {
  FixedClock clock;
  EventLog log(clock);
  log.record("board", "state_changed", "backup -> restoring: decided primary",
             {.from = "backup", .to = "restoring", .reason = "decided primary"});
  log.record("board", "committed", "2.3", {.version = "2.3"});
  log.record("board", "version_refused", "bad", {.peer = "h2", .reason = std::string("cut \xe2\x82", 6)});
  const auto j = log.to_json(0, 10);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["from"], "backup");
  EXPECT_EQ(j[0]["to"], "restoring");
  EXPECT_EQ(j[0]["reason"], "decided primary");
  EXPECT_FALSE(j[0].contains("version"));
  EXPECT_EQ(j[1]["version"], "2.3");
  EXPECT_FALSE(j[1].contains("from"));
  EXPECT_EQ(j[2]["peer"], "h2");
  EXPECT_NO_THROW((void)j.dump());  // a field cut mid-character is repaired like the detail
}

TEST(EventLog, APeersTextCutMidCharacterStillRendersAsJson) {
  // A peer's error cut by bytes inside a character made /v1/events answer 500
  // until the entry aged out.
  FixedClock clock;
  EventLog log(clock);
  log.record("svc", "pull_refused", "h2 cannot send 3.4: caf\xC3");
  const auto j = log.to_json(0, 10);
  EXPECT_NO_THROW((void)j.dump());
  EXPECT_EQ(j[0]["detail"], "h2 cannot send 3.4: caf\xEF\xBF\xBD");
}

TEST(EventLog, FormatsTimeAsRfc3339Utc) {
  auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'000'000'123));
  EXPECT_EQ(format_time(t), "2026-11-18T11:06:40.123Z");
}

// In-memory wire between agents: delivered when the test says so.
class Loop : public PeerSender {
 public:
  struct Msg {
    std::uint32_t from, to, instance;
    consensus::Message m;
  };
  std::uint32_t current_sender = 0;
  std::deque<Msg> queue;
  std::set<std::uint32_t> down;
  void send(std::uint32_t to, std::uint32_t instance, const consensus::Message& m) override {
    queue.push_back({current_sender, to, instance, m});
  }
};

struct Cluster {
  FixedClock clock;
  EventLog events{clock};
  Loop loop;
  std::vector<std::unique_ptr<ElectionAgent>> agents;

  explicit Cluster(std::uint32_t n) {
    std::vector<std::string> names;
    for (std::uint32_t i = 1; i <= n; ++i) names.push_back("h" + std::to_string(i));
    for (std::uint32_t i = 1; i <= n; ++i) {
      consensus::NodeConfig c;
      c.self = i;
      c.n = n;
      agents.push_back(std::make_unique<ElectionAgent>(ElectionAgentConfig{7, "board", names, c}, loop, events));
    }
  }
  void run(int ticks) {
    for (int t = 0; t < ticks; ++t) {
      for (auto& a : agents) {
        if (loop.down.count(a->node().self())) continue;
        loop.current_sender = a->node().self();
        a->tick();
      }
      while (!loop.queue.empty()) {
        auto m = loop.queue.front();
        loop.queue.pop_front();
        EXPECT_EQ(m.instance, 7u);
        if (loop.down.count(m.from) || loop.down.count(m.to)) continue;
        loop.current_sender = m.to;
        agents[m.to - 1]->on_message(m.from, m.m);
      }
    }
  }
};

TEST(ElectionAgent, ElectsAndReportsRoles) {
  Cluster c(3);
  c.run(40);
  EXPECT_EQ(c.agents[0]->role(), Role::primary);
  EXPECT_EQ(c.agents[1]->role(), Role::backup);
  EXPECT_EQ(c.agents[2]->name_of(c.agents[2]->node().primary()), "h1");
  bool logged = false;
  for (const auto& r : c.events.records())
    logged = logged || (r.service == "board" && r.kind == "primary_changed" && r.detail == "none -> h1");
  EXPECT_TRUE(logged);
}

TEST(ElectionAgent, FailsOverWhenPrimaryGoesSilent) {
  Cluster c(3);
  c.run(40);
  c.loop.down.insert(1);
  c.run(80);
  EXPECT_EQ(c.agents[1]->role(), Role::primary);
  EXPECT_EQ(c.agents[2]->role(), Role::backup);
  EXPECT_GE(c.agents[2]->primary_changes(), 2u);
}

TEST(ElectionAgent, GoodbyeMakesPeersSuspectAtOnce) {
  Cluster c(3);
  c.run(40);
  c.agents[1]->peer_left(1);
  EXPECT_TRUE(c.agents[1]->node().detector().suspects(1));
  EXPECT_EQ(c.agents[1]->role(), Role::electing);
}

TEST(HeartbeatAgent, TicksOnTheSteadyClock) {
  boost::asio::io_context io;
  int ticks = 0;
  HeartbeatAgent hb(io, std::chrono::milliseconds(5), [&] {
    if (++ticks == 10) io.stop();
  });
  hb.start();
  io.run_for(std::chrono::seconds(5));
  hb.stop();
  EXPECT_EQ(ticks, 10);
  EXPECT_EQ(hb.ticks(), 10u);
}

TEST(HeartbeatAgent, SkipsInsteadOfBurstingAfterAStall) {
  boost::asio::io_context io;
  int ticks = 0;
  HeartbeatAgent hb(io, std::chrono::milliseconds(5), [&] { ++ticks; }, 2);
  hb.start();
  // A stall of 100 ms = 20 periods: at most 2 are run, the rest skipped.
  boost::asio::post(io, [] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); });
  io.run_for(std::chrono::milliseconds(120));
  hb.stop();
  EXPECT_GT(hb.skipped_ticks(), 10u);
  EXPECT_LT(static_cast<std::uint64_t>(ticks), 20u);
}

}  // namespace
}  // namespace vmrep::agents

#include "consensus/sim/fault_plan.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>

namespace vmrep::consensus::sim {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

std::uint64_t number(const std::string& s, const std::string& event, const char* what) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    throw std::invalid_argument("fault '" + event + "': " + what + " '" + s + "' is not a number");
  return v;
}

std::vector<NodeId> ids(const std::string& s, std::uint32_t n, const std::string& event) {
  std::vector<NodeId> out;
  if (s == "all") {
    for (NodeId id = 1; id <= n; ++id) out.push_back(id);
    return out;
  }
  std::set<NodeId> seen;
  for (const auto& part : split(s, ',')) {
    auto id = number(part, event, "node id");
    if (id < 1 || id > n)
      throw std::invalid_argument("fault '" + event + "': node id " + part + " is not in 1.." + std::to_string(n));
    if (!seen.insert(static_cast<NodeId>(id)).second)
      throw std::invalid_argument("fault '" + event + "': node id " + part + " named twice");
    out.push_back(static_cast<NodeId>(id));
  }
  return out;
}

void parse_event(const std::string& event, std::uint32_t n, FaultPlan& plan) {
  auto colon = event.find(':');
  auto at = event.rfind('@');
  if (colon == std::string::npos || at == std::string::npos || at < colon)
    throw std::invalid_argument("fault '" + event + "': expected KIND:IDS@TICK");
  std::string kind = event.substr(0, colon);
  std::string what = event.substr(colon + 1, at - colon - 1);
  std::string when = event.substr(at + 1);
  FaultEvent e;
  if (kind == "partition") {
    auto range = split(when, '-');
    if (range.size() != 2) throw std::invalid_argument("fault '" + event + "': expected @FROM-TO");
    std::uint64_t from = number(range[0], event, "tick");
    std::uint64_t to = number(range[1], event, "tick");
    if (to <= from) throw std::invalid_argument("fault '" + event + "': TO must be after FROM");
    std::set<NodeId> seen;
    for (const auto& g : split(what, '|')) {
      e.groups.push_back(ids(g, n, event));
      for (NodeId id : e.groups.back())
        if (!seen.insert(id).second)
          throw std::invalid_argument("fault '" + event + "': node " + std::to_string(id) + " in two groups");
    }
    e.kind = FaultEvent::Kind::partition;
    e.tick = from;
    plan.events.push_back(e);
    plan.events.push_back(FaultEvent{to, FaultEvent::Kind::heal, {}, {}});
    return;
  }
  if (kind == "crash") e.kind = FaultEvent::Kind::crash;
  else if (kind == "restart") e.kind = FaultEvent::Kind::restart;
  else if (kind == "corrupt") e.kind = FaultEvent::Kind::corrupt;
  else throw std::invalid_argument("fault '" + event + "': unknown kind '" + kind +
                                   "' (crash, restart, corrupt, partition)");
  e.ids = ids(what, n, event);
  e.tick = number(when, event, "tick");
  plan.events.push_back(e);
}

}  // namespace

FaultPlan parse_fault_plan(const std::string& spec, std::uint32_t n) {
  FaultPlan plan;
  for (const auto& raw : split(spec, ';')) {
    std::string event = trim(raw);
    if (!event.empty()) parse_event(event, n, plan);
  }
  std::stable_sort(plan.events.begin(), plan.events.end(),
                   [](const FaultEvent& a, const FaultEvent& b) { return a.tick < b.tick; });
  return plan;
}

std::string to_spec(const FaultPlan& plan) {
  std::string out;
  for (std::size_t i = 0; i < plan.events.size(); ++i) {
    const FaultEvent& e = plan.events[i];
    std::string item;
    switch (e.kind) {
      case FaultEvent::Kind::crash: item = "crash:" + ids_text(e.ids); break;
      case FaultEvent::Kind::restart: item = "restart:" + ids_text(e.ids); break;
      case FaultEvent::Kind::corrupt: item = "corrupt:" + ids_text(e.ids); break;
      case FaultEvent::Kind::heal: continue;  // printed with its partition
      case FaultEvent::Kind::partition: {
        item = "partition:";
        for (std::size_t g = 0; g < e.groups.size(); ++g) item += (g ? "|" : "") + ids_text(e.groups[g]);
        // Its heal is the first heal after it.
        auto heal = std::find_if(plan.events.begin() + static_cast<std::ptrdiff_t>(i) + 1, plan.events.end(),
                                 [](const FaultEvent& h) { return h.kind == FaultEvent::Kind::heal; });
        item += "@" + std::to_string(e.tick) + "-" + std::to_string(heal->tick);
        break;
      }
    }
    if (e.kind != FaultEvent::Kind::partition) item += "@" + std::to_string(e.tick);
    out += (out.empty() ? "" : ";") + item;
  }
  return out;
}

FaultPlan random_fault_plan(Rng& rng, std::uint32_t n, std::uint64_t safety_ticks) {
  FaultPlan plan;
  std::vector<bool> up(n, true);
  std::uint64_t partition_free_from = 0;
  auto events = rng.between(1, 6);
  std::vector<std::uint64_t> ticks;
  for (std::uint64_t i = 0; i < events; ++i) ticks.push_back(rng.between(0, safety_ticks - 2));
  std::sort(ticks.begin(), ticks.end());
  auto some_ids = [&]() {
    std::vector<NodeId> out;
    for (NodeId id = 1; id <= n; ++id)
      if (rng.chance(35)) out.push_back(id);
    if (out.empty()) out.push_back(static_cast<NodeId>(rng.between(1, n)));
    return out;
  };
  for (std::uint64_t t : ticks) {
    FaultEvent e;
    e.tick = t;
    switch (rng.between(0, 3)) {
      case 0: e.kind = FaultEvent::Kind::crash; e.ids = some_ids(); break;
      case 1: e.kind = FaultEvent::Kind::restart; e.ids = some_ids(); break;
      case 2: e.kind = FaultEvent::Kind::corrupt; e.ids = some_ids(); break;
      default: {
        if (t < partition_free_from || n < 2) continue;  // partitions do not overlap
        std::vector<std::vector<NodeId>> groups(rng.between(2, std::min<std::uint32_t>(n, 3)));
        for (NodeId id = 1; id <= n; ++id) groups[rng.between(0, groups.size() - 1)].push_back(id);
        std::erase_if(groups, [](const auto& g) { return g.empty(); });
        if (groups.size() < 2) continue;
        e.kind = FaultEvent::Kind::partition;
        e.groups = groups;
        std::uint64_t heal = rng.between(t + 1, safety_ticks - 1);
        plan.events.push_back(e);
        plan.events.push_back(FaultEvent{heal, FaultEvent::Kind::heal, {}, {}});
        partition_free_from = heal + 1;
        continue;
      }
    }
    for (NodeId id : e.ids) {
      if (e.kind == FaultEvent::Kind::crash) up[id - 1] = false;
      if (e.kind == FaultEvent::Kind::restart) up[id - 1] = true;
    }
    plan.events.push_back(e);
  }
  if (std::none_of(up.begin(), up.end(), [](bool u) { return u; }))
    plan.events.push_back(FaultEvent{safety_ticks - 1, FaultEvent::Kind::restart,
                                     {static_cast<NodeId>(rng.between(1, n))}, {}});
  std::stable_sort(plan.events.begin(), plan.events.end(),
                   [](const FaultEvent& a, const FaultEvent& b) { return a.tick < b.tick; });
  return plan;
}

void apply(Simulator& sim, const FaultEvent& e) {
  switch (e.kind) {
    case FaultEvent::Kind::crash: for (NodeId id : e.ids) sim.crash(id); break;
    case FaultEvent::Kind::restart: for (NodeId id : e.ids) sim.restart(id, false); break;
    case FaultEvent::Kind::corrupt: for (NodeId id : e.ids) sim.corrupt(id); break;
    case FaultEvent::Kind::partition: sim.partition(e.groups); break;
    case FaultEvent::Kind::heal: sim.heal(); break;
  }
}

void run(Simulator& sim, const FaultPlan& plan, std::uint64_t ticks) {
  std::size_t next = 0;
  for (;;) {
    while (next < plan.events.size() && plan.events[next].tick <= sim.now()) apply(sim, plan.events[next++]);
    if (sim.now() >= ticks) break;
    sim.tick();
  }
}

}  // namespace vmrep::consensus::sim

#include "controller/cli/timeline.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

namespace vmrep::cli {

const char* state_name(NodeState s) {
  switch (s) {
    case NodeState::down: return "down";
    case NodeState::backup: return "backup";
    case NodeState::candidate: return "candidate";
    case NodeState::restoring: return "restoring";
    case NodeState::serving: return "serving";
    case NodeState::stopped: return "stopped";
    case NodeState::failed: return "failed";
  }
  return "?";
}

char state_letter(NodeState s) {
  switch (s) {
    case NodeState::down: return '.';
    case NodeState::backup: return 'B';
    case NodeState::candidate: return 'C';
    case NodeState::restoring: return 'R';
    case NodeState::serving: return 'S';
    case NodeState::stopped: return 'X';
    case NodeState::failed: return 'F';
  }
  return '?';
}

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw TimelineError(field + ": " + problem);
}

// "1.5", never "-0.0": the same value always prints the same.
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Node names sort as people number hosts: h2 before h10.
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t i2 = i, j2 = j;
      while (i2 < a.size() && is_digit(a[i2])) ++i2;
      while (j2 < b.size() && is_digit(b[j2])) ++j2;
      std::size_t zi = i, zj = j;
      while (zi + 1 < i2 && a[zi] == '0') ++zi;
      while (zj + 1 < j2 && b[zj] == '0') ++zj;
      if (i2 - zi != j2 - zj) return i2 - zi < j2 - zj;
      const int c = a.compare(zi, i2 - zi, b, zj, j2 - zj);
      if (c != 0) return c < 0;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;
}

// The service's own states as agents/service_agent.cpp names them.
enum class Svc { backup, restoring, serving, stopping, failed };
enum class Role { unknown, primary, backup, electing };

std::optional<Svc> svc_of(const std::string& s) {
  if (s == "backup") return Svc::backup;
  if (s == "restoring") return Svc::restoring;
  if (s == "serving") return Svc::serving;
  if (s == "stopping") return Svc::stopping;
  if (s == "failed") return Svc::failed;
  return std::nullopt;
}

std::optional<Role> role_of(const std::string& s) {
  if (s == "primary") return Role::primary;
  if (s == "backup") return Role::backup;
  if (s == "electing") return Role::electing;
  return std::nullopt;
}

struct Change {
  std::string from, to, text;
};

// "FROM -> TO" or "FROM -> TO: text".
std::optional<Change> split_change(const std::string& detail) {
  const auto arrow = detail.find(" -> ");
  if (arrow == std::string::npos) return std::nullopt;
  Change c;
  c.from = detail.substr(0, arrow);
  std::string rest = detail.substr(arrow + 4);
  const auto colon = rest.find(": ");
  c.to = rest.substr(0, colon);
  if (colon != std::string::npos) c.text = rest.substr(colon + 2);
  return c;
}

struct Event {
  std::int64_t us = 0;
  std::string time;
  std::string service, kind, detail;
  std::string path;  // "nodes.h1[3]", for errors
};

struct Input {
  std::map<std::string, std::vector<Event>> nodes;
  std::vector<Fault> faults;
  std::vector<std::int64_t> fault_us;
};

std::string string_field(const json& obj, const char* key, const std::string& path, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) fail(path + "." + key, "missing");
    return "";
  }
  if (!it->is_string()) fail(path + "." + key, std::string("not a string but ") + it->type_name());
  return it->get<std::string>();
}

std::int64_t time_field(const json& obj, const std::string& path, std::string* text) {
  *text = string_field(obj, "time", path, true);
  auto us = parse_rfc3339(*text);
  if (!us) fail(path + ".time", "not an RFC 3339 time");
  return *us;
}

Input read_input(const json& doc) {
  Input in;
  auto nodes = doc.find("nodes");
  if (nodes == doc.end()) fail("nodes", "missing");
  if (!nodes->is_object()) fail("nodes", std::string("not an object of NODE: [events] but ") + nodes->type_name());
  for (const auto& [name, list] : nodes->items()) {
    const std::string path = "nodes." + name;
    if (name.empty()) fail("nodes", "a node without a name");
    if (!list.is_array()) fail(path, std::string("not an array of events but ") + list.type_name());
    auto& events = in.nodes[name];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string ep = path + "[" + std::to_string(i) + "]";
      const json& e = list[i];
      if (!e.is_object()) fail(ep, std::string("not an event object but ") + e.type_name());
      Event ev;
      ev.path = ep;
      ev.us = time_field(e, ep, &ev.time);
      ev.kind = string_field(e, "kind", ep, true);
      ev.service = string_field(e, "service", ep, false);
      ev.detail = string_field(e, "detail", ep, false);
      events.push_back(std::move(ev));
    }
    // A restarted daemon numbers its events from 1 again, so time orders them;
    // equal times keep the file's order.
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.us < b.us; });
  }
  auto faults = doc.find("faults");
  if (faults != doc.end() && !faults->is_null()) {
    if (!faults->is_array()) fail("faults", std::string("not an array of {time, label} but ") + faults->type_name());
    std::vector<std::pair<std::int64_t, Fault>> all;
    for (std::size_t i = 0; i < faults->size(); ++i) {
      const std::string fp = "faults[" + std::to_string(i) + "]";
      const json& f = (*faults)[i];
      if (!f.is_object()) fail(fp, std::string("not a {time, label} object but ") + f.type_name());
      Fault fault;
      const std::int64_t us = time_field(f, fp, &fault.at);
      fault.label = string_field(f, "label", fp, true);
      const auto b = fault.label.find_first_not_of(" \t");
      const auto e = b == std::string::npos ? std::string::npos : fault.label.find_first_of(" \t", b);
      if (b != std::string::npos) fault.kind = fault.label.substr(b, e == std::string::npos ? e : e - b);
      for (auto& c : fault.kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      // The nodes it names: names are [A-Za-z0-9._-], anything else separates them.
      const std::string rest = e == std::string::npos ? "" : fault.label.substr(e);
      std::string word;
      auto flush = [&] {
        if (!word.empty() && in.nodes.count(word) &&
            std::find(fault.nodes.begin(), fault.nodes.end(), word) == fault.nodes.end())
          fault.nodes.push_back(word);
        word.clear();
      };
      for (char c : rest) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') word += c;
        else flush();
      }
      flush();
      all.emplace_back(us, std::move(fault));
    }
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [us, f] : all) {
      in.fault_us.push_back(us);
      in.faults.push_back(std::move(f));
    }
  }
  return in;
}

// One node's walk through its events and the faults that kill it.
struct Walker {
  bool up = false;              // it has logged something
  bool killed = false;          // a fault killed it and it has not logged "started" since
  bool daemon_stopping = false;
  Svc svc = Svc::backup;
  Role role = Role::unknown;
  std::string why;

  NodeState display() const {
    if (!up || killed) return NodeState::down;
    if (daemon_stopping) return NodeState::stopped;
    switch (svc) {
      case Svc::backup: return role == Role::electing ? NodeState::candidate : NodeState::backup;
      case Svc::restoring: return NodeState::restoring;
      case Svc::serving: return NodeState::serving;
      case Svc::stopping: return NodeState::stopped;
      case Svc::failed: return NodeState::failed;
    }
    return NodeState::down;
  }
};

constexpr const char* kSvcNames = "backup, restoring, serving, stopping, failed";
constexpr const char* kRoleNames = "primary, backup, electing";

bool relevant(const Event& e, const std::string& service) {
  if (e.service.empty()) return e.kind == "started" || e.kind == "stopping";
  return e.service == service;
}

Change state_change(const Event& e) {
  auto c = split_change(e.detail);
  if (!c || !svc_of(c->from) || !svc_of(c->to))
    fail(e.path + ".detail", "'" + e.detail + "' is not 'FROM -> TO' with service states (" + kSvcNames + ")");
  return *c;
}

Change role_change(const Event& e) {
  auto c = split_change(e.detail);
  if (!c || !role_of(c->from) || !role_of(c->to))
    fail(e.path + ".detail", "'" + e.detail + "' is not 'FROM -> TO' with roles (" + kRoleNames + ")");
  return *c;
}

struct Entry {
  double time;
  std::string node;
};

double rel(std::int64_t us, std::int64_t t0) { return static_cast<double>(us - t0) / 1e6; }

// The node's spans before clipping; the first one starts at `from`.
void walk_node(const std::string& name, const std::vector<Event>& events, const Input& in, const std::string& service,
               std::int64_t t0, double from, double end, NodeRow& row) {
  // Every change of the service is checked, also those a kill makes moot.
  for (const auto& e : events) {
    if (e.service != service) continue;
    if (e.kind == "state_changed") state_change(e);
    if (e.kind == "role_changed") role_change(e);
  }
  Walker w;
  // Before its first "started" the log may begin mid-run: the first change's
  // FROM is what it was until then.
  for (const auto& e : events) {
    if (e.kind == "started" && e.service.empty()) break;
    if (e.service != service) continue;
    if (e.kind == "state_changed") {
      w.svc = *svc_of(state_change(e).from);
      break;
    }
  }
  for (const auto& e : events) {
    if (e.kind == "started" && e.service.empty()) break;
    if (e.service != service) continue;
    if (e.kind == "role_changed") {
      w.role = *role_of(role_change(e).from);
      break;
    }
  }

  struct Step {
    std::int64_t us;
    int order;  // events before a fault at the same instant
    const Event* event;
    const Fault* fault;
  };
  std::vector<Step> steps;
  for (const auto& e : events) steps.push_back({e.us, 0, &e, nullptr});
  for (std::size_t i = 0; i < in.faults.size(); ++i) {
    const Fault& f = in.faults[i];
    if (f.kind == "kill" && std::find(f.nodes.begin(), f.nodes.end(), name) != f.nodes.end())
      steps.push_back({in.fault_us[i], 1, nullptr, &f});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.us != b.us ? a.us < b.us : a.order < b.order; });

  std::vector<Span> spans{{from, end, NodeState::down, "no events yet"}};
  auto apply = [&](double t) {
    const NodeState d = w.display();
    if (d == spans.back().state) return;
    if (t >= end) return;
    spans.back().end = t;
    spans.push_back({t, end, d, w.why});
  };
  for (const auto& s : steps) {
    const double t = rel(s.us, t0);
    if (s.fault) {
      w.killed = true;
      w.why = "killed by '" + s.fault->label + "'";
      apply(t);
      continue;
    }
    const Event& e = *s.event;
    const bool started = e.service.empty() && e.kind == "started";
    if (w.killed && !started) continue;
    w.up = true;
    if (!relevant(e, service)) {
      if (spans.back().state == NodeState::down && w.display() != NodeState::down) w.why = "first event: " + e.kind;
      apply(t);
      continue;
    }
    if (started) {
      w.killed = false;
      w.daemon_stopping = false;
      w.svc = Svc::backup;
      w.role = Role::electing;
      w.why = "vmrepd started";
    } else if (e.kind == "stopping") {
      w.daemon_stopping = true;
      w.why = "vmrepd stopping" + (e.detail.empty() ? "" : ": " + e.detail);
    } else if (e.kind == "state_changed") {
      const Change c = state_change(e);
      w.svc = *svc_of(c.to);
      w.why = c.text.empty() ? e.detail : c.text;
    } else if (e.kind == "role_changed") {
      const Change c = role_change(e);
      w.role = *role_of(c.to);
      w.why = "role " + e.detail;
    } else if (spans.back().state == NodeState::down) {
      w.why = "first event: " + e.kind;
    }
    apply(t);
  }
  row.spans = std::move(spans);
}

}  // namespace

std::string Recovery::label() const {
  switch (outcome) {
    case Outcome::recovered: return "recovered " + fixed(seconds.value_or(0), 1) + " s";
    case Outcome::no_outage: return "no outage (" + node + " kept serving)";
    case Outcome::not_recovered: return "not recovered";
  }
  return "";
}

std::optional<std::int64_t> parse_rfc3339(const std::string& s) {
  auto num = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (!is_digit(s[i])) return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!num(0, 4, y) || s.size() < 20 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' || !num(8, 2, d)) return {};
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return {};
  if (!num(11, 2, h) || s[13] != ':' || !num(14, 2, mi) || s[16] != ':' || !num(17, 2, sec)) return {};
  std::size_t i = 19;
  std::int64_t frac_us = 0;
  if (s[i] == '.') {
    const std::size_t first = ++i;
    std::int64_t scale = 100000;
    for (; i < s.size() && is_digit(s[i]); ++i, scale /= 10) frac_us += (s[i] - '0') * scale;
    if (i == first) return {};
  }
  if (i >= s.size()) return {};
  int offset_min = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!num(i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !num(i + 4, 2, om) || oh > 23 || om > 59)
      return {};
    offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    i += 6;
  } else {
    return {};
  }
  if (i != s.size()) return {};
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return {};
  if (h > 23 || mi > 59 || sec > 60) return {};
  const std::int64_t secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                            h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000000 + frac_us;
}

Timeline build_timeline(const json& doc, const TimelineOptions& options) {
  if (!doc.is_object()) fail("top level", std::string("not a JSON object but ") + doc.type_name());
  Timeline t;
  t.scenario = string_field(doc, "scenario", "", false);
  const std::string file_service = string_field(doc, "service", "", false);
  Input in = read_input(doc);
  t.faults = in.faults;

  t.service = !options.service.empty() ? options.service : file_service;
  if (t.service.empty()) {
    std::set<std::string> named;
    for (const auto& [name, events] : in.nodes)
      for (const auto& e : events)
        if (!e.service.empty()) named.insert(e.service);
    if (named.size() != 1) {
      std::string list;
      for (const auto& n : named) list += (list.empty() ? "" : ", ") + n;
      fail("service", named.empty() ? "missing, and no event names a service"
                                    : "missing, and the events name several services (" + list + "); pass --service");
    }
    t.service = *named.begin();
  }

  // t0: the file's, else the earliest time in it.
  std::int64_t t0 = 0;
  const std::string t0_text = string_field(doc, "t0", "", false);
  if (!t0_text.empty()) {
    auto us = parse_rfc3339(t0_text);
    if (!us) fail("t0", "not an RFC 3339 time");
    t0 = *us;
    t.t0 = t0_text;
  } else {
    std::optional<std::int64_t> first;
    for (const auto& [name, events] : in.nodes)
      if (!events.empty() && (!first || events.front().us < *first)) {
        first = events.front().us;
        t.t0 = events.front().time;
      }
    for (std::size_t i = 0; i < in.faults.size(); ++i)
      if (!first || in.fault_us[i] < *first) {
        first = in.fault_us[i];
        t.t0 = in.faults[i].at;
      }
    if (!first) fail("t0", "missing, and there are no events or faults to start from");
    t0 = *first;
  }
  for (std::size_t i = 0; i < t.faults.size(); ++i) t.faults[i].time = rel(in.fault_us[i], t0);

  // The end: --until, else the last thing that happened plus a margin.
  if (!options.until.empty()) {
    const std::string& u = options.until;
    char* stop = nullptr;
    errno = 0;
    const double secs = std::strtod(u.c_str(), &stop);
    if (stop && *stop == '\0' && errno == 0 && std::isfinite(secs)) {
      t.end = secs;
    } else if (auto us = parse_rfc3339(u)) {
      t.end = rel(*us, t0);
    } else {
      fail("--until", "'" + u + "' is neither seconds after t0 nor an RFC 3339 time");
    }
    if (t.end <= 0) fail("--until", "'" + u + "' is not after t0 (" + t.t0 + ")");
  } else {
    double latest = 0;
    for (const auto& [name, events] : in.nodes)
      for (const auto& e : events)
        if (relevant(e, t.service)) latest = std::max(latest, rel(e.us, t0));
    for (const auto& f : t.faults) latest = std::max(latest, f.time);
    const double margin = std::max(1.0, 0.05 * latest);
    t.end = std::ceil((latest + margin) * 10 - 1e-6) / 10;
  }
  t.start = 0;

  std::vector<std::string> names;
  for (const auto& [name, events] : in.nodes) names.push_back(name);
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<Entry> entries;  // into serving, unclipped
  for (const auto& name : names) {
    const auto& events = in.nodes.at(name);
    double from = t.start;
    if (!events.empty()) from = std::min(from, rel(events.front().us, t0));
    for (std::size_t i = 0; i < in.faults.size(); ++i) from = std::min(from, t.faults[i].time);
    NodeRow row;
    row.name = name;
    walk_node(name, events, in, t.service, t0, from, t.end, row);
    // Instants (a state left and re-entered at the same time) are no spans.
    std::vector<Span> merged;
    for (auto& s : row.spans) {
      if (s.end <= s.start) continue;
      if (!merged.empty() && merged.back().state == s.state) merged.back().end = s.end;
      else merged.push_back(std::move(s));
    }
    for (std::size_t k = 0; k < merged.size(); ++k)
      if (merged[k].state == NodeState::serving && k > 0) entries.push_back({merged[k].start, name});
    // Clip to the chart.
    std::vector<Span> clipped;
    for (auto s : merged) {
      s.start = std::max(s.start, t.start);
      s.end = std::min(s.end, t.end);
      if (s.end > s.start) clipped.push_back(std::move(s));
    }
    row.spans = std::move(clipped);
    t.nodes.push_back(std::move(row));
  }
  // Ties go to the node that sorts first.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });

  // Recovery after each kill or partition: the first entry into serving before
  // the next such fault; else, if a node kept serving through it, no outage;
  // else the first entry at all; else not recovered.
  // Faults injected at the same instant (kill h1 and h2 together) are one
  // outage: the first of them carries the recovery.
  auto outage = [](const Fault& f) { return f.kind == "kill" || f.kind == "partition"; };
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    const Fault& f = t.faults[i];
    if (!outage(f)) continue;
    if (std::any_of(t.faults.begin(), t.faults.begin() + static_cast<std::ptrdiff_t>(i),
                    [&](const Fault& e) { return outage(e) && e.time == f.time; }))
      continue;
    double next = t.end;
    for (std::size_t j = i + 1; j < t.faults.size(); ++j)
      if (outage(t.faults[j]) && t.faults[j].time >= f.time) {
        next = std::min(next, t.faults[j].time);
        break;
      }
    Recovery r;
    r.fault = i;
    auto recovered = [&](const Entry& e) {
      r.outcome = Recovery::Outcome::recovered;
      r.at = e.time;
      r.seconds = e.time - f.time;
      r.node = e.node;
    };
    auto first = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.time >= f.time; });
    if (first != entries.end() && first->time < next) {
      recovered(*first);
    } else {
      for (const auto& row : t.nodes) {
        for (const auto& s : row.spans)
          if (s.state == NodeState::serving && s.start <= f.time && f.time < s.end && s.end >= next) {
            r.outcome = Recovery::Outcome::no_outage;
            r.node = row.name;
          }
        if (r.outcome == Recovery::Outcome::no_outage) break;
      }
      if (r.outcome != Recovery::Outcome::no_outage && first != entries.end()) recovered(*first);
    }
    t.recoveries.push_back(std::move(r));
  }
  return t;
}

Timeline load_timeline(const std::string& file, const TimelineOptions& options) {
  std::string text;
  const std::string name = file == "-" ? "stdin" : file;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(file, std::ios::binary);
    if (!f) throw std::runtime_error(file + ": cannot read: " + std::strerror(errno));
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (f.bad()) throw std::runtime_error(file + ": cannot read: " + std::strerror(errno));
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, ..." without the tag.
    if (auto close = what.find("] "); what.rfind("[json.", 0) == 0 && close != std::string::npos)
      what = what.substr(close + 2);
    throw std::runtime_error(name + ": not JSON: " + what);
  }
  try {
    return build_timeline(doc, options);
  } catch (const TimelineError& e) {
    throw std::runtime_error(name + ": " + e.what());
  }
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += "\xEF\xBF\xBD";
        else out += c;
    }
  }
  return out;
}

namespace {

struct Colour {
  const char* fill;
  const char* text;
};

Colour colour(NodeState s) {
  switch (s) {
    case NodeState::down: return {"#eeeeee", "#777777"};
    case NodeState::backup: return {"#a6cee3", "#08306b"};
    case NodeState::candidate: return {"#fdbf6f", "#5a3000"};
    case NodeState::restoring: return {"#ffe45c", "#4d4000"};
    case NodeState::serving: return {"#2e8b3a", "#ffffff"};
    case NodeState::stopped: return {"#8c8c8c", "#ffffff"};
    case NodeState::failed: return {"#d7301f", "#ffffff"};
  }
  return {"#ffffff", "#000000"};
}

// Code points, for text width estimates.
std::size_t glyphs(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

constexpr double kCharWidth = 6.4;  // an 11 px sans-serif glyph, generously
double text_width(const std::string& s) { return static_cast<double>(glyphs(s)) * kCharWidth; }

std::string px(double v) { return fixed(v, 1); }

// Seconds between axis ticks: about `want` ticks at most.
double tick_step(double span, double want) {
  static constexpr double kSteps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200};
  for (double s : kSteps)
    if (span / s <= want) return s;
  return std::ceil(span / want / 3600) * 3600;
}

std::string tick_label(double v, double step) { return fixed(v, step < 1 ? 1 : 0); }

// Greedy rows for labels that must not overlap: the first level whose
// rightmost label ends before `left`.
int place(std::vector<double>& levels, double left, double right) {
  for (std::size_t l = 0; l < levels.size(); ++l)
    if (levels[l] + 8 <= left) {
      levels[l] = right;
      return static_cast<int>(l);
    }
  levels.push_back(right);
  return static_cast<int>(levels.size()) - 1;
}

std::string seconds(double v) { return fixed(v, 3) + " s"; }

}  // namespace

std::string render_timeline_svg(const Timeline& t) {
  const double W = 960, left = 96, right = 24, plot = W - left - right;
  const double span = t.end > t.start ? t.end - t.start : 1;
  auto X = [&](double s) { return left + (std::clamp(s, t.start, t.end) - t.start) / span * plot; };
  auto visible = [&](double s) { return s >= t.start && s <= t.end; };
  const double row_h = 24, row_gap = 6, label_h = 15, rec_h = 17;

  // Fault labels above the rows, on as many levels as they need.
  struct Placed {
    double x;
    bool anchor_end;
    int level;
  };
  std::vector<double> levels;
  std::vector<std::optional<Placed>> fault_pos(t.faults.size());
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    const Fault& f = t.faults[i];
    if (!visible(f.time)) continue;
    const double x = X(f.time), w = text_width(f.label) + 6;
    const bool end = x + 4 + w > W - 4;
    fault_pos[i] = Placed{x, end, place(levels, end ? x - 4 - w : x, end ? x : x + 4 + w)};
  }
  const int fault_levels = static_cast<int>(levels.size());

  // Recovery annotations below the rows.
  struct RecPlaced {
    const Recovery* r;
    double x0, x1;
    bool anchor_end;
    int level;
  };
  std::vector<double> rec_levels;
  std::vector<RecPlaced> recs;
  for (const auto& r : t.recoveries) {
    const Fault& f = t.faults[r.fault];
    if (!visible(f.time)) continue;
    const double x0 = X(f.time);
    const double x1 = r.at ? X(*r.at) : x0;
    const double w = text_width(r.label()) + 6;
    const bool end = x1 + 4 + w > W - 4;
    const double lo = end ? std::min(x0, x1 - 4 - w) : x0, hi = end ? x1 : x1 + 4 + w;
    recs.push_back({&r, x0, x1, end, place(rec_levels, lo, hi)});
  }

  const double title_y = 22, fault_top = 34;
  const double rows_top = fault_top + fault_levels * label_h + (fault_levels ? 6 : 0);
  const double rows_bottom =
      rows_top + static_cast<double>(t.nodes.size()) * (row_h + row_gap) - (t.nodes.empty() ? 0 : row_gap);
  const double rec_top = rows_bottom + 6;
  const double axis_y = rec_top + static_cast<double>(rec_levels.size()) * rec_h + 4;
  const double legend_y = axis_y + 46;
  const double H = legend_y + 22;

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << px(W) << "\" height=\"" << px(H)
    << "\" viewBox=\"0 0 " << px(W) << " " << px(H)
    << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n";
  const std::string title =
      (t.scenario.empty() ? std::string() : t.scenario + ": ") + "service " + t.service + ", node states over time";
  o << "<title>" << xml_escape(title) << "</title>\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << px(W) << "\" height=\"" << px(H) << "\" fill=\"#ffffff\"/>\n";
  o << "<text x=\"" << px(left) << "\" y=\"" << px(title_y) << "\" font-size=\"14\" font-weight=\"bold\">"
    << xml_escape(title) << "</text>\n";

  // Rows: the node's name, then its spans.
  o << "<g id=\"nodes\">\n";
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    const NodeRow& row = t.nodes[i];
    const double y = rows_top + static_cast<double>(i) * (row_h + row_gap);
    o << "<g class=\"node\" id=\"node-" << i << "\">\n";
    o << "<text x=\"" << px(left - 8) << "\" y=\"" << px(y + row_h / 2 + 4)
      << "\" text-anchor=\"end\" font-weight=\"bold\">" << xml_escape(row.name) << "</text>\n";
    for (const auto& s : row.spans) {
      const double x0 = X(s.start), x1 = X(s.end), w = x1 - x0;
      const Colour c = colour(s.state);
      o << "<rect x=\"" << px(x0) << "\" y=\"" << px(y) << "\" width=\"" << px(w) << "\" height=\"" << px(row_h)
        << "\" fill=\"" << c.fill << "\"><title>"
        << xml_escape(row.name + ": " + state_name(s.state) + " from " + seconds(s.start) + " to " + seconds(s.end) +
                      (s.detail.empty() ? "" : " (" + s.detail + ")"))
        << "</title></rect>\n";
      // The state's name, or its letter where the name does not fit, in the
      // widest stretch between fault lines so no dashed line runs through it.
      std::string name = state_name(s.state);
      if (w < text_width(name) + 6 && s.state != NodeState::down) name = std::string(1, state_letter(s.state));
      std::vector<double> cuts{x0, x1};
      for (const auto& f : t.faults)
        if (visible(f.time) && X(f.time) > x0 && X(f.time) < x1) cuts.push_back(X(f.time));
      std::sort(cuts.begin(), cuts.end());
      double a = x0, b = x0;
      for (std::size_t k = 1; k < cuts.size(); ++k)
        if (cuts[k] - cuts[k - 1] > b - a) a = cuts[k - 1], b = cuts[k];
      if (b - a < text_width(name) + 6) a = x0, b = x1;
      if (w >= text_width(name) + 4)
        o << "<text x=\"" << px((a + b) / 2) << "\" y=\"" << px(y + row_h / 2 + 4)
          << "\" text-anchor=\"middle\" fill=\"" << c.text << "\">" << xml_escape(name) << "</text>\n";
    }
    o << "<rect x=\"" << px(left) << "\" y=\"" << px(y) << "\" width=\"" << px(plot) << "\" height=\"" << px(row_h)
      << "\" fill=\"none\" stroke=\"#666666\" stroke-width=\"0.5\"/>\n";
    o << "</g>\n";
  }
  o << "</g>\n";

  // Faults: a dashed line through every row, its label above.
  o << "<g id=\"faults\">\n";
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    if (!fault_pos[i]) continue;
    const Placed& p = *fault_pos[i];
    const double ly = fault_top + (p.level + 1) * label_h - 4;
    const double w = text_width(t.faults[i].label) + 6;
    o << "<g class=\"fault\">\n";
    o << "<line x1=\"" << px(p.x) << "\" y1=\"" << px(ly - 10) << "\" x2=\"" << px(p.x) << "\" y2=\"" << px(axis_y)
      << "\" stroke=\"#222222\" stroke-width=\"1.2\" stroke-dasharray=\"5,3\"/>\n";
    o << "<rect x=\"" << px(p.anchor_end ? p.x - 2 - w : p.x + 2) << "\" y=\"" << px(ly - 11) << "\" width=\""
      << px(w) << "\" height=\"14\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>\n";
    o << "<text x=\"" << px(p.anchor_end ? p.x - 4 : p.x + 4) << "\" y=\"" << px(ly) << "\""
      << (p.anchor_end ? " text-anchor=\"end\"" : "") << " font-weight=\"bold\">" << xml_escape(t.faults[i].label)
      << "<title>" << xml_escape(t.faults[i].label + " at " + seconds(t.faults[i].time) + " (" + t.faults[i].at + ")")
      << "</title></text>\n";
    o << "</g>\n";
  }
  o << "</g>\n";

  // Recovery: from the fault to the first entry into serving, labelled.
  o << "<g id=\"recoveries\">\n";
  for (const auto& rp : recs) {
    const Recovery& r = *rp.r;
    const double y = rec_top + (rp.level + 1) * rec_h - 5;
    const char* ink = r.outcome == Recovery::Outcome::recovered   ? "#1b5e20"
                      : r.outcome == Recovery::Outcome::no_outage ? "#444444"
                                                                  : "#b2182b";
    o << "<g class=\"recovery\">\n";
    if (r.outcome == Recovery::Outcome::recovered) {
      o << "<line x1=\"" << px(rp.x0) << "\" y1=\"" << px(y - 4) << "\" x2=\"" << px(rp.x1) << "\" y2=\"" << px(y - 4)
        << "\" stroke=\"" << ink << "\" stroke-width=\"1.5\"/>\n";
      o << "<line x1=\"" << px(rp.x1) << "\" y1=\"" << px(y - 8) << "\" x2=\"" << px(rp.x1) << "\" y2=\"" << px(y)
        << "\" stroke=\"" << ink << "\" stroke-width=\"1.5\"/>\n";
    }
    o << "<text x=\"" << px(rp.anchor_end ? rp.x1 - 4 : rp.x1 + 4) << "\" y=\"" << px(y) << "\""
      << (rp.anchor_end ? " text-anchor=\"end\"" : "") << " fill=\"" << ink << "\" font-weight=\"bold\">"
      << xml_escape(r.label()) << "<title>"
      << xml_escape(t.faults[r.fault].label + ": " + r.label() +
                    (r.at ? ", " + r.node + " serving at " + seconds(*r.at) : std::string()))
      << "</title></text>\n";
    o << "</g>\n";
  }
  o << "</g>\n";

  // Axis in seconds from t0.
  o << "<g id=\"axis\">\n";
  o << "<line x1=\"" << px(left) << "\" y1=\"" << px(axis_y) << "\" x2=\"" << px(left + plot) << "\" y2=\""
    << px(axis_y) << "\" stroke=\"#000000\"/>\n";
  const double step = tick_step(span, 12);
  for (auto k = static_cast<long long>(std::ceil(t.start / step - 1e-9));; ++k) {
    const double v = static_cast<double>(k) * step;
    if (v > t.end + 1e-9) break;
    const double x = X(v);
    o << "<line x1=\"" << px(x) << "\" y1=\"" << px(axis_y) << "\" x2=\"" << px(x) << "\" y2=\"" << px(axis_y + 5)
      << "\" stroke=\"#000000\"/>\n";
    o << "<text x=\"" << px(x) << "\" y=\"" << px(axis_y + 17) << "\" text-anchor=\"middle\">" << tick_label(v, step)
      << "</text>\n";
  }
  o << "<text x=\"" << px(left + plot) << "\" y=\"" << px(axis_y + 32) << "\" text-anchor=\"end\" fill=\"#444444\">"
    << xml_escape("seconds from t0 = " + t.t0) << "</text>\n";
  o << "</g>\n";

  // Legend: every state's colour and name, and the fault line.
  o << "<g id=\"legend\">\n";
  double lx = left;
  for (NodeState s : kAllStates) {
    const Colour c = colour(s);
    o << "<rect x=\"" << px(lx) << "\" y=\"" << px(legend_y - 10) << "\" width=\"12\" height=\"12\" fill=\"" << c.fill
      << "\" stroke=\"#666666\" stroke-width=\"0.5\"/>\n";
    o << "<text x=\"" << px(lx + 6) << "\" y=\"" << px(legend_y - 1)
      << "\" text-anchor=\"middle\" font-size=\"9\" fill=\"" << c.text << "\">" << state_letter(s) << "</text>\n";
    o << "<text x=\"" << px(lx + 16) << "\" y=\"" << px(legend_y) << "\">" << state_name(s) << "</text>\n";
    lx += 16 + text_width(state_name(s)) + 14;
  }
  o << "<line x1=\"" << px(lx + 6) << "\" y1=\"" << px(legend_y - 12) << "\" x2=\"" << px(lx + 6) << "\" y2=\""
    << px(legend_y + 2) << "\" stroke=\"#222222\" stroke-width=\"1.2\" stroke-dasharray=\"5,3\"/>\n";
  o << "<text x=\"" << px(lx + 12) << "\" y=\"" << px(legend_y) << "\">fault injected</text>\n";
  o << "</g>\n";
  o << "</svg>\n";
  return o.str();
}

std::string render_timeline_text(const Timeline& t, int width) {
  width = std::max(width, 10);
  const double span = t.end > t.start ? t.end - t.start : 1;
  const double col = span / width;
  std::size_t name_w = 6;  // "faults"
  for (const auto& row : t.nodes) name_w = std::max(name_w, row.name.size());
  const std::string pad(name_w + 3, ' ');  // name, two spaces, '|'
  auto column = [&](double s) {
    return std::clamp(static_cast<int>(std::floor((s - t.start) / col + 1e-9)), 0, width - 1);
  };

  std::ostringstream o;
  o << (t.scenario.empty() ? std::string() : t.scenario + ": ") << "service " << t.service << ", t0 " << t.t0 << ", "
    << fixed(t.start, 1) << " to " << fixed(t.end, 1) << " s, " << fixed(col, 3) << " s per column\n";

  // Axis: tick labels in seconds at their columns, far enough apart to read.
  std::string axis(static_cast<std::size_t>(width), ' ');
  {
    static constexpr double kSteps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600};
    double step = kSteps[std::size(kSteps) - 1];
    for (double s : kSteps)
      if (s / col >= 7) {
        step = s;
        break;
      }
    int free_from = 0;
    for (auto k = static_cast<long long>(std::ceil(t.start / step - 1e-9));; ++k) {
      const double v = static_cast<double>(k) * step;
      if (v > t.end + 1e-9) break;
      const std::string label = tick_label(v, step) + "s";
      const int c = column(v);
      if (c < free_from || c + static_cast<int>(label.size()) > width) continue;
      axis.replace(static_cast<std::size_t>(c), label.size(), label);
      free_from = c + static_cast<int>(label.size()) + 1;
    }
  }
  o << pad << axis << "\n";

  for (const auto& row : t.nodes) {
    std::string bar(static_cast<std::size_t>(width), state_letter(NodeState::down));
    std::size_t k = 0;
    for (int i = 0; i < width; ++i) {
      const double mid = t.start + (i + 0.5) * col;
      while (k < row.spans.size() && row.spans[k].end <= mid) ++k;
      if (k < row.spans.size() && row.spans[k].start <= mid)
        bar[static_cast<std::size_t>(i)] = state_letter(row.spans[k].state);
    }
    o << row.name << std::string(name_w - row.name.size() + 2, ' ') << "|" << bar << "|\n";
  }

  // The fault marks: each fault's number under its column.
  auto mark = [](std::size_t i) {
    return i < 9 ? static_cast<char>('1' + i) : i < 35 ? static_cast<char>('a' + (i - 9)) : '+';
  };
  std::string marks(static_cast<std::size_t>(width), ' ');
  bool any = false;
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    if (t.faults[i].time < t.start || t.faults[i].time > t.end) continue;
    auto& m = marks[static_cast<std::size_t>(column(t.faults[i].time))];
    m = m == ' ' ? mark(i) : '*';
    any = true;
  }
  if (any) {
    while (!marks.empty() && marks.back() == ' ') marks.pop_back();
    o << "faults" << std::string(name_w - 6 + 2, ' ') << " " << marks << "\n";
  }

  o << "\n";
  std::string legend;
  for (NodeState s : kAllStates)
    legend += std::string(legend.empty() ? "" : "  ") + state_letter(s) + " " + state_name(s);
  o << legend << "\n";

  if (t.faults.empty()) {
    o << "faults: none\n";
    return o.str();
  }
  o << "faults:\n";
  std::size_t at_w = 0, label_w = 0;
  for (const auto& f : t.faults) {
    at_w = std::max(at_w, seconds(f.time).size());
    label_w = std::max(label_w, f.label.size());
  }
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    const Fault& f = t.faults[i];
    std::string line = std::string("  ") + mark(i) + "  at " + seconds(f.time) +
                       std::string(at_w - seconds(f.time).size() + 2, ' ') + f.label;
    for (const auto& r : t.recoveries) {
      if (r.fault != i) continue;
      line += std::string(label_w - f.label.size() + 2, ' ') + r.label();
      if (r.at) line += " (" + r.node + " serving at " + seconds(*r.at) + ")";
    }
    o << line << "\n";
  }
  return o.str();
}

json timeline_json(const Timeline& t) {
  json nodes = json::array();
  for (const auto& row : t.nodes) {
    json spans = json::array();
    for (const auto& s : row.spans)
      spans.push_back({{"state", state_name(s.state)}, {"start", s.start}, {"end", s.end}, {"detail", s.detail}});
    nodes.push_back({{"name", row.name}, {"spans", spans}});
  }
  json faults = json::array();
  for (const auto& f : t.faults)
    faults.push_back({{"time", f.time}, {"at", f.at}, {"label", f.label}, {"kind", f.kind}, {"nodes", f.nodes}});
  json recoveries = json::array();
  for (const auto& r : t.recoveries) {
    const char* outcome = r.outcome == Recovery::Outcome::recovered   ? "recovered"
                          : r.outcome == Recovery::Outcome::no_outage ? "no_outage"
                                                                      : "not_recovered";
    json j{{"fault", r.fault},
           {"label", t.faults[r.fault].label},
           {"outcome", outcome},
           {"text", r.label()},
           {"seconds", r.seconds ? json(*r.seconds) : json(nullptr)},
           {"at", r.at ? json(*r.at) : json(nullptr)},
           {"node", r.node.empty() ? json(nullptr) : json(r.node)}};
    recoveries.push_back(std::move(j));
  }
  return {{"scenario", t.scenario}, {"service", t.service}, {"t0", t.t0},           {"start", t.start},
          {"end", t.end},           {"nodes", nodes},         {"faults", faults}, {"recoveries", recoveries}};
}

}  // namespace vmrep::cli

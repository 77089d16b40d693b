#include "figures/timeline.hpp"

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

namespace vmrep::figures {

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

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
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

struct Event {
  std::int64_t us = 0;
  std::string time;
  std::string service, kind, detail;
  std::string from, to, reason;  // the structured fields of a change (vmrepd's EventFields)
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
      ev.from = string_field(e, "from", ep, false);
      ev.to = string_field(e, "to", ep, false);
      ev.reason = string_field(e, "reason", ep, false);
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

// A change event's from/to fields, checked against the names `valid` knows.
template <class Valid>
Change change_of(const Event& e, Valid valid, const char* names) {
  if (e.from.empty() || e.to.empty())
    fail(e.path, "a " + e.kind + " event without its \"from\" and \"to\" fields (recorded by an older vmrepd?)");
  if (!valid(e.from)) fail(e.path + ".from", "'" + e.from + "' is not one of " + names);
  if (!valid(e.to)) fail(e.path + ".to", "'" + e.to + "' is not one of " + names);
  return Change{e.from, e.to, e.reason};
}

Change state_change(const Event& e) {
  return change_of(e, [](const std::string& s) { return svc_of(s).has_value(); }, kSvcNames);
}

Change role_change(const Event& e) {
  return change_of(e, [](const std::string& s) { return role_of(s).has_value(); }, kRoleNames);
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

}  // namespace vmrep::figures

#include "controller/cli/views.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <vector>

namespace vmrep::cli {
namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

// j[key] when j is an object that has it, else null: an older daemon or a
// service that has not replicated yet leaves fields out, and operator[] on a
// const json must not be asked for a missing key.
const json& at(const json& j, const char* key) {
  static const json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

std::string text(const json& j, const char* key, const std::string& none = "-") {
  const json& v = at(j, key);
  if (v.is_null()) return none;
  if (v.is_string()) return v.get<std::string>().empty() ? none : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

std::optional<double> number(const json& j, const char* key) {
  const json& v = at(j, key);
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

std::string duration(double seconds) {
  auto s = static_cast<long long>(std::max(0.0, seconds));
  char buf[64];
  if (s >= 86400) std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
  else if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  return buf;
}

std::string ms_of(const json& j, const char* key) {
  auto v = number(j, key);
  return v ? human_ms(*v) : "-";
}

std::string bytes_of(const json& j, const char* key) {
  auto v = number(j, key);
  return v ? human_bytes(static_cast<std::uint64_t>(std::max(0.0, *v))) : "-";
}

// One line of a table cell: a multi-line error would break the columns.
std::string one_line(std::string s, std::size_t max = 72) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

// Left-aligned columns, two spaces apart.
std::string table(const Rows& rows, const std::string& indent = "  ") {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream out;
  for (const auto& r : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
  return out.str();
}

std::string join(const json& arr) {
  std::string s;
  if (!arr.is_array()) return "-";
  for (const auto& v : arr)
    if (v.is_string()) s += (s.empty() ? "" : ",") + v.get<std::string>();
  return s.empty() ? "-" : s;
}

// "4.1 s ago, down 85 ms": how fresh the newest copy is and what it cost the VM.
std::string checkpoint_cell(const json& repl) {
  const json& c = at(repl, "last_checkpoint");
  if (!c.is_object()) return "-";
  std::string s = ms_of(c, "age_ms") + " ago";
  if (auto d = number(c, "downtime_ms")) s += ", down " + human_ms(*d);
  return s;
}

// Lag in versions behind the newest anyone has; null means behind by a
// different term (or holding nothing), which has no number.
std::string lag_cell(const json& node) {
  const json& l = at(node, "lag");
  if (l.is_number()) return l.dump();
  return node.is_object() && node.contains("lag") ? "behind" : "-";
}

std::string pushes_cell(const json& node) {
  auto pushes = number(node, "pushes");
  if (!pushes) return "-";
  std::string s = at(node, "pushes").dump();
  std::vector<std::string> extra;
  if (auto f = number(node, "push_failures"); f && *f > 0)
    extra.push_back(at(node, "push_failures").dump() + " failed");
  if (at(node, "push_in_flight").is_boolean() && at(node, "push_in_flight").get<bool>()) extra.push_back("1 running");
  for (std::size_t i = 0; i < extra.size(); ++i) s += (i == 0 ? " (" : ", ") + extra[i];
  return extra.empty() ? s : s + ")";
}

// Below the services table: one block per service that replicates, with
// this node's view of every node's copies.
std::string service_block(const json& svc, const std::string& self) {
  const json& r = at(svc, "replication");
  std::ostringstream out;
  out << text(svc, "name") << ": this node " << text(r, "state", "unknown");
  if (std::string d = text(r, "detail", ""); !d.empty()) out << " - " << one_line(d, 120);
  out << "\n";

  std::vector<std::string> facts;
  if (const json& m = at(r, "mode"); m.is_string()) facts.push_back(m.get<std::string>());
  if (number(r, "min_acks")) facts.push_back("min_acks " + text(r, "min_acks"));
  if (number(r, "checkpoint_interval_ms")) facts.push_back("checkpoint every " + ms_of(r, "checkpoint_interval_ms"));
  if (number(r, "term")) facts.push_back("term " + text(r, "term"));
  if (number(r, "checkpoints")) {
    std::string c = text(r, "checkpoints") + " checkpoints";
    if (auto f = number(r, "checkpoint_failures"); f && *f > 0) c += " (" + text(r, "checkpoint_failures") + " failed)";
    facts.push_back(c);
  }
  if (!facts.empty()) {
    out << "  ";
    for (std::size_t i = 0; i < facts.size(); ++i) out << (i ? ", " : "") << facts[i];
    out << "\n";
  }

  if (const json& c = at(r, "last_checkpoint"); c.is_object()) {
    out << "  last checkpoint " << text(c, "version") << ", " << ms_of(c, "age_ms") << " ago: "
        << bytes_of(c, "plain_bytes") << ", " << bytes_of(c, "new_bytes") << " new in " << text(c, "new_chunks")
        << " chunks; ";
    if (number(c, "downtime_ms")) out << "down " << ms_of(c, "downtime_ms") << ", ";  // null: QEMU did not say
    out << "checkpoint " << ms_of(c, "checkpoint_ms") << ", ingest " << ms_of(c, "ingest_ms") << ", commit "
        << ms_of(c, "commit_ms") << "\n";
  }
  if (const json& f = at(r, "last_failover"); f.is_object() && !f.empty()) {
    out << "  last failover " << text(f, "started") << ": " << text(f, "version");
    if (f.contains("fetched_from"))
      out << " fetched from " << text(f, "fetched_from") << " in " << ms_of(f, "fetch_ms");
    if (f.value("prepared_at_suspicion", false)) out << " (restore prepared at suspicion, resumed)";
    out << ", serving after " << ms_of(f, "to_serving_ms") << "\n";
  }
  if (const json& w = at(r, "prepared_restore"); w.is_string())
    out << "  restore of " << w.get<std::string>() << " prepared here, paused: the primary is suspected\n";

  const json& nodes = at(r, "nodes");
  if (!nodes.is_object() || nodes.empty()) return out.str();
  Rows rows{{"NODE", "STATE", "NEWEST", "COMMITTED", "LAG", "SHIPPED", "PUSHES", "LAST ERROR"}};
  for (const auto& [name, n] : nodes.items())
    rows.push_back({name == self ? name + " (this node)" : name, text(n, "state"), text(n, "newest"),
                    text(n, "committed"), lag_cell(n), bytes_of(n, "bytes_shipped"), pushes_cell(n),
                    one_line(text(n, "last_error"))});
  out << table(rows, "    ");
  return out.str();
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024;
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string human_ms(double ms) {
  if (!(ms >= 0)) ms = 0;  // also NaN
  char buf[32];
  if (ms > 0 && ms < 1) return "<1 ms";
  if (ms < 999.5) {
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
    return buf;
  }
  if (ms < 59950) {
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
    return buf;
  }
  return duration(ms / 1000);
}

std::string render_status(const json& s) {
  std::ostringstream out;
  const json& ce = at(s, "cluster_election");
  out << "Cluster " << text(s, "cluster") << ": node " << text(s, "node") << " (id " << text(s, "node_id")
      << "), up " << duration(number(s, "uptime_seconds").value_or(0)) << "\n";
  out << "Cluster election: primary " << text(ce, "primary", "none") << ", epoch " << text(ce, "epoch") << " round "
      << text(ce, "round") << ", this node is " << text(ce, "role") << "\n\n";

  const json& peers = at(s, "peers");
  Rows prows{{"PEER", "ADDRESS", "LINK", "SUSPECTED", "LAST ERROR"}};
  if (peers.is_array())
    for (const auto& p : peers) {
      const bool out_up = at(p, "outbound_up").is_boolean() && at(p, "outbound_up").get<bool>();
      const bool in_up = at(p, "inbound_up").is_boolean() && at(p, "inbound_up").get<bool>();
      std::string link = out_up && in_up ? "up" : out_up || in_up ? "half" : "down";
      std::string err = text(p, "last_error");
      if (link == "up") err = "-";  // an old error of a link that is up again misleads
      prows.push_back({text(p, "name"), text(p, "address"), link, text(p, "suspected"), one_line(err)});
    }
  out << "Peers:\n" << (prows.size() == 1 ? "  (none)\n" : table(prows)) << "\n";

  const json& services = at(s, "services");
  const bool any_replication =
      services.is_array() &&
      std::any_of(services.begin(), services.end(), [](const json& v) { return at(v, "replication").is_object(); });
  Rows srows;
  if (any_replication)
    srows.push_back({"SERVICE", "PRIMARY", "THIS NODE", "STATE", "COMMITTED", "LAST CHECKPOINT", "MODE", "EPOCH",
                     "ROUND", "SUSPECTS"});
  else
    srows.push_back({"SERVICE", "PRIMARY", "THIS NODE", "EPOCH", "ROUND", "MODE", "SUSPECTS"});
  if (services.is_array())
    for (const auto& v : services) {
      const json& r = at(v, "replication");
      if (any_replication)
        srows.push_back({text(v, "name"), text(v, "primary", "none"), text(v, "role"), text(r, "state"),
                         text(r, "committed"), checkpoint_cell(r), text(v, "mode"), text(v, "epoch"),
                         text(v, "round"), join(at(v, "suspects"))});
      else
        srows.push_back({text(v, "name"), text(v, "primary", "none"), text(v, "role"), text(v, "epoch"),
                         text(v, "round"), text(v, "mode"), join(at(v, "suspects"))});
    }
  out << "Services:\n" << (srows.size() == 1 ? "  (none configured)\n" : table(srows));
  if (any_replication)
    for (const auto& v : services)
      if (at(v, "replication").is_object()) out << "\n" << service_block(v, text(s, "node", ""));
  return out.str();
}

std::string render_events(const json& events) {
  Rows rows{{"TIME", "SERVICE", "EVENT", "DETAIL"}};
  if (events.is_array())
    for (const auto& e : events)
      rows.push_back({text(e, "time"), text(e, "service"), text(e, "kind"), text(e, "detail")});
  return rows.size() == 1 ? "  (no events)\n" : table(rows);
}

std::string render_snapshots(const json& snap) {
  std::ostringstream out;
  out << "Service " << text(snap, "service") << ": committed " << text(snap, "committed", "none") << "\n";
  const json& nodes = at(snap, "nodes");
  if (!nodes.is_object() || nodes.empty()) return out.str() + "  (no nodes)\n";
  for (const auto& [name, n] : nodes.items()) {
    const json& versions = at(n, "versions");
    const std::size_t count = versions.is_array() ? versions.size() : 0;
    out << "\n" << name << " (" << text(n, "state", "unknown") << "): " << count
        << (count == 1 ? " version" : " versions") << "\n";
    if (count == 0) continue;
    Rows rows{{"VERSION", "SIZE", "COMMITTED", "SHIPPED"}};
    for (const auto& v : versions)
      rows.push_back({text(v, "version"), bytes_of(v, "bytes"), text(v, "committed"), bytes_of(v, "shipped_bytes")});
    out << table(rows);
  }
  return out.str();
}

}  // namespace vmrep::cli

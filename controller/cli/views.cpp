#include "controller/cli/views.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace vmrep::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key, const std::string& none = "-") {
  if (!j.contains(key) || j[key].is_null()) return none;
  if (j[key].is_string()) return j[key].get<std::string>();
  if (j[key].is_boolean()) return j[key].get<bool>() ? "yes" : "no";
  return j[key].dump();
}

std::string duration(double seconds) {
  auto s = static_cast<long long>(seconds);
  char buf[64];
  if (s >= 86400) std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
  else if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  return buf;
}

// Left-aligned columns, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      width.resize(std::max(width.size(), r.size()));
      width[i] = std::max(width[i], r[i].size());
    }
  std::ostringstream out;
  for (const auto& r : rows) {
    std::string line = "  ";
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
  for (const auto& v : arr) s += (s.empty() ? "" : ",") + v.get<std::string>();
  return s.empty() ? "-" : s;
}

}  // namespace

std::string render_status(const json& s) {
  std::ostringstream out;
  const json& ce = s["cluster_election"];
  out << "Cluster " << text(s, "cluster") << ": node " << text(s, "node") << " (id " << text(s, "node_id")
      << "), up " << duration(s.value("uptime_seconds", 0.0)) << "\n";
  out << "Cluster election: primary " << text(ce, "primary", "none") << ", epoch " << text(ce, "epoch") << " round "
      << text(ce, "round") << ", this node is " << text(ce, "role") << "\n\n";
  std::vector<std::vector<std::string>> peers{{"PEER", "ADDRESS", "LINK", "SUSPECTED", "LAST ERROR"}};
  for (const auto& p : s["peers"]) {
    std::string link = p.value("outbound_up", false) && p.value("inbound_up", false) ? "up"
                       : p.value("outbound_up", false) || p.value("inbound_up", false) ? "half"
                                                                                      : "down";
    std::string err = text(p, "last_error");
    if (link == "up" || err.empty()) err = "-";  // an old error of a link that is up again misleads
    peers.push_back({text(p, "name"), text(p, "address"), link, text(p, "suspected"), err});
  }
  out << "Peers:\n" << (s["peers"].empty() ? "  (none)\n" : table(peers)) << "\n";
  std::vector<std::vector<std::string>> svcs{{"SERVICE", "PRIMARY", "THIS NODE", "EPOCH", "ROUND", "MODE", "SUSPECTS"}};
  for (const auto& v : s["services"])
    svcs.push_back({text(v, "name"), text(v, "primary", "none"), text(v, "role"), text(v, "epoch"), text(v, "round"),
                    text(v, "mode"), join(v["suspects"])});
  out << "Services:\n" << (s["services"].empty() ? "  (none configured)\n" : table(svcs));
  return out.str();
}

std::string render_events(const json& events) {
  std::vector<std::vector<std::string>> rows{{"TIME", "SERVICE", "EVENT", "DETAIL"}};
  for (const auto& e : events) {
    std::string svc = text(e, "service");
    rows.push_back({text(e, "time"), svc.empty() ? "-" : svc, text(e, "kind"), text(e, "detail")});
  }
  return events.empty() ? "  (no events)\n" : table(rows);
}

}  // namespace vmrep::cli

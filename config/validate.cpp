// Rules that relate fields to each other, and defaults that depend on other
// fields. Runs after load_tree(); a field whose own read failed is left out
// of every rule so one typo gives one line, not a cascade.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "config/loader.hpp"
#include "config/suggest.hpp"

namespace vmrep::config::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

// Where to report a problem with `path`: its key if written, else the
// nearest enclosing mapping that was, else the top of the file.
Pos pos_for(const Reader& r, const std::string& path) {
  if (const Where* w = r.find(path)) return w->key;
  for (std::string parent = path;;) {
    const auto cut = parent.find_last_of(".[");
    parent = cut == std::string::npos ? "" : parent.substr(0, cut);
    if (const Where* w = r.find(parent)) return w->value;
    if (parent.empty()) return Pos{};
  }
}

std::string endpoint(const Node& n) {
  const bool v6 = n.address.find(':') != std::string::npos;
  return (v6 ? "[" + n.address + "]" : n.address) + ":" + std::to_string(n.port);
}

void check_nodes(Reader& r, const Config& c) {
  std::map<std::string, std::size_t> by_name, by_endpoint;  // -> first index
  for (std::size_t i = 0; i < c.nodes.size(); ++i) {
    const Node& n = c.nodes[i];
    const std::string at = "nodes[" + std::to_string(i) + "]";
    if (!n.name.empty()) {
      auto [first, fresh] = by_name.emplace(n.name, i);
      if (!fresh) {
        const std::string other = "nodes[" + std::to_string(first->second) + "].name";
        r.error(pos_for(r, at + ".name"), at + ".name",
                "duplicate node name " + quoted(n.name) + " (first at line " +
                    std::to_string(pos_for(r, other).line) + ")");
      }
    }
    if (!n.address.empty() && !r.failed(at + ".port")) {
      auto [first, fresh] = by_endpoint.emplace(lower(n.address) + "|" + std::to_string(n.port), i);
      if (!fresh) {
        const std::string other = "nodes[" + std::to_string(first->second) + "].address";
        r.error(pos_for(r, at + ".address"), at + ".address",
                "duplicate address " + quoted(endpoint(n)) + " (first at line " +
                    std::to_string(pos_for(r, other).line) + ")");
      }
    }
  }
}

void check_tls(Reader& r, const Config& c) {
  if (r.failed("tls.insecure")) return;
  if (!c.tls.insecure) {
    if (r.find("tls") == nullptr) {
      r.error(pos_for(r, "tls"), "tls",
              "missing required key (ca, cert and key; only a loopback-only cluster may set insecure: true)");
      return;
    }
    for (const char* key : {"ca", "cert", "key"}) {
      const std::string path = std::string("tls.") + key;
      if (r.find(path) == nullptr) r.error(pos_for(r, path), path, "missing required key (unless insecure: true)");
    }
    return;
  }
  std::size_t outside = 0;
  const Node* first = nullptr;
  for (const Node& n : c.nodes) {
    if (n.address.empty() || is_loopback(n.address)) continue;
    if (first == nullptr) first = &n;
    ++outside;
  }
  if (first == nullptr) return;
  std::string message = "refused: node " + quoted(first->name) + " has address " + quoted(first->address);
  if (outside > 1) message += " (and " + std::to_string(outside - 1) + " more)";
  message += "; plain TCP is only allowed when every node is loopback (127.0.0.0/8, ::1, localhost)";
  r.error(pos_for(r, "tls.insecure"), "tls.insecure", message);
}

// `high` must be >= `low` (> when strict). Reported at whichever of the two
// the file sets, preferring `high`; quiet if either failed to read.
void relate(Reader& r, const std::string& low_key, std::uint32_t low, const std::string& high_key,
            std::uint32_t high, bool strict) {
  const std::string low_path = "timing." + low_key;
  const std::string high_path = "timing." + high_key;
  if (r.failed(low_path) || r.failed(high_path)) return;
  if (strict ? high > low : high >= low) return;
  const char* op = strict ? ">" : ">=";
  const char* inverse = strict ? "<" : "<=";
  if (r.find(high_path) != nullptr) {
    r.error(pos_for(r, high_path), high_path,
            std::string("must be ") + op + " " + low_key + " (" + std::to_string(low) + "), got " +
                std::to_string(high));
  } else {
    r.error(pos_for(r, low_path), low_path,
            std::string("must be ") + inverse + " " + high_key + " (" + std::to_string(high) +
                ", the default), got " + std::to_string(low));
  }
}

void check_timing(Reader& r, const Timing& t) {
  relate(r, "tick_ms", t.tick_ms, "heartbeat_interval_ms", t.heartbeat_interval_ms, false);
  relate(r, "heartbeat_interval_ms", t.heartbeat_interval_ms, "suspect_timeout_ms", t.suspect_timeout_ms, true);
  relate(r, "suspect_timeout_ms", t.suspect_timeout_ms, "suspect_timeout_max_ms", t.suspect_timeout_max_ms, false);
}

// `index`: the service's position; with no list given, node order rotated by
// it, so the services' first primaries spread over the hosts.
void check_preferred(Reader& r, const Config& c, Service& s, const std::string& path, std::size_t index_of_service) {
  std::vector<std::string_view> names;
  for (const Node& n : c.nodes) names.push_back(n.name);
  if (s.preferred.empty() && !names.empty())
    std::rotate(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(index_of_service % names.size()),
                names.end());
  std::vector<std::string> listed;
  std::size_t index = 0;
  for (const std::string& name : s.preferred) {
    const std::string at = path + ".preferred[" + std::to_string(index++) + "]";
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string message = "unknown node " + quoted(name);
      if (auto near = closest(name, names)) message += " (did you mean '" + *near + "'?)";
      r.error(pos_for(r, at), at, message);
    } else if (std::find(listed.begin(), listed.end(), name) != listed.end()) {
      r.error(pos_for(r, at), at, "node " + quoted(name) + " is listed twice");
    } else {
      listed.push_back(name);
    }
  }
  // The nodes left out follow, in node order: consumers always see a full ranking.
  for (std::string_view name : names)
    if (!name.empty() && std::find(listed.begin(), listed.end(), name) == listed.end()) listed.emplace_back(name);
  s.preferred = std::move(listed);
}

void check_service(Reader& r, const Config& c, Service& s, std::size_t index) {
  const std::string path = join("services", s.name);
  check_preferred(r, c, s, path, index);
  if (c.nodes.empty()) return;
  const auto backups = static_cast<std::uint32_t>(c.nodes.size() - 1);
  const std::string min_acks = path + ".min_acks";
  if (r.find(min_acks) == nullptr) {
    s.min_acks = std::min<std::uint32_t>(1, backups);
  } else if (!r.failed(min_acks) && s.min_acks > backups) {
    r.error(pos_for(r, min_acks), min_acks, "must be <= number of backups (" + std::to_string(backups) + ")");
  }
}

}  // namespace

bool is_loopback(std::string_view address) {
  const std::string a = lower(address);
  if (a == "localhost" || a == "localhost.") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, a.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

void validate(Reader& r, Config& c) {
  check_nodes(r, c);
  check_tls(r, c);
  check_timing(r, c.timing);
  for (std::size_t i = 0; i < c.services.size(); ++i) check_service(r, c, c.services[i], i);
}

}  // namespace vmrep::config::detail

// The schema of the cluster file (docs/config.md is its reference): one
// function per section, each listing its keys and reading them in file order.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace vmrep::config::detail {
namespace {

using Keys = std::vector<std::string_view>;

const Keys root_keys{"cluster", "nodes", "tls", "timing", "control", "data_dir", "log_level", "replication", "services"};
const Keys replication_keys{"ssh_key", "known_hosts", "cluster_key", "ssh_timeout_ms", "store_owner"};
const Keys node_keys{"name", "address", "port", "ssh"};
const Keys ssh_keys{"host", "port", "user"};
const Keys tls_keys{"ca", "cert", "key", "insecure"};
const Keys timing_keys{"tick_ms", "heartbeat_interval_ms", "suspect_timeout_ms", "suspect_timeout_max_ms"};
const Keys control_keys{"socket", "mode", "metrics_port"};
const Keys service_keys{"libvirt_uri", "domain",    "preferred", "checkpoint_interval_ms",
                        "min_acks",    "retention", "mode",      "hooks"};
const Keys hook_keys{"pre_promote", "post_promote", "on_split_brain", "fence"};
const Keys log_levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
const Keys modes{"availability", "quorum"};

// Keys of a section written at the top level by mistake, and where they go.
const std::map<std::string_view, std::string_view> moved_from_root{
    {"tick_ms", "timing"},
    {"heartbeat_interval_ms", "timing"},
    {"suspect_timeout_ms", "timing"},
    {"suspect_timeout_max_ms", "timing"},
    {"ca", "tls"},
    {"cert", "tls"},
    {"key", "tls"},
    {"insecure", "tls"},
    {"socket", "control"},
    {"metrics_port", "control"},
    {"libvirt_uri", "services.NAME"},
    {"preferred", "services.NAME"},
    {"checkpoint_interval_ms", "services.NAME"},
    {"min_acks", "services.NAME"},
    {"retention", "services.NAME"},
    {"hooks", "services.NAME"},
};

constexpr std::uint32_t u32_max = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint16_t port_max = std::numeric_limits<std::uint16_t>::max();

const char* const name_rule = "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit";

void name_of(Reader& r, const Field& f, std::string& out) {
  std::string s;
  if (!r.text(f, s)) return;
  if (!valid_name(s)) {
    r.reject(f, std::string(name_rule) + ", got " + quoted(s));
    return;
  }
  out = s;
}

bool host_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
         ch == '_' || ch == ':' || ch == '%';
}

// An IP address or a host name (no brackets, no port).
void host_of(Reader& r, const Field& f, std::string& out) {
  std::string s;
  if (!r.text(f, s)) return;
  if (!std::all_of(s.begin(), s.end(), host_char)) {
    r.reject(f, "expected an IP address or host name, got " + quoted(s));
    return;
  }
  out = s;
}

// Free text without control characters (user names, URIs, paths).
void plain_of(Reader& r, const Field& f, std::string& out) {
  std::string s;
  if (!r.text(f, s)) return;
  if (std::any_of(s.begin(), s.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; })) {
    r.reject(f, "must not contain control characters, got " + quoted(s));
    return;
  }
  out = s;
}

// A path-like string in which the daemon replaces "{node}" (when
// `node_allowed`); any other "{...}" is a typo the daemon would keep.
void path_of(Reader& r, const Field& f, std::string& out, bool node_allowed) {
  std::string s;
  plain_of(r, f, s);
  if (s.empty()) return;
  for (auto open = s.find('{'); open != std::string::npos; open = s.find('{', open + 1)) {
    const auto close = s.find('}', open);
    if (close == std::string::npos) break;
    const std::string token = s.substr(open, close - open + 1);
    if (token == "{node}" && node_allowed) continue;
    r.reject(f, token == "{node}" ? "'{node}' is not replaced here; give the path itself"
                                  : "unknown placeholder " + quoted(token) + " (only '{node}' is replaced)");
    return;
  }
  out = s;
}

bool missing(const Reader& r, const std::string& path) { return r.find(path) == nullptr; }

// Where to report a key missing from the mapping at `path`.
Pos mapping_pos(const Reader& r, const std::string& path) {
  const Where* w = r.find(path);
  return w != nullptr ? w->value : Pos{};
}

void load_ssh(Reader& r, const Field& f, Node& n) {
  r.mapping(f, ssh_keys, [&](std::string_view key, const Field& v) {
    if (key == "host") host_of(r, v, n.ssh_host);
    if (key == "port") r.unsigned_in<std::uint16_t>(v, 1, port_max, n.ssh_port);
    if (key == "user") plain_of(r, v, n.ssh_user);
  });
}

void load_node(Reader& r, const Field& f, Node& n) {
  if (!f.value.IsMap()) {
    r.reject(f, "expected a mapping with name and address, got " + describe(f.value));
    return;
  }
  r.mapping(f, node_keys, [&](std::string_view key, const Field& v) {
    if (key == "name") name_of(r, v, n.name);
    if (key == "address") host_of(r, v, n.address);
    if (key == "port") r.unsigned_in<std::uint16_t>(v, 1, port_max, n.port);
    if (key == "ssh") load_ssh(r, v, n);
  });
  for (const char* required : {"name", "address"})
    if (missing(r, join(f.path, required))) r.error(f.at, join(f.path, required), "missing required key");
  if (missing(r, f.path + ".ssh.host")) n.ssh_host = n.address;
}

void load_nodes(Reader& r, const Field& f, Config& c) {
  r.list(f, [&](std::size_t, const Field& item) {
    Node n;
    load_node(r, item, n);
    c.nodes.push_back(std::move(n));
  });
  if (!r.failed(f.path) && c.nodes.empty()) r.reject(f, "at least one node is required");
}

void load_tls(Reader& r, const Field& f, Tls& t) {
  r.mapping(f, tls_keys, [&](std::string_view key, const Field& v) {
    if (key == "ca") path_of(r, v, t.ca, false);
    if (key == "cert") path_of(r, v, t.cert, true);
    if (key == "key") path_of(r, v, t.key, true);
    if (key == "insecure") r.boolean(v, t.insecure);
  });
}

void load_timing(Reader& r, const Field& f, Timing& t) {
  r.mapping(f, timing_keys, [&](std::string_view key, const Field& v) {
    if (key == "tick_ms") r.unsigned_in<std::uint32_t>(v, 10, 10000, t.tick_ms);
    if (key == "heartbeat_interval_ms") r.unsigned_in<std::uint32_t>(v, 1, u32_max, t.heartbeat_interval_ms);
    if (key == "suspect_timeout_ms") r.unsigned_in<std::uint32_t>(v, 1, u32_max, t.suspect_timeout_ms);
    if (key == "suspect_timeout_max_ms") r.unsigned_in<std::uint32_t>(v, 1, u32_max, t.suspect_timeout_max_ms);
  });
}

void load_control(Reader& r, const Field& f, Config& c) {
  r.mapping(f, control_keys, [&](std::string_view key, const Field& v) {
    if (key == "socket") path_of(r, v, c.control_socket, true);
    if (key == "mode") r.file_mode(v, c.control_socket_mode);
    if (key == "metrics_port") {
      std::uint16_t port = 0;
      if (r.unsigned_in<std::uint16_t>(v, 1, port_max, port)) c.metrics_port = port;
    }
  });
}

void load_replication(Reader& r, const Field& f, Replication& p) {
  r.mapping(f, replication_keys, [&](std::string_view key, const Field& v) {
    if (key == "ssh_key") path_of(r, v, p.ssh_key, true);
    if (key == "known_hosts") path_of(r, v, p.known_hosts, false);
    if (key == "cluster_key") path_of(r, v, p.cluster_key, false);
    if (key == "ssh_timeout_ms") r.unsigned_in<std::uint32_t>(v, 100, 600000, p.ssh_timeout_ms);
    if (key == "store_owner") plain_of(r, v, p.store_owner);
  });
}

// A command for /bin/sh -c: may span lines, may be empty (no hook).
void command_of(Reader& r, const Field& f, std::string& out) {
  std::string s;
  if (!r.text(f, s, true)) return;
  if (s.find('\0') != std::string::npos) {
    r.reject(f, "must not contain a NUL byte");
    return;
  }
  out = s;
}

void load_hooks(Reader& r, const Field& f, Hooks& h) {
  r.mapping(f, hook_keys, [&](std::string_view key, const Field& v) {
    if (key == "pre_promote") command_of(r, v, h.pre_promote);
    if (key == "post_promote") command_of(r, v, h.post_promote);
    if (key == "on_split_brain") command_of(r, v, h.on_split_brain);
    if (key == "fence") command_of(r, v, h.fence);
  });
}

void load_preferred(Reader& r, const Field& f, Service& s) {
  r.list(f, [&](std::size_t, const Field& item) {
    std::string name;
    if (r.text(item, name)) s.preferred.push_back(name);
  });
}

void load_service(Reader& r, const Field& f, Service& s) {
  r.mapping(f, service_keys, [&](std::string_view key, const Field& v) {
    if (key == "libvirt_uri") plain_of(r, v, s.libvirt_uri);
    if (key == "domain") plain_of(r, v, s.domain);
    if (key == "preferred") load_preferred(r, v, s);
    if (key == "checkpoint_interval_ms") r.unsigned_in<std::uint32_t>(v, 100, u32_max, s.checkpoint_interval_ms);
    if (key == "min_acks") r.unsigned_in<std::uint32_t>(v, 0, u32_max, s.min_acks);
    if (key == "retention") r.unsigned_in<std::uint32_t>(v, 1, u32_max, s.retention);
    if (key == "mode") {
      std::string mode;
      if (r.choice(v, modes, mode)) s.mode = mode == "quorum" ? Mode::quorum : Mode::availability;
    }
    if (key == "hooks") load_hooks(r, v, s.hooks);
  });
  if (missing(r, f.path + ".domain")) s.domain = s.name;
}

void load_services(Reader& r, const Field& f, Config& c) {
  r.named_mapping(f, [&](std::string_view name, const Field& v) {
    Service s;
    s.name = std::string(name);
    if (!valid_name(s.name)) r.error(v.at, v.path, std::string("service name ") + name_rule);
    load_service(r, v, s);
    c.services.push_back(std::move(s));
  });
}

}  // namespace

bool valid_name(std::string_view s) {
  auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'); };
  if (s.empty() || s.size() > 63 || !alnum(s.front())) return false;
  for (char ch : s)
    if (!alnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  return true;
}

bool load_tree(Reader& r, const YAML::Node& root, Config& c) {
  const Pos top = pos_of(root, Pos{});
  r.mark("", Where{top, top});
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    r.error(top, "", "expected a mapping at the top level, got " + describe(root));
    return false;
  }
  const Field doc{root, top, ""};
  r.mapping(
      doc, root_keys,
      [&](std::string_view key, const Field& v) {
        if (key == "cluster") name_of(r, v, c.cluster_name);
        if (key == "nodes") load_nodes(r, v, c);
        if (key == "tls") load_tls(r, v, c.tls);
        if (key == "timing") load_timing(r, v, c.timing);
        if (key == "control") load_control(r, v, c);
        if (key == "data_dir") {
          path_of(r, v, c.data_dir, true);
          c.data_dir_pattern = c.data_dir;
        }
        if (key == "replication") load_replication(r, v, c.replication);
        if (key == "log_level") r.choice(v, log_levels, c.log_level);
        if (key == "services") load_services(r, v, c);
      },
      moved_from_root);
  if (missing(r, "nodes")) r.error(mapping_pos(r, ""), "nodes", "missing required key");
  return true;
}

}  // namespace vmrep::config::detail

#pragma once
// The operator's cluster file, typed and validated. One file describes the
// cluster and every protected service; the same file goes to every host and
// `--node NAME` (or the host name) picks "me". Everything but the node list
// has a default. Pure: reads no files except through load_file(), knows
// nothing of Asio, libvirt or SSH.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmrep::config {

struct Node {
  std::string name;            // unique; also the CN of its TLS certificate
  std::string address;         // peer mesh host (IP or name)
  std::uint16_t port = 7400;   // peer mesh port
  std::string ssh_host;        // snapshot pushes; default: address
  std::uint16_t ssh_port = 22;
  std::string ssh_user = "root";
};

struct Tls {
  bool insecure = false;  // plain TCP; refused unless every node address is loopback
  std::string ca;         // PEM paths; required unless insecure
  std::string cert;
  std::string key;
};

// How this host pushes checkpoints to the others (SFTP) and proves them.
struct Replication {
  std::string ssh_key = "/etc/vmrep/ssh/id_ed25519";         // ed25519 client key; "{node}" allowed
  std::string known_hosts = "/etc/vmrep/ssh/known_hosts";    // every peer's host key (OpenSSH format)
  std::string cluster_key = "/etc/vmrep/cluster.key";        // HMAC key of manifests, >= 32 bytes, same on every host
  std::uint32_t ssh_timeout_ms = 10000;                      // per blocking SSH call
  // The local account peers push as (an internal-sftp-only SFTP account): it
  // owns the store's files, 0700/0600. Empty: the daemon's user owns them
  // and peers must log in as that user.
  std::string store_owner;
};

struct Timing {
  std::uint32_t tick_ms = 100;                  // one consensus tick
  std::uint32_t heartbeat_interval_ms = 200;    // >= tick_ms (rounded up to whole ticks)
  std::uint32_t suspect_timeout_ms = 1000;      // initial suspicion timeout
  std::uint32_t suspect_timeout_max_ms = 5000;  // cap of the adaptive timeout
};

enum class Mode { availability, quorum };

struct Hooks {
  std::string pre_promote;  // commands run by /bin/sh; empty: none
  std::string post_promote;
  std::string on_split_brain;
  std::string fence;
};

struct Service {
  std::string name;
  std::string libvirt_uri = "qemu:///system";
  std::string domain;                  // default: the service name
  std::vector<std::string> preferred;  // node names, most preferred first; default: node order
  std::uint32_t checkpoint_interval_ms = 10000;
  std::uint32_t min_acks = 1;          // <= number of backups (nodes - 1)
  std::uint32_t retention = 3;         // committed versions kept per service, >= 1
  Mode mode = Mode::availability;
  Hooks hooks;
};

struct Config {
  std::string source;  // file the config came from (for messages)
  std::string cluster_name = "vmrep";
  std::vector<Node> nodes;  // required, at least one; ids are 1-based positions
  Tls tls;
  Timing timing;
  std::string control_socket = "/run/vmrep/vmrepd.sock";
  std::uint32_t control_socket_mode = 0600;
  std::optional<std::uint16_t> metrics_port;  // also serve /metrics on 127.0.0.1:PORT
  std::string data_dir = "/var/lib/vmrep";
  // data_dir as written, "{node}" kept: where a peer's store is (its data_dir)
  // when this host pushes to it.
  std::string data_dir_pattern = "/var/lib/vmrep";
  Replication replication;
  std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
  std::vector<Service> services;

  // 1-based id of the node called `name`, or 0.
  std::uint32_t node_id(const std::string& name) const;
  // The data_dir of node `name` (data_dir_pattern with its name).
  std::string data_dir_of(const std::string& name) const;
};

// Thrown with every problem found, one line each, in file order:
//   cluster.yaml:14:5: services.web.min_acks: must be <= number of backups (2)
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> lines, bool internal = false);
  const std::vector<std::string>& lines() const { return lines_; }
  // True when the loader itself failed (a bug to report), not the file.
  bool internal() const { return internal_; }

 private:
  std::vector<std::string> lines_;
  bool internal_ = false;
};

// `name` is what messages call the file (usually its path).
Config load_string(const std::string& text, const std::string& name);
Config load_file(const std::string& path);  // unreadable file: ConfigError naming it

// The config as node `node` sees it: "{node}" in tls.cert, tls.key, the
// control socket, data_dir and replication.ssh_key replaced by its name.
Config resolve_for_node(Config c, const std::string& node);

// Ticks derived once from milliseconds (TigerBeetle style: time in ticks).
struct TickTiming {
  std::uint32_t heartbeat_every_ticks;
  std::uint32_t suspect_after_ticks;
  std::uint32_t suspect_after_ticks_max;
};
TickTiming to_ticks(const Timing& t);

}  // namespace vmrep::config

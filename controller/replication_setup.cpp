// Controller::start_replication(): the snapshot store, one hypervisor
// connection and VmHost per service, and the service agents. Separate from
// controller.cpp because only clusters with services need any of it.
#include "controller/replication_setup.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "controller/controller.hpp"
#include "snapshots/owner.hpp"
#include "vmadapters/libvirt_adapter.hpp"

namespace vmrep::controller {
namespace {

// One line naming the setting, file, its mode and the fix; nullopt when only
// the owner has access.
std::optional<std::string> shared_problem(const std::string& setting, const std::string& path, mode_t mode) {
  if ((mode & 077) == 0) return std::nullopt;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  return setting + " " + path + ": " + ((mode & 044) != 0 ? "readable" : "accessible") +
         " by group or others (mode " + octal + "); fix with: chmod 600 " + path;
}

// Closes the fd on every path out.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

void set_up_store_owner(const std::string& user, const std::filesystem::path& data_dir) {
  if (user.empty()) return snapshots::set_store_owner(std::nullopt);
  const std::string setting = "replication.store_owner";
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  const int rc = ::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error(setting + " '" + user + "': no such user on this host" +
                             (rc != 0 ? std::string(" (") + std::strerror(rc) + ")" : std::string()) +
                             "; create it with: useradd --system --shell /usr/sbin/nologin " + user);
  }
  if (pw.pw_uid == 0) throw std::runtime_error(setting + " '" + user + "' is root: name the SFTP-only account");
  const std::filesystem::path root = data_dir / "snapshots";
  snapshots::set_store_owner(snapshots::StoreOwner{pw.pw_uid, pw.pw_gid, root});
  // The account must reach DATA_DIR/snapshots: search (x) on data_dir, not
  // read. Everything else under data_dir stays root's 0700.
  struct stat st {};
  if (::stat(data_dir.c_str(), &st) == 0 && (st.st_mode & 0001) == 0) {
    const mode_t mode = (st.st_mode & 07777) | 0111;
    if (::chmod(data_dir.c_str(), mode) != 0)
      throw std::runtime_error(setting + ": cannot let '" + user + "' reach " + root.string() + ": chmod " +
                               data_dir.string() + ": " + std::strerror(errno));
    spdlog::info("{}: data_dir {} made searchable (mode {:04o}) so '{}' reaches {}", setting, data_dir.string(),
                 static_cast<unsigned>(mode), user, root.string());
  }
  if (const std::uint64_t n = snapshots::adopt_store_tree())
    spdlog::info("{}: {} entries of {} given to '{}' (uid {})", setting, n, root.string(), user, pw.pw_uid);
}

void refuse_if_shared(const std::string& setting, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if (const auto problem = shared_problem(setting, path, st.st_mode)) throw std::runtime_error(*problem);
}

snapshots::MacKey read_cluster_key(const std::string& path) {
  const std::string setting = "replication.cluster_key";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error(setting + " " + path + ": cannot read it: " + std::strerror(errno) +
                             " (create it with: (umask 077; head -c 32 /dev/urandom > " + path +
                             "), the same file on every host)");
  }
  const FdCloser closer{fd};
  struct stat st {};  // of the file read, not of whatever the name points to later
  if (::fstat(fd, &st) != 0) throw std::runtime_error(setting + " " + path + ": cannot stat: " + std::strerror(errno));
  if (const auto problem = shared_problem(setting, path, st.st_mode)) throw std::runtime_error(*problem);
  snapshots::Bytes key;
  std::uint8_t buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(setting + " " + path + ": cannot read it: " + std::strerror(errno));
    if (n == 0 || key.size() > 1 << 20) break;  // a key is small; do not read a device forever
    key.insert(key.end(), buffer, buffer + n);
  }
  if (key.size() < 32) {
    throw std::runtime_error(setting + " " + path + ": " + std::to_string(key.size()) +
                             " bytes, at least 32 are needed");
  }
  return snapshots::MacKey(std::move(key));
}

void Controller::start_replication() {
  const auto& rep = config_.replication;
  // Absent is reported by the first push (a host may serve without pushing).
  refuse_if_shared("replication.ssh_key", rep.ssh_key);
  snapshots::StoreOptions store_options;
  // Unreferenced chunks live this long: longer than any push takes.
  store_options.gc_grace = std::chrono::seconds(600);
  set_up_store_owner(rep.store_owner, config_.data_dir);
  store_ = std::make_unique<snapshots::Store>(std::filesystem::path(config_.data_dir) / "snapshots",
                                              read_cluster_key(rep.cluster_key), store_options);
  workers_ = std::make_unique<boost::asio::thread_pool>(std::max<std::size_t>(4, 2 * config_.nodes.size()));

  std::map<std::uint32_t, agents::PeerTarget> peers;
  for (std::uint32_t id = 1; id <= config_.nodes.size(); ++id) {
    if (id == self_) continue;
    const auto& n = config_.nodes[id - 1];
    agents::PeerTarget t;
    t.name = n.name;
    t.endpoint.host = n.ssh_host;
    t.endpoint.port = n.ssh_port;
    t.endpoint.user = n.ssh_user;
    t.endpoint.private_key = rep.ssh_key;
    t.endpoint.known_hosts = rep.known_hosts;
    t.endpoint.timeout_ms = rep.ssh_timeout_ms;
    t.remote_root = config_.data_dir_of(n.name) + "/snapshots";
    peers[id] = t;
  }
  std::vector<std::string> names;
  for (const auto& n : config_.nodes) names.push_back(n.name);

  for (std::size_t i = 0; i < config_.services.size(); ++i) {
    const auto& svc = config_.services[i];
    vmadapters::LibvirtOptions lo;
    lo.uri = svc.libvirt_uri;
    lo.fail_if_unreachable = false;
    auto on_event = [name = svc.name](const vmadapters::DomainEvent& e) {
      spdlog::debug("service {}: libvirt event {} {} {}", name, e.domain, vmadapters::to_string(e.kind), e.detail);
    };
    ReplicatedService r;
    r.adapter = std::make_unique<vmadapters::LibvirtAdapter>(lo, io_, on_event);
    r.host = std::make_unique<agents::VmHost>(*r.adapter, *store_, svc.name, svc.domain,
                                              std::filesystem::path(config_.data_dir) / "vms" / svc.name);
    agents::ServiceAgentConfig sc;
    sc.service = svc;
    sc.instance = static_cast<std::uint32_t>(i + 1);
    sc.self = self_;
    sc.names = names;
    sc.peers = peers;
    sc.tick_ms = config_.timing.tick_ms;
    sc.heartbeat_ticks = config::to_ticks(config_.timing).heartbeat_every_ticks;
    r.agent = std::make_unique<agents::ServiceAgent>(sc, *elections_[i + 1], *r.host, *store_, *this, events_, io_,
                                                     *workers_);
    r.agent->start();
    services_.push_back(std::move(r));
  }
}

}  // namespace vmrep::controller

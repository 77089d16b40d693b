// Controller::start_replication(): the snapshot store, one hypervisor
// connection and VmHost per service, and the service agents. Separate from
// controller.cpp because only clusters with services need any of it.
#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>

#include "controller/controller.hpp"
#include "vmadapters/libvirt_adapter.hpp"

namespace vmrep::controller {
namespace {

snapshots::MacKey read_cluster_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("replication.cluster_key " + path + ": cannot read it (create it with: head -c 32 /dev/urandom > " + path + ", the same file on every host)");
  snapshots::Bytes key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.size() < 32)
    throw std::runtime_error("replication.cluster_key " + path + ": " + std::to_string(key.size()) +
                             " bytes, at least 32 are needed");
  return snapshots::MacKey(std::move(key));
}

}  // namespace

void Controller::start_replication() {
  const auto& rep = config_.replication;
  snapshots::StoreOptions store_options;
  // Unreferenced chunks live this long: longer than any push takes.
  store_options.gc_grace = std::chrono::seconds(600);
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
    adapters_.push_back(std::make_unique<vmadapters::LibvirtAdapter>(lo, io_, on_event));
    hosts_.push_back(std::make_unique<agents::VmHost>(*adapters_.back(), *store_, svc.name, svc.domain,
                                                      std::filesystem::path(config_.data_dir) / "vms" / svc.name));
    agents::ServiceAgentConfig sc;
    sc.service = svc;
    sc.instance = static_cast<std::uint32_t>(i + 1);
    sc.self = self_;
    sc.names = names;
    sc.peers = peers;
    sc.tick_ms = config_.timing.tick_ms;
    sc.heartbeat_ticks = config::to_ticks(config_.timing).heartbeat_every_ticks;
    services_.push_back(std::make_unique<agents::ServiceAgent>(sc, *elections_[i + 1], *hosts_.back(), *store_, *this,
                                                               events_, io_, *workers_));
    services_.back()->start();
  }
}

}  // namespace vmrep::controller

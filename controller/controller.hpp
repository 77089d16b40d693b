#pragma once
// vmrepd's one Controller: owns every top-level object of the daemon (peer
// mesh, heartbeat and election agents, control server, event log) and wires
// them. Holds no algorithm: the agents bind the pure core; this only routes.
//
// Contract: constructed, started, stopped and destroyed on the event-loop
// thread, which also runs every callback. No locks.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json_fwd.hpp>

#include "agents/clock.hpp"
#include "agents/election_agent.hpp"
#include "agents/event_log.hpp"
#include "agents/heartbeat_agent.hpp"
#include "agents/peer_sender.hpp"
#include "agents/service_agent.hpp"
#include "agents/vm_host.hpp"
#include "config/config.hpp"
#include "controller/control_server.hpp"
#include "snapshots/store.hpp"
#include "transport/peer_mesh.hpp"
#include "vmadapters/vm_adapter.hpp"

namespace vmrep::controller {

class Controller final : public agents::PeerSender, public agents::ReplicaSender {
 public:
  // `config` already resolved for this node (config::resolve_for_node).
  Controller(boost::asio::io_context& io, config::Config config, std::uint32_t self_id);
  ~Controller() override;

  void start();  // throws std::runtime_error with one line on a start-up failure
  // Clean leave: Goodbye to the peers (they suspect us at once), then close.
  void stop(const std::string& reason);
  // SIGHUP: apply what can change at run time (log level, hooks); name what
  // needs a restart.
  void reload(const config::Config& fresh);

  void send(std::uint32_t to, std::uint32_t instance, const consensus::Message& m) override;
  void send_replica(std::uint32_t to, const wire::Replica& m) override;

  nlohmann::json status() const;
  std::string metrics() const;
  const agents::EventLog& events() const { return events_; }

 private:
  void on_frame(std::uint32_t from, const wire::Frame& frame);
  void on_link(std::uint32_t peer, bool up);
  void tick();
  void register_endpoints();
  void start_replication();  // store, hypervisor connections, service agents
  std::string name_of(std::uint32_t id) const;
  // Logs a warning while fewer than 30 days are left before our certificate's
  // notAfter, an error once it has expired; again every day.
  void check_certificate();
  std::string reload_certificate();

  boost::asio::io_context& io_;
  config::Config config_;
  std::uint32_t self_;
  agents::SystemClock clock_;
  agents::EventLog events_;
  std::unique_ptr<transport::PeerMesh> mesh_;
  std::vector<std::unique_ptr<agents::ElectionAgent>> elections_;  // [0] cluster, [i] service i
  std::unique_ptr<agents::HeartbeatAgent> heartbeat_;
  std::unique_ptr<ControlServer> control_;
  // Replication (only with services). Declared so that destruction joins the
  // workers first, then drops the agents, then what their jobs used.
  std::unique_ptr<snapshots::Store> store_;
  // What replicates one protected service on this host. Members go in
  // reverse: the agent first, then the VM host and the hypervisor
  // connection its jobs used.
  struct ReplicatedService {
    std::unique_ptr<vmadapters::VmAdapter> adapter;
    std::unique_ptr<agents::VmHost> host;
    std::unique_ptr<agents::ServiceAgent> agent;
  };
  std::vector<ReplicatedService> services_;  // [i]: config_.services[i], wire instance and elections_[i + 1]
  std::unique_ptr<boost::asio::thread_pool> workers_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t frames_refused_ = 0;
  std::optional<std::int64_t> cert_not_after_;  // Unix seconds; none in insecure mode or unreadable
  boost::asio::steady_timer cert_timer_;
  bool stopped_ = false;
};

}  // namespace vmrep::controller

#pragma once
// Binds one pure election instance (consensus::Node) to the transport and the
// event log. Instance 0 is the cluster-wide election (which node leads the
// cluster; its failure detector is the node-level view of peer liveness);
// instance i >= 1 elects the primary of service i.
//
// Contract: event-loop thread only. The HeartbeatAgent calls tick() once per
// tick; the controller calls on_message() for each consensus frame of this
// instance and peer_left() on a peer's Goodbye. After each of these the
// agent sends the outbox and turns events into log lines and EventLog
// records, in order.

#include <cstdint>
#include <string>
#include <vector>

#include "agents/event_log.hpp"
#include "agents/peer_sender.hpp"
#include "consensus/node.hpp"

namespace vmrep::agents {

struct ElectionAgentConfig {
  std::uint32_t instance = 0;
  std::string service;             // "" for the cluster election
  std::vector<std::string> names;  // node names, index id-1
  consensus::NodeConfig node;
};

enum class Role { primary, backup, electing };
const char* role_name(Role r);

class ElectionAgent {
 public:
  ElectionAgent(ElectionAgentConfig config, PeerSender& sender, EventLog& events);

  void tick();
  void on_message(std::uint32_t from, const consensus::Message& m);
  void peer_left(std::uint32_t from);
  // Planned switchover (consensus::Node::hand_over): propose `to` while this
  // node is primary, until the cluster decided it or cancel_hand_over().
  void hand_over(std::uint32_t to) { node_.hand_over(to); }
  void cancel_hand_over() { node_.cancel_hand_over(); }

  const consensus::Node& node() const { return node_; }
  const ElectionAgentConfig& config() const { return config_; }
  // primary: this node is the decided primary; backup: it follows a primary
  // it trusts; electing: no primary known, or the one it names is suspected.
  Role role() const;
  std::string name_of(consensus::NodeId id) const;
  std::uint64_t primary_changes() const { return primary_changes_; }
  std::uint64_t messages_sent() const { return messages_sent_; }

 private:
  void flush();
  void note(const consensus::Event& e);
  std::string label() const;

  ElectionAgentConfig config_;
  PeerSender& sender_;
  EventLog& events_;
  consensus::Node node_;
  Role last_role_ = Role::electing;
  std::uint64_t primary_changes_ = 0;
  std::uint64_t messages_sent_ = 0;
};

}  // namespace vmrep::agents

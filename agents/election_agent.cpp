#include "agents/election_agent.hpp"

#include <spdlog/spdlog.h>

namespace vmrep::agents {

const char* role_name(Role r) {
  switch (r) {
    case Role::primary: return "primary";
    case Role::backup: return "backup";
    case Role::electing: return "electing";
  }
  return "?";
}

ElectionAgent::ElectionAgent(ElectionAgentConfig config, PeerSender& sender, EventLog& events)
    : config_(std::move(config)), sender_(sender), events_(events), node_(config_.node) {}

std::string ElectionAgent::name_of(consensus::NodeId id) const {
  if (id == consensus::kNoNode || id > config_.names.size()) return "";
  return config_.names[id - 1];
}

std::string ElectionAgent::label() const {
  return config_.service.empty() ? "cluster" : "service " + config_.service;
}

Role ElectionAgent::role() const {
  consensus::NodeId p = node_.primary();
  if (p == consensus::kNoNode || node_.detector().suspects(p)) return Role::electing;
  return p == node_.self() ? Role::primary : Role::backup;
}

void ElectionAgent::tick() {
  node_.tick();
  flush();
}

void ElectionAgent::on_message(std::uint32_t from, const consensus::Message& m) {
  node_.step(from, m);
  flush();
}

void ElectionAgent::peer_left(std::uint32_t from) {
  node_.peer_left(from);
  flush();
}

void ElectionAgent::flush() {
  for (const auto& e : node_.take_outbox()) {
    sender_.send(e.to, config_.instance, e.msg);
    ++messages_sent_;
  }
  for (const auto& e : node_.take_events()) note(e);
  Role now = role();
  if (now != last_role_) {
    spdlog::info("{}: role {} -> {} (primary {}, epoch {})", label(), role_name(last_role_), role_name(now),
                 name_of(node_.primary()).empty() ? "none" : name_of(node_.primary()), node_.key().epoch);
    events_.record(config_.service, "role_changed", std::string(role_name(last_role_)) + " -> " + role_name(now),
                   {.from = role_name(last_role_), .to = role_name(now)});
    last_role_ = now;
  }
}

void ElectionAgent::note(const consensus::Event& e) {
  using namespace consensus;
  if (auto* s = std::get_if<Suspected>(&e)) {
    spdlog::info("{}: suspect {}", label(), name_of(s->peer));
    events_.record(config_.service, "suspected", name_of(s->peer), {.peer = name_of(s->peer)});
  } else if (auto* t = std::get_if<Trusted>(&e)) {
    spdlog::info("{}: trust {} again (timeout now {} ticks)", label(), name_of(t->peer), t->timeout_ticks);
    events_.record(config_.service, "trusted",
                   name_of(t->peer) + ", timeout now " + std::to_string(t->timeout_ticks) + " ticks",
                   {.peer = name_of(t->peer)});
  } else if (auto* p = std::get_if<PrimaryChanged>(&e)) {
    ++primary_changes_;
    std::string before = p->before == kNoNode ? "none" : name_of(p->before);
    std::string after = p->after == kNoNode ? "none" : name_of(p->after);
    spdlog::info("{}: primary {} -> {} (epoch {})", label(), before, after, node_.key().epoch);
    events_.record(config_.service, "primary_changed", before + " -> " + after, {.from = before, .to = after});
  } else if (auto* d = std::get_if<Decided>(&e); d && d->as_coordinator) {
    spdlog::debug("{}: decided {} for epoch {}", label(), name_of(static_cast<NodeId>(d->decision.value)),
                  d->decision.epoch);
  }
}

}  // namespace vmrep::agents

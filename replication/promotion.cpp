#include "replication/promotion.hpp"

namespace vmrep::replication {

Promotion::Promotion(std::uint64_t now_tick, std::optional<NodeId> old_primary)
    : started_tick_(now_tick), old_primary_(old_primary), phase_(Querying{now_tick}) {}

Promotion::Next Promotion::tick(std::uint64_t now_tick, const std::vector<PeerHeard>& peers,
                                const ServiceTiming& timing) const {
  auto suspected = [&peers](NodeId id) {
    for (const auto& p : peers)
      if (p.id == id) return p.suspected;
    return true;  // not a peer we know: as good as gone
  };
  if (const auto* q = std::get_if<Querying>(&phase_)) {
    // Every trusted peer answered since the query, or the wait is over.
    bool all_answered = true;
    for (const auto& p : peers)
      if (!p.suspected && p.heard_tick < q->since_tick) all_answered = false;
    return all_answered || now_tick >= q->since_tick + timing.query_wait_ticks ? Next::choose : Next::wait;
  }
  if (std::holds_alternative<Choosing>(phase_)) return Next::choose;
  // A holder that cannot push says so at once (refused); the deadline covers
  // one that died or went silent meanwhile.
  if (const auto* p = std::get_if<Pulling>(&phase_))
    return now_tick >= p->deadline_tick || suspected(p->from) ? Next::pull_failed : Next::wait;
  if (const auto* h = std::get_if<HandingOver>(&phase_))
    return now_tick >= h->deadline_tick || suspected(h->to) ? Next::handover_expired : Next::wait;
  return Next::wait;  // deciding, restoring: a job runs and its result moves the phase
}

void Promotion::handing_over(const HandOver& h, std::uint64_t now_tick, const ServiceTiming& timing) {
  phase_ = HandingOver{h.to, h.holds, now_tick + timing.handover_timeout_ticks};
}

void Promotion::deciding(const Fetch& f) { phase_ = Deciding{f.target}; }

void Promotion::pulling(const Pull& p, std::uint64_t now_tick, const ServiceTiming& timing) {
  phase_ = Pulling{p.from, p.version, now_tick + timing.pull_timeout_ticks};
}

void Promotion::restoring(std::optional<Version> target) { phase_ = Restoring{target}; }

bool Promotion::pushed(NodeId from, Version v) {
  const auto* p = std::get_if<Pulling>(&phase_);
  if (!p || p->from != from || p->version != v) return false;
  phase_ = Restoring{v};
  return true;
}

bool Promotion::refused(NodeId from, Version v) {
  const auto* p = std::get_if<Pulling>(&phase_);
  if (!p || p->from != from || p->version != v) return false;
  pull_failed();
  return true;
}

void Promotion::pull_failed() {
  if (const auto* p = std::get_if<Pulling>(&phase_)) pulls_tried_.insert(p->from);
  phase_ = Choosing{};
}

void Promotion::handover_expired() {
  if (const auto* h = std::get_if<HandingOver>(&phase_)) handovers_tried_.insert(h->to);
  phase_ = Choosing{};
}

std::optional<Version> Promotion::target() const {
  if (const auto* d = std::get_if<Deciding>(&phase_)) return d->target;
  if (const auto* p = std::get_if<Pulling>(&phase_)) return p->version;
  if (const auto* r = std::get_if<Restoring>(&phase_)) return r->target;
  return std::nullopt;
}

NodeId Promotion::pull_from() const {
  const auto* p = std::get_if<Pulling>(&phase_);
  return p ? p->from : kNoNode;
}

NodeId Promotion::handing_to() const {
  const auto* h = std::get_if<HandingOver>(&phase_);
  return h ? h->to : kNoNode;
}

}  // namespace vmrep::replication

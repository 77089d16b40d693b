#include "replication/source_choice.hpp"

#include <algorithm>

namespace vmrep::replication {
namespace {

const PeerHolding* find_peer(const Survivors& s, NodeId id) {
  for (const auto& p : s.peers)
    if (p.id == id) return &p;
  return nullptr;
}

bool holds(const std::vector<Version>& versions, Version v) {
  return std::find(versions.begin(), versions.end(), v) != versions.end();
}

// Peers in id order, so that ties go to the lowest id whatever order the
// caller listed them in (and the host itself wins a tie against every peer).
std::vector<const PeerHolding*> by_id(const Survivors& s) {
  std::vector<const PeerHolding*> out;
  for (const auto& p : s.peers) out.push_back(&p);
  std::sort(out.begin(), out.end(), [](const PeerHolding* a, const PeerHolding* b) { return a->id < b->id; });
  return out;
}

// A live peer whose pull was refused (it cannot send) and that holds a newer
// version than `reachable`, the newest we can fetch; not one already tried.
std::optional<HandOver> holder_to_hand_over_to(const Survivors& s, std::optional<Version> reachable) {
  std::optional<HandOver> best;
  std::optional<Version> kept = reachable;
  for (NodeId id : s.pulls_tried) {
    const PeerHolding* p = find_peer(s, id);
    if (!p || p->suspected || s.handovers_tried.count(id) || !p->newest) continue;
    if (!kept || *p->newest > *kept) {
      kept = p->newest;
      best = HandOver{id, *p->newest};
    }
  }
  return best;
}

std::optional<CommittedLoss> committed_left_behind(const Survivors& s, std::optional<Version> best) {
  std::optional<Version> committed = s.own_committed;
  for (const auto& p : s.peers)
    if (p.committed && (!committed || *p.committed > *committed)) committed = p.committed;
  if (!committed || (best && *best >= *committed)) return std::nullopt;
  CommittedLoss loss{*committed, {}, best};
  if (holds(s.own_versions, *committed)) loss.holders.push_back({s.self, true});
  for (const PeerHolding* p : by_id(s))
    if (holds(p->versions, *committed)) loss.holders.push_back({p->id, !p->suspected});
  return loss;
}

}  // namespace

SourceChoice choose_source(const Survivors& s) {
  std::optional<Version> best = s.own_newest;
  NodeId from = kNoNode;
  for (const PeerHolding* p : by_id(s)) {
    if (p->suspected || s.pulls_tried.count(p->id) || !p->newest) continue;
    if (!best || *p->newest > *best) {
      best = p->newest;
      from = p->id;
    }
  }
  if (auto h = holder_to_hand_over_to(s, best)) return *h;
  Fetch f;
  f.target = best;
  f.from = from;
  f.use_prepared = s.prepared && from == kNoNode && best == s.prepared;
  f.drop_prepared = s.prepared && !f.use_prepared;
  f.loss = committed_left_behind(s, best);
  return f;
}

PromotionDecision decide_promotion(const Fetch& choice, VmHere vm, Mode mode) {
  // Our VM still runs: it is newer than any checkpoint of it.
  if (vm == VmHere::running) return {ServeRunning{}, std::nullopt};
  std::optional<CommittedLoss> record;
  if (choice.loss) {
    if (mode == Mode::quorum) return {FailPromotion{FailKind::committed_unreachable, choice.loss}, std::nullopt};
    record = choice.loss;
  }
  if (vm == VmHere::prepared) return {ResumePrepared{}, record};
  if (!choice.target) {
    if (vm == VmHere::startable) return {StartDefined{}, record};
    return {FailPromotion{FailKind::nothing_to_serve, std::nullopt}, record};
  }
  if (choice.from != kNoNode) return {Pull{choice.from, *choice.target}, record};
  return {RestoreHere{*choice.target}, record};
}

}  // namespace vmrep::replication

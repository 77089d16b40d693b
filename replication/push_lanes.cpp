#include "replication/push_lanes.hpp"

namespace vmrep::replication {

const char* to_string(PushPlanning p) { return p == PushPlanning::listing ? "listing" : "from_holdings"; }

StartPush PushLanes::start(Lane& lane, StartPush push) {
  lane.in_flight = push;
  return push;
}

const PushLanes::Lane* PushLanes::find(NodeId peer) const {
  const auto it = lanes_.find(peer);
  return it == lanes_.end() ? nullptr : &it->second;
}

std::vector<StartPush> PushLanes::checkpointed(Version v, const std::vector<NodeId>& backups,
                                               const std::set<NodeId>& suspected) {
  std::vector<StartPush> out;
  for (NodeId b : backups) {
    Lane& lane = lanes_[b];
    if (suspected.count(b) || lane.in_flight) continue;
    out.push_back(start(lane, StartPush{b, v, false}));
  }
  return out;
}

std::optional<StartPush> PushLanes::pulled(NodeId from, Version v) {
  Lane& lane = lanes_[from];
  if (!lane.in_flight) return start(lane, StartPush{from, v, true});
  lane.queued = StartPush{from, v, true};
  return std::nullopt;
}

void PushLanes::queue(NodeId to, Version v) {
  Lane& lane = lanes_[to];
  if (lane.in_flight) lane.queued = StartPush{to, v, false};
}

PushOutcome PushLanes::done(NodeId peer, Version v, bool ok) {
  Lane& lane = lanes_[peer];
  PushOutcome out;
  if (!ok && lane.in_flight && lane.in_flight->answers_pull) out.refuse_pull = v;
  lane.in_flight.reset();
  if (lane.queued) {
    const StartPush next = *lane.queued;
    lane.queued.reset();
    if (next.v != v || !ok) out.next = start(lane, next);
  }
  return out;
}

void PushLanes::acknowledged(NodeId from, Version v) {
  Lane& lane = lanes_[from];
  lane.last_ok = v;
  lane.planning = PushPlanning::from_holdings;
}

void PushLanes::refused(NodeId from) { lanes_[from].planning = PushPlanning::listing; }

bool PushLanes::busy(NodeId peer) const {
  const Lane* lane = find(peer);
  return lane && lane->in_flight;
}

std::optional<Version> PushLanes::in_flight(NodeId peer) const {
  const Lane* lane = find(peer);
  return lane && lane->in_flight ? std::optional<Version>(lane->in_flight->v) : std::nullopt;
}

std::optional<Version> PushLanes::last_acknowledged(NodeId peer) const {
  const Lane* lane = find(peer);
  return lane ? lane->last_ok : std::nullopt;
}

PushPlanning PushLanes::planning(NodeId peer) const {
  const Lane* lane = find(peer);
  return lane ? lane->planning : PushPlanning::from_holdings;
}

}  // namespace vmrep::replication

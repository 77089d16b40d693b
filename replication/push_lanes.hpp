#pragma once
// Which version goes to which backup, and when: one push at a time per
// backup (a lane), never waiting for a slow one. Pure: the agent starts each
// StartPush as a job and reports it with done().
//
//   checkpointed(v):  every idle, unsuspected backup gets v; a busy or
//                     suspected one is skipped (its next push sends all it
//                     lacks).
//   pulled(from, v):  a promoting host asks for v: pushed now if its lane is
//                     idle, else queued behind the push in flight (a failed
//                     pull push refuses the pull).
//   queue(to, v):     a switchover's final version for a busy target.
//   done(peer, v, ok): the lane is free; the queued version, if any, goes
//                     next (not again when it is the one just pushed, unless
//                     that push failed).
//   acknowledged / refused: how the next push plans — from what the backup
//                     acknowledged and lists, or by listing its store after a
//                     refusal (it may have lost chunks).
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "replication/types.hpp"

namespace vmrep::replication {

struct StartPush {
  NodeId to = kNoNode;
  Version v;
  bool answers_pull = false;  // on failure, refuse the pull
  friend bool operator==(const StartPush&, const StartPush&) = default;
};

enum class PushPlanning {
  from_holdings,  // what it acknowledged and lists in its inventory (a few round trips)
  listing,        // it refused a version: list its store until it acknowledges again
};

struct PushOutcome {
  std::optional<StartPush> next;        // start this push now
  std::optional<Version> refuse_pull;   // the failed push answered a pull: refuse it
};

class PushLanes {
 public:
  // `suspected`: backups the failure detector suspects now.
  std::vector<StartPush> checkpointed(Version v, const std::vector<NodeId>& backups, const std::set<NodeId>& suspected);
  std::optional<StartPush> pulled(NodeId from, Version v);
  void queue(NodeId to, Version v);
  PushOutcome done(NodeId peer, Version v, bool ok);

  void acknowledged(NodeId from, Version v);
  void refused(NodeId from);

  bool busy(NodeId peer) const;
  std::optional<Version> in_flight(NodeId peer) const;
  std::optional<Version> last_acknowledged(NodeId peer) const;
  PushPlanning planning(NodeId peer) const;

 private:
  struct Lane {
    std::optional<StartPush> in_flight;
    std::optional<StartPush> queued;
    std::optional<Version> last_ok;
    PushPlanning planning = PushPlanning::from_holdings;
  };
  StartPush start(Lane& lane, StartPush push);
  const Lane* find(NodeId peer) const;

  std::map<NodeId, Lane> lanes_;
};

const char* to_string(PushPlanning p);

}  // namespace vmrep::replication

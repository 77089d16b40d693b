#pragma once
// Versions peers push to this host (in any role): each arrives whole in
// incoming/ and is announced by a Pushed message; the host takes it into its
// store and verifies it (one accept job at a time: they share the store's
// incoming/ and its verified-chunk cache), then acknowledges it to its pusher.
// Pure: the agent runs each AcceptJob and reports its end with accepted().
//
// Per pusher only its newest announced version waits: an older one is
// superseded and gets no ack of its own (the accept takes every complete
// version in incoming/ anyway; the primary plans from the newer one's ack).
#include <map>
#include <optional>

#include "replication/types.hpp"

namespace vmrep::replication {

struct AcceptJob {
  NodeId from = kNoNode;
  Version v;
  friend bool operator==(const AcceptJob&, const AcceptJob&) = default;
};

class Intake {
 public:
  // A Pushed message (its claim already believed): the job to start now, if
  // no accept runs.
  std::optional<AcceptJob> pushed(NodeId from, Version v);
  // The running accept ended: the next job to start, if any waits.
  std::optional<AcceptJob> accepted();
  // No accept runs and none waits (a backup then refreshes its standby).
  bool idle() const { return !accepting_ && waiting_.empty(); }

 private:
  std::optional<AcceptJob> next();

  std::map<NodeId, Version> waiting_;  // lowest node id first
  bool accepting_ = false;
};

}  // namespace vmrep::replication

#pragma once
// The failover's source rule (the paper's case 6: fetch the newest version
// among the survivors, then boot; never boot an old one and reboot), as pure
// functions of what the promoting host knows. The agent gathers the
// survivors' inventories, calls choose_source(), queries its VM when the
// choice is a Fetch, and acts on decide_promotion()'s answer.
//
//   choose_source:  newest among this host and the trusted peers not yet
//                   tried → HandOver to a live holder whose pull was refused
//                   and who holds something newer than what we can fetch;
//                   else Fetch (from a peer, or here) with any committed
//                   version that this leaves behind.
//   decide_promotion: the VM already running here wins (it is newer than any
//                   checkpoint of it); a committed version left behind fails
//                   the promotion in quorum mode and is recorded in
//                   availability mode; then the prepared restore, the pull,
//                   the local restore, or starting the defined domain.
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "replication/types.hpp"

namespace vmrep::replication {

// What one peer reported in its last inventory, and whether the failure
// detector suspects it now.
struct PeerHolding {
  NodeId id = kNoNode;
  bool suspected = false;
  std::optional<Version> newest, committed;
  std::vector<Version> versions;  // every version it holds (bounded by the inventory)
};

struct Survivors {
  NodeId self = kNoNode;
  std::optional<Version> own_newest, own_committed;
  std::vector<Version> own_versions;
  std::vector<PeerHolding> peers;     // every other node
  std::set<NodeId> pulls_tried;       // refused or timed out during this promotion
  std::set<NodeId> handovers_tried;   // handed the service and not decided in time
  std::optional<Version> prepared;    // restored paused here ahead of the decision
};

struct Holder {
  NodeId id = kNoNode;
  bool reachable = true;
  friend bool operator==(const Holder&, const Holder&) = default;
};

// The newest version any host reported committed is newer than the newest
// we can fetch: serving on loses it.
struct CommittedLoss {
  Version committed;
  std::vector<Holder> holders;               // who reported holding it (self included)
  std::optional<Version> newest_reachable;   // what the promotion would serve
  friend bool operator==(const CommittedLoss&, const CommittedLoss&) = default;
};

// A live host holds a newer version than we can fetch (its pull was
// refused): the election hands the service to it.
struct HandOver {
  NodeId to = kNoNode;
  Version holds;
  friend bool operator==(const HandOver&, const HandOver&) = default;
};

struct Fetch {
  std::optional<Version> target;  // none: no checkpoint on any survivor
  NodeId from = kNoNode;          // kNoNode: the version is here
  bool use_prepared = false;      // the prepared restore is of the target: resume it
  bool drop_prepared = false;     // a prepared restore of another version: power it off first
  std::optional<CommittedLoss> loss;
  friend bool operator==(const Fetch&, const Fetch&) = default;
};

using SourceChoice = std::variant<HandOver, Fetch>;
SourceChoice choose_source(const Survivors& s);

// The VM of the service on this host when the promotion queried it.
enum class VmHere {
  absent,     // not running and no defined domain to start
  startable,  // defined and shut off
  running,    // running (first start, or kept serving through a partition)
  prepared,   // the prepared restore, paused, of the chosen version
};

struct ServeRunning {};                       // hooks, then serve the VM as it runs
struct ResumePrepared {};                     // hooks, then resume the prepared restore
struct StartDefined {};                       // hooks, then start the defined domain
struct Pull { NodeId from; Version version; };  // ask the holder to push it
struct RestoreHere { Version version; };      // hooks, then restore it
enum class FailKind { committed_unreachable, nothing_to_serve };
struct FailPromotion {
  FailKind kind;
  std::optional<CommittedLoss> loss;  // with committed_unreachable
};

using PromotionStep = std::variant<ServeRunning, ResumePrepared, StartDefined, Pull, RestoreHere, FailPromotion>;

struct PromotionDecision {
  PromotionStep step;
  // Availability mode serves on and records this as committed_version_lost.
  std::optional<CommittedLoss> record_loss;
};

PromotionDecision decide_promotion(const Fetch& choice, VmHere vm, Mode mode);

}  // namespace vmrep::replication

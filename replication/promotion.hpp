#pragma once
// A promotion in progress (the "restoring" role): which phase it is in, whom
// it already tried, and when it gives up waiting. Pure: the agent calls
// tick() each consensus tick while no VM job of the service runs, and the
// transition functions as the source rule's choices and the peers' answers
// arrive.
//
//   querying ──answers or wait──> choosing ──Fetch──> deciding ──Pull──> pulling ──pushed──> restoring
//                                    ^  │                 │                 │
//                                    │  └─HandOver─> handing_over           │ refused, timed out,
//                                    │                    │ not decided      │ or the holder suspected
//                                    └────────────────────┴──────────────────┘
//   deciding ──serve / resume / start / restore here──> restoring
#include <cstdint>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "replication/source_choice.hpp"
#include "replication/timing.hpp"
#include "replication/types.hpp"

namespace vmrep::replication {

// A peer as the failure detector and the inventories see it now.
struct PeerHeard {
  NodeId id = kNoNode;
  bool suspected = false;
  std::uint64_t heard_tick = 0;  // when its last inventory arrived
};

class Promotion {
 public:
  struct Querying { std::uint64_t since_tick; };         // waiting for the survivors' inventories
  struct Choosing {};                                   // ready to run the source rule (again)
  struct Deciding { std::optional<Version> target; };   // the VM here is being queried
  struct Pulling { NodeId from; Version version; std::uint64_t deadline_tick; };
  struct HandingOver { NodeId to; Version holds; std::uint64_t deadline_tick; };
  struct Restoring { std::optional<Version> target; };  // hooks, restore or resume; none: the running VM
  using Phase = std::variant<Querying, Choosing, Deciding, Pulling, HandingOver, Restoring>;

  enum class Next {
    wait,              // nothing to do this tick
    choose,            // run choose_source() now
    pull_failed,       // the holder did not push in time or is suspected: pull_failed(), then choose
    handover_expired,  // the holder was not decided in time or is suspected: handover_expired(), then choose
  };

  Promotion(std::uint64_t now_tick, std::optional<NodeId> old_primary);

  Next tick(std::uint64_t now_tick, const std::vector<PeerHeard>& peers, const ServiceTiming& timing) const;

  // The source rule chose: a hand-over, or a version and where it comes from.
  void handing_over(const HandOver& h, std::uint64_t now_tick, const ServiceTiming& timing);
  void deciding(const Fetch& f);
  // decide_promotion() answered: ask `from` to push, or restore/serve here.
  void pulling(const Pull& p, std::uint64_t now_tick, const ServiceTiming& timing);
  void restoring(std::optional<Version> target);
  // The awaited pull arrived (true: it is the one we asked for; now restoring).
  bool pushed(NodeId from, Version v);
  // `from` refused the pull (true: it was the one we asked; now choosing without it).
  bool refused(NodeId from, Version v);
  void pull_failed();
  void handover_expired();

  const Phase& phase() const { return phase_; }
  const std::set<NodeId>& pulls_tried() const { return pulls_tried_; }
  const std::set<NodeId>& handovers_tried() const { return handovers_tried_; }
  std::optional<NodeId> old_primary() const { return old_primary_; }
  std::uint64_t started_tick() const { return started_tick_; }
  // The version the promotion restores or fetches (none while querying, and
  // when it serves the VM that runs here).
  std::optional<Version> target() const;
  NodeId pull_from() const;
  NodeId handing_to() const;

 private:
  std::uint64_t started_tick_;
  std::optional<NodeId> old_primary_;  // the primary to fence
  Phase phase_;
  std::set<NodeId> pulls_tried_, handovers_tried_;
};

}  // namespace vmrep::replication

#pragma once
// What a Node reports to its owner after tick()/step(). The owner drains them
// with Node::take_events() and acts on them (logs, role changes) in order.

#include <variant>

#include "consensus/types.hpp"

namespace vmrep::consensus {

struct Suspected {
  NodeId peer = kNoNode;
  friend bool operator==(const Suspected&, const Suspected&) = default;
};

// A suspected peer was heard again: the suspicion was false, so its timeout
// grew to `timeout_ticks` (eventual weak accuracy).
struct Trusted {
  NodeId peer = kNoNode;
  std::uint32_t timeout_ticks = 0;
  friend bool operator==(const Trusted&, const Trusted&) = default;
};

// This node decided (as coordinator) or adopted a decision for an epoch.
struct Decided {
  Decision decision;
  bool as_coordinator = false;
  friend bool operator==(const Decided&, const Decided&) = default;
};

// The primary this node believes in changed (kNoNode: none known).
struct PrimaryChanged {
  NodeId before = kNoNode;
  NodeId after = kNoNode;
  friend bool operator==(const PrimaryChanged&, const PrimaryChanged&) = default;
};

using Event = std::variant<Suspected, Trusted, Decided, PrimaryChanged>;

}  // namespace vmrep::consensus

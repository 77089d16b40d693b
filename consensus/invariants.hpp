#pragma once
// Invariants of one node, as code (LogCabin's RaftConsensusInvariants,
// TigerBeetle's invariants()). The simulator runs them after every step of
// every node; a non-empty result is a violation, described in one line.
//  - check_state: what must hold of any state after the node handled an input
//    (whatever it was loaded with before).
//  - check_transition: what must hold between two consecutive states, e.g.
//    the key (epoch, round) never goes backwards except by the bounded-counter
//    wrap at kEpochLimit.

#include <string>
#include <vector>

#include "consensus/node.hpp"

namespace vmrep::consensus::invariants {

void check_state(const Node& node, std::vector<std::string>& out);
// `before` and `wraps_before`: the node's key() and instance().wraps() before the step.
void check_transition(Key before, std::uint64_t wraps_before, const Node& after, std::vector<std::string>& out);

}  // namespace vmrep::consensus::invariants

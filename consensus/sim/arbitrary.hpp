#pragma once
// Arbitrary states and messages for self-stabilization runs: "any initial
// state" drawn from a seed. Values favour the edges (zero, small, huge, just
// below the counter limits, out of range) where bugs live.

#include "consensus/message.hpp"
#include "consensus/node.hpp"
#include "consensus/sim/rng.hpp"

namespace vmrep::consensus::sim {

NodeState arbitrary_state(Rng& rng, const NodeConfig& config);
Message arbitrary_message(Rng& rng, const NodeConfig& config);

}  // namespace vmrep::consensus::sim

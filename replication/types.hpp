#pragma once
// Vocabulary of the replication core (replication/): node ids, modes and the
// version order it reasons about. Pure: no I/O, clock, threads or randomness
// anywhere under replication/ (tests/purity_check.cmake enforces the
// includes); time arrives as ticks, the world as inputs.
#include <cstdint>

#include "snapshots/manifest.hpp"

namespace vmrep::replication {

using NodeId = std::uint32_t;  // 1-based, as in the consensus and on the wire
constexpr NodeId kNoNode = 0;
using snapshots::Version;

// What a service does when the newest committed version cannot be reached.
enum class Mode {
  availability,  // serve the newest reachable version and record the loss
  quorum,        // serve nothing older: wait for a holder to come back
};

}  // namespace vmrep::replication

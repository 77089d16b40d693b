#pragma once
// Invariants of one host's replication state, as code (like
// consensus/invariants.hpp). The agent checks them after every input in debug
// builds (a violation is logged as an error and recorded as an
// `invariant_violated` event); the whole-system simulator will run them after
// every step. A non-empty result is a violation, one line each.
//
//  - committed ≤ newest held: a host records as committed only a version it
//    holds, and keeps what it committed;
//  - a serving host's term ≥ the term of every version it knows (held or
//    believed from a peer): its next checkpoint orders after all of them, so a
//    later failover cannot take an older branch for the newest;
//  - every version it knows is within the format's limit (a claim past 2^62
//    was believed: term + 1 could wrap).
#include <optional>
#include <string>
#include <vector>

#include "replication/roles.hpp"
#include "replication/types.hpp"

namespace vmrep::replication {

struct HostFacts {
  ServiceState state = ServiceState::backup;
  std::optional<Version> newest_held;    // newest version in this host's store
  std::optional<Version> committed;      // newest version it records as committed
  std::uint64_t term = 0;                // the term its next checkpoint takes (while serving)
  std::optional<Version> highest_known;  // newest version held here or believed held by a peer
};

void check_host(const HostFacts& facts, std::vector<std::string>& out);

}  // namespace vmrep::replication

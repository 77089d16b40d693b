#pragma once
// Value types shared by the pure consensus core. No I/O, clock, thread or
// randomness anywhere under consensus/ (except consensus/sim/, the test rig).
//
// Node ids are 1-based, 1..n, as in the paper. The paper names the
// coordinator of round r as "the node i with i == r mod n"; with 1-based ids
// we use coordinator(r) = (r mod n) + 1, so round 0 is led by node 1.

#include <compare>
#include <cstdint>
#include <vector>

namespace vmrep::consensus {

using NodeId = std::uint32_t;
using Value = std::uint64_t;

// No node has id 0; it marks "no value / unknown".
inline constexpr NodeId kNoNode = 0;

// Counters above these limits cannot be reached by a running cluster (one
// epoch a millisecond would take 146,000 years to reach 2^62); a value past
// them can only come from corrupted state or a corrupted message. The core
// wraps its own state back to zero there and drops such messages, which keeps
// every counter bounded as self-stabilization with 64-bit integers requires.
inline constexpr std::uint64_t kEpochLimit = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kRoundLimit = std::uint64_t{1} << 62;
// Epochs this close below the limit belong to the era before a wrap. Right
// after its key wraps, a node ignores messages from that era for a while
// (InstanceConfig::wrap_guard_ticks): they are still in flight, and taking
// their higher key again would undo the wrap, again and again.
inline constexpr std::uint64_t kWrapZone = std::uint64_t{1} << 32;

// (epoch, round), ordered lexicographically: the paper's "highest" test.
struct Key {
  std::uint64_t epoch = 0;
  std::uint64_t round = 0;
  friend auto operator<=>(const Key&, const Key&) = default;
  friend bool operator==(const Key&, const Key&) = default;
};

inline bool key_in_range(Key k) {
  return k.epoch < kEpochLimit && k.round < kRoundLimit;
}

inline NodeId coordinator_of(std::uint64_t round, std::uint32_t n) {
  return static_cast<NodeId>(round % n) + 1;
}

struct Decision {
  std::uint64_t epoch = 0;
  Value value = 0;
  friend bool operator==(const Decision&, const Decision&) = default;
};

// The paper's decided sequence s_i, kept bounded: the newest `window`
// decisions in the order they were made, plus a digest and count of every
// decision that scrolled out. Memory does not grow with uptime.
struct DecidedLog {
  std::vector<Decision> recent;  // oldest first, newest last
  std::uint64_t evicted_digest = 0;
  std::uint64_t evicted_count = 0;
  friend bool operator==(const DecidedLog&, const DecidedLog&) = default;
};

}  // namespace vmrep::consensus

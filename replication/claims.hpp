#pragma once
// How far this node believes a peer's claims about versions. A node with a
// valid certificate can still lie (or carry corrupted state): a term it
// claims is adopted by fresh_term() and picks the failover's source, so a
// claim past the format's limit, or far beyond anything this node knows, is
// ignored (and logged by the caller) instead of believed.
#include <cstdint>
#include <optional>

#include "replication/types.hpp"

namespace vmrep::replication {

// Terms come from election epochs, plus one for each promotion that found a
// higher term already held: a live cluster stays within this of the highest
// epoch or held term a member knows. 2^32 promotions without an epoch change
// do not happen; a liar needs 2^30 such steps to push terms to the limit.
inline constexpr std::uint64_t kTermReach = std::uint64_t{1} << 32;

enum class ClaimVerdict {
  believable,
  past_limit,     // term or seq at or past 2^62 (snapshots::version_part_limit)
  too_far_ahead,  // term more than kTermReach above what this node knows
};
const char* to_string(ClaimVerdict v);

// `known_term`: the highest of this node's election epoch and the terms it
// holds itself (never raised by what peers merely claim, so a liar cannot
// ratchet it).
ClaimVerdict judge_claim(Version claimed, std::uint64_t known_term);

// A term that orders after every version known here: the election's epoch,
// but above the highest term known. Saturates at the limit minus one: with
// judge_claim() guarding what is known, it never wraps.
std::uint64_t fresh_term(std::uint64_t epoch, const std::optional<Version>& highest_known);

}  // namespace vmrep::replication

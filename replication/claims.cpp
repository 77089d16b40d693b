#include "replication/claims.hpp"

#include <algorithm>

namespace vmrep::replication {

const char* to_string(ClaimVerdict v) {
  switch (v) {
    case ClaimVerdict::believable: return "believable";
    case ClaimVerdict::past_limit: return "past the limit of 2^62";
    case ClaimVerdict::too_far_ahead: return "far beyond every term this node knows";
  }
  return "?";
}

ClaimVerdict judge_claim(Version claimed, std::uint64_t known_term) {
  if (!snapshots::valid_version(claimed)) return ClaimVerdict::past_limit;
  const std::uint64_t reach = known_term >= snapshots::version_part_limit - kTermReach
                                  ? snapshots::version_part_limit
                                  : known_term + kTermReach;
  return claimed.term > reach ? ClaimVerdict::too_far_ahead : ClaimVerdict::believable;
}

std::uint64_t fresh_term(std::uint64_t epoch, const std::optional<Version>& highest_known) {
  constexpr std::uint64_t top = snapshots::version_part_limit - 1;
  const std::uint64_t above = highest_known ? std::min(highest_known->term, top - 1) + 1 : 1;
  return std::min(std::max(epoch, above), top);
}

}  // namespace vmrep::replication

#pragma once
// Operations on the bounded decided sequence s_i.

#include <cstdint>

#include "consensus/types.hpp"

namespace vmrep::consensus::decided_log {

// Appends `d`; entries beyond `window` scroll out into the digest.
void append(DecidedLog& log, Decision d, std::uint32_t window);
// Drops the oldest entries until at most `window` remain (into the digest).
void truncate(DecidedLog& log, std::uint32_t window);
// True when epochs strictly increase and all lie below `next_epoch`: the
// shape of every log a correct node can hold at key epoch `next_epoch`.
bool well_formed(const DecidedLog& log, std::uint64_t next_epoch);
// Drops entries until well_formed(log, next_epoch) holds: first every entry
// at or above `next_epoch` (decisions cannot come from the future), then all
// before the newest break in the increasing run.
void repair(DecidedLog& log, std::uint64_t next_epoch);
// The value decided for `epoch`, newest entry first; nullptr when absent.
const Decision* find(const DecidedLog& log, std::uint64_t epoch);

}  // namespace vmrep::consensus::decided_log

#pragma once
// The FastCDC gear table: 256 random 64-bit values, one per byte value.
// Generated once and committed (gear_table.cpp) so chunk boundaries, and so
// chunk ids, never change between builds, hosts or releases: changing a
// single value would make every stored chunk useless for deduplication.

#include <array>
#include <cstdint>

namespace vmrep::snapshots {

extern const std::array<std::uint64_t, 256> gear_table;

// The seed gear_table was generated from: value i is the (i+1)-th output of
// splitmix64 started at this state. A unit test re-derives the table.
inline constexpr std::uint64_t gear_table_seed = 0x766d7265702d6364ULL;  // "vmrep-cd"

}  // namespace vmrep::snapshots

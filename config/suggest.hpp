#pragma once
// Internal to config/: "did you mean" for misspelt keys and values.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmrep::config::detail {

// Optimal string alignment distance (Levenshtein plus adjacent
// transpositions), comparing case-insensitively and treating '-' as '_'.
// Inputs longer than 256 bytes compare as "far" (returns a large number)
// so a hostile key cannot cost quadratic time.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible
// typo: distance <= 1 for candidates of up to 4 characters, <= 2 up to 8,
// <= 3 beyond; or when one is a prefix of the other and the shorter has at
// least 3 characters ("warning" -> "warn", "keyfile" -> "key"). The
// smallest distance wins; ties go to the earliest candidate.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace vmrep::config::detail

// The did-you-mean rules (config/suggest.hpp).
#include "config/suggest.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vmrep::config::detail {
namespace {

TEST(ConfigSuggest, EditDistance_Basics) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("min_ack", "min_acks"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("tikc_ms", "tick_ms"), 1u);  // a transposition is one edit
  EXPECT_EQ(edit_distance("Tick-MS", "tick_ms"), 0u);  // case and '-' are not typos
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

TEST(ConfigSuggest, EditDistance_HugeInput_FarWithoutQuadraticWork) {
  EXPECT_GT(edit_distance(std::string(100000, 'a'), "ab"), 1000u);
}

TEST(ConfigSuggest, Closest_ThresholdGrowsWithLength) {
  const std::vector<std::string_view> keys{"ca", "cert", "key", "insecure", "heartbeat_interval_ms"};
  EXPECT_EQ(closest("c", keys), std::optional<std::string>("ca"));
  EXPECT_EQ(closest("kye", keys), std::optional<std::string>("key"));
  EXPECT_EQ(closest("insecur", keys), std::optional<std::string>("insecure"));
  EXPECT_EQ(closest("hearbeat_intervl_ms", keys), std::optional<std::string>("heartbeat_interval_ms"));
  EXPECT_EQ(closest("verify", keys), std::nullopt);
  EXPECT_EQ(closest("heartbeat_ms", keys), std::nullopt);
}

TEST(ConfigSuggest, Closest_TieGoesToFirstCandidate) {
  EXPECT_EQ(closest("h", {"h1", "h2"}), std::optional<std::string>("h1"));
}

}  // namespace
}  // namespace vmrep::config::detail

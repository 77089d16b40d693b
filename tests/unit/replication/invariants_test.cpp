#include "replication/invariants.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

std::vector<std::string> violations(const HostFacts& f) {
  std::vector<std::string> out;
  check_host(f, out);
  return out;
}

TEST(Invariants, Rule_ConsistentHostsPass) {
  EXPECT_TRUE(violations(HostFacts{}).empty());  // a fresh backup holds nothing
  EXPECT_TRUE(violations({ServiceState::backup, Version{3, 5}, Version{3, 4}, 0, Version{3, 6}}).empty());
  EXPECT_TRUE(violations({ServiceState::serving, Version{7, 1}, Version{7, 1}, 7, Version{7, 1}}).empty());
}

TEST(Invariants, Rule_CommittedNeverNewerThanHeld) {
  const auto v = violations({ServiceState::backup, Version{3, 4}, Version{3, 5}, 0, Version{3, 5}});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], "committed 3.5 is newer than the newest version held here, 3.4");
  EXPECT_EQ(violations({ServiceState::backup, std::nullopt, Version{1, 1}, 0, std::nullopt}).size(), 1u);
}

TEST(Invariants, Rule_ServingTermOrdersAfterEveryKnownVersion) {
  const auto v = violations({ServiceState::serving, Version{5, 9}, Version{5, 9}, 5, Version{6, 2}});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], "serving with term 5 below a known version's term (6.2)");
  // A backup may know newer terms: it does not checkpoint.
  EXPECT_TRUE(violations({ServiceState::backup, Version{5, 9}, Version{5, 9}, 5, Version{6, 2}}).empty());
}

TEST(Invariants, Rule_NoVersionPastTheLimitIsKnown) {
  const Version huge{snapshots::version_part_limit, 0};
  const auto v = violations({ServiceState::backup, Version{1, 1}, std::nullopt, 0, huge});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("past the limit"), std::string::npos);
}

}  // namespace
}  // namespace vmrep::replication

#include "replication/intake.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

TEST(Intake, Rule_OneAcceptAtATime) {
  Intake in;
  EXPECT_TRUE(in.idle());
  EXPECT_EQ(in.pushed(2, Version{3, 1}), (AcceptJob{2, Version{3, 1}}));
  EXPECT_FALSE(in.idle());
  EXPECT_EQ(in.pushed(3, Version{3, 1}), std::nullopt);  // waits for the running accept
  EXPECT_EQ(in.accepted(), (AcceptJob{3, Version{3, 1}}));
  EXPECT_EQ(in.accepted(), std::nullopt);
  EXPECT_TRUE(in.idle());
}

TEST(Intake, Rule_NewestAnnouncementPerPusherSupersedesOlder) {
  Intake in;
  ASSERT_TRUE(in.pushed(2, Version{3, 1}));
  EXPECT_FALSE(in.pushed(2, Version{3, 3}));
  EXPECT_FALSE(in.pushed(2, Version{3, 2}));  // older than the one waiting: no change
  EXPECT_EQ(in.accepted(), (AcceptJob{2, Version{3, 3}}));
  EXPECT_EQ(in.accepted(), std::nullopt);
}

TEST(Intake, Rule_NotIdleWhileAnAnnouncementWaits) {
  Intake in;
  ASSERT_TRUE(in.pushed(2, Version{3, 1}));
  ASSERT_FALSE(in.pushed(2, Version{3, 2}));
  const auto next = in.accepted();  // 3.1 done, 3.2 starts: no standby refresh for 3.1
  ASSERT_TRUE(next);
  EXPECT_FALSE(in.idle());
  EXPECT_FALSE(in.accepted());
  EXPECT_TRUE(in.idle());
}

}  // namespace
}  // namespace vmrep::replication

#include "replication/roles.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

TEST(Roles, Rule_EveryStateNameParsesBackToItsState) {
  for (ServiceState s : {ServiceState::backup, ServiceState::restoring, ServiceState::serving, ServiceState::stopping,
                         ServiceState::failed})
    EXPECT_EQ(parse_state(state_name(s)), s) << state_name(s);
}

TEST(Roles, Rule_APeersUnknownStateNameIsNoState) {
  EXPECT_EQ(parse_state("unknown"), std::nullopt);
  EXPECT_EQ(parse_state("Serving"), std::nullopt);
  EXPECT_EQ(parse_state(std::string_view("serving\0x", 9)), std::nullopt);
  EXPECT_EQ(parse_state(""), std::nullopt);
}

TEST(Roles, SwitchoverPhasesHaveTheirStatusNames) {
  EXPECT_STREQ(phase_name(SwitchoverPhase::pausing), "pausing");
  EXPECT_STREQ(phase_name(SwitchoverPhase::checkpointing), "checkpointing");
  EXPECT_STREQ(phase_name(SwitchoverPhase::pushing), "pushing");
  EXPECT_STREQ(phase_name(SwitchoverPhase::handing_over), "handing_over");
}

}  // namespace
}  // namespace vmrep::replication

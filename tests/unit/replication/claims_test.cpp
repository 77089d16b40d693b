#include "replication/claims.hpp"
#include "replication/commit_ledger.hpp"

#include <gtest/gtest.h>

namespace vmrep::replication {
namespace {

constexpr std::uint64_t kLimit = snapshots::version_part_limit;

TEST(Claims, Rule_TermOrSeqPastTheLimitIsNotBelieved) {
  EXPECT_EQ(judge_claim(Version{kLimit, 0}, 5), ClaimVerdict::past_limit);
  EXPECT_EQ(judge_claim(Version{~std::uint64_t{0}, 0}, 5), ClaimVerdict::past_limit);  // 2^64 - 1: term + 1 wrapped to 0
  EXPECT_EQ(judge_claim(Version{3, kLimit}, 5), ClaimVerdict::past_limit);
  // ... whatever this node knows itself.
  EXPECT_EQ(judge_claim(Version{kLimit, 0}, kLimit - 1), ClaimVerdict::past_limit);
}

TEST(Claims, Rule_TermFarBeyondWhatThisNodeKnowsIsNotBelieved) {
  EXPECT_EQ(judge_claim(Version{5 + kTermReach + 1, 0}, 5), ClaimVerdict::too_far_ahead);
  EXPECT_EQ(judge_claim(Version{kLimit - 1, 0}, 5), ClaimVerdict::too_far_ahead);
  EXPECT_EQ(judge_claim(Version{kLimit - 1, 0}, 0), ClaimVerdict::too_far_ahead);  // a fresh node believes small terms only
}

TEST(Claims, Rule_TermsWithinReachAreBelieved) {
  EXPECT_EQ(judge_claim(Version{5 + kTermReach, 9}, 5), ClaimVerdict::believable);
  EXPECT_EQ(judge_claim(Version{3, 12}, 40), ClaimVerdict::believable);  // older than known: fine
  EXPECT_EQ(judge_claim(Version{1, 1}, 0), ClaimVerdict::believable);
  EXPECT_EQ(judge_claim(Version{kLimit - 1, kLimit - 1}, kLimit - 2), ClaimVerdict::believable);  // no overflow near the top
}

TEST(Claims, Rule_FreshTermOrdersAfterEverythingKnownAndNeverWraps) {
  EXPECT_EQ(fresh_term(7, std::nullopt), 7u);
  EXPECT_EQ(fresh_term(0, std::nullopt), 1u);
  EXPECT_EQ(fresh_term(7, Version{9, 3}), 10u);
  EXPECT_EQ(fresh_term(12, Version{9, 3}), 12u);
  // A believed term at the top saturates; it never becomes 0 (which would
  // order before every version and make a failover take an old branch).
  EXPECT_EQ(fresh_term(0, Version{kLimit - 1, 0}), kLimit - 1);
  EXPECT_EQ(fresh_term(0, Version{~std::uint64_t{0}, 0}), kLimit - 1);
  EXPECT_EQ(fresh_term(~std::uint64_t{0}, std::nullopt), kLimit - 1);
}

TEST(CommitLedger, Rule_ForgedAckForAVersionNeverPushedCommitsNothing) {
  CommitLedger ledger;
  ledger.pushed(2, Version{3, 1});
  // The forged ack: 4611686018427387904.0, never pushed.
  EXPECT_EQ(ledger.acknowledged(2, Version{kLimit, 0}, true), AckVerdict::not_pushed);
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 2}, true), AckVerdict::not_pushed);
  EXPECT_EQ(ledger.unexpected(2), 2u);
  EXPECT_EQ(ledger.awaiting(2), 1u);  // the real push still awaits its ack
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 1}, true), AckVerdict::held);
  EXPECT_EQ(ledger.count(2, Version{3, 1}, 1, std::nullopt), (Version{3, 1}));
}

TEST(CommitLedger, Rule_AckForAVersionPushedToAnotherBackupIsNotBelieved) {
  CommitLedger ledger;
  ledger.pushed(2, Version{3, 1});
  EXPECT_EQ(ledger.acknowledged(3, Version{3, 1}, true), AckVerdict::not_pushed);
  EXPECT_EQ(ledger.unexpected(3), 1u);
  EXPECT_EQ(ledger.unexpected(2), 0u);
}

TEST(CommitLedger, Rule_ReplayedAckIsBelievedOnce) {
  CommitLedger ledger;
  ledger.pushed(2, Version{3, 1});
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 1}, true), AckVerdict::held);
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 1}, true), AckVerdict::not_pushed);
}

TEST(CommitLedger, Rule_CommitsWhenMinAcksBackupsHoldIt) {
  CommitLedger ledger;
  for (NodeId b : {2u, 3u}) ledger.pushed(b, Version{3, 1});
  ASSERT_EQ(ledger.acknowledged(2, Version{3, 1}, true), AckVerdict::held);
  EXPECT_EQ(ledger.count(2, Version{3, 1}, 2, std::nullopt), std::nullopt);
  EXPECT_EQ(ledger.count(2, Version{3, 1}, 2, std::nullopt), std::nullopt);  // one backup counts once
  ASSERT_EQ(ledger.acknowledged(3, Version{3, 1}, true), AckVerdict::held);
  EXPECT_EQ(ledger.count(3, Version{3, 1}, 2, std::nullopt), (Version{3, 1}));
}

TEST(CommitLedger, Rule_RefusalCountsNothing) {
  CommitLedger ledger;
  ledger.pushed(2, Version{3, 1});
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 1}, false), AckVerdict::refused);
  EXPECT_EQ(ledger.awaiting(2), 0u);
}

TEST(CommitLedger, Rule_VersionAtOrBelowCommittedCommitsNothingNew) {
  CommitLedger ledger;
  EXPECT_EQ(ledger.count(2, Version{3, 1}, 1, Version{3, 2}), std::nullopt);
  EXPECT_EQ(ledger.count(2, Version{3, 2}, 1, Version{3, 2}), std::nullopt);
  EXPECT_EQ(ledger.count(2, Version{3, 3}, 1, Version{3, 2}), (Version{3, 3}));
}

TEST(CommitLedger, Rule_AwaitedVersionsAreBounded) {
  CommitLedger ledger(4);
  for (std::uint64_t s = 1; s <= 10; ++s) ledger.pushed(2, Version{3, s});
  EXPECT_EQ(ledger.awaiting(2), 4u);
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 1}, true), AckVerdict::not_pushed);  // the oldest were dropped
  EXPECT_EQ(ledger.acknowledged(2, Version{3, 10}, true), AckVerdict::held);
}

}  // namespace
}  // namespace vmrep::replication

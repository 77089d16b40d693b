#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "transport/codec.hpp"

namespace vmrep::transport {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

consensus::DecidedLog sample_log(std::size_t n) {
  consensus::DecidedLog log;
  for (std::size_t i = 0; i < n; ++i) log.recent.push_back({i + 1, kMax - i});
  log.evicted_digest = 0xdeadbeefcafef00dULL;
  log.evicted_count = 77;
  return log;
}

// to_wire -> frame -> bytes -> decoder -> from_wire.
consensus::Message round_trip(std::uint32_t instance, const consensus::Message& m) {
  wire::Frame frame;
  *frame.mutable_consensus() = to_wire(instance, m);
  const std::string bytes = encode_frame(frame);
  FrameDecoder decoder;
  decoder.feed(bytes);
  wire::Frame out;
  std::string error;
  EXPECT_EQ(decoder.next(out, error), FrameDecoder::Status::frame) << error;
  EXPECT_EQ(out.version(), kWireVersion);
  EXPECT_TRUE(out.has_consensus());
  EXPECT_EQ(out.consensus().instance(), instance);
  auto back = from_wire(out.consensus(), error);
  EXPECT_TRUE(back.has_value()) << error;
  return back.value_or(consensus::Message{});
}

TEST(Codec, Estimate_RoundTrips) {
  const consensus::Message m = consensus::Estimate{kMax, {kMax, 3}};
  EXPECT_EQ(round_trip(7, m), m);
}

TEST(Codec, Propose_RoundTripsWithLog) {
  const consensus::Message m = consensus::Propose{42, {5, 6}, sample_log(3)};
  EXPECT_EQ(round_trip(1, m), m);
}

TEST(Codec, Ack_RoundTrips) {
  const consensus::Message m = consensus::Ack{{0, 0}};
  EXPECT_EQ(round_trip(0, m), m);
}

TEST(Codec, Decide_RoundTripsWithEmptyAndFullLog) {
  const consensus::Message empty = consensus::Decide{3, {9, 0}, {}};
  EXPECT_EQ(round_trip(kMax >> 32, empty), empty);
  const consensus::Message full = consensus::Decide{3, {9, 1}, sample_log(1024)};
  EXPECT_EQ(round_trip(2, full), full);
}

TEST(Codec, MissingBody_IsAnError) {
  wire::Consensus c;
  c.set_instance(1);
  std::string error;
  EXPECT_FALSE(from_wire(c, error).has_value());
  EXPECT_EQ(error, "consensus message without body");
}

TEST(Codec, MissingKey_IsAnError) {
  wire::Consensus c;
  c.mutable_ack();
  std::string error;
  EXPECT_FALSE(from_wire(c, error).has_value());
  EXPECT_EQ(error, "ack without key");
}

TEST(Codec, LogOver1024Entries_IsAnError) {
  for (const consensus::Message& m :
       {consensus::Message{consensus::Propose{1, {1, 1}, sample_log(1025)}},
        consensus::Message{consensus::Decide{1, {1, 1}, sample_log(1025)}}}) {
    std::string error;
    EXPECT_FALSE(from_wire(to_wire(1, m), error).has_value());
    EXPECT_EQ(error, "decided log of 1025 entries exceeds 1024");
  }
}

TEST(Codec, EncodeFrame_SetsVersionAndBigEndianLength) {
  wire::Frame f;
  f.set_version(99);
  f.mutable_goodbye()->set_reason("bye");
  const std::string bytes = encode_frame(f);
  ASSERT_GE(bytes.size(), 4u);
  const std::size_t len = (std::size_t{static_cast<unsigned char>(bytes[0])} << 24) |
                          (std::size_t{static_cast<unsigned char>(bytes[1])} << 16) |
                          (std::size_t{static_cast<unsigned char>(bytes[2])} << 8) |
                          std::size_t{static_cast<unsigned char>(bytes[3])};
  EXPECT_EQ(len, bytes.size() - 4);
  wire::Frame back;
  ASSERT_TRUE(back.ParseFromArray(bytes.data() + 4, static_cast<int>(len)));
  EXPECT_EQ(back.version(), kWireVersion);
  EXPECT_EQ(back.goodbye().reason(), "bye");
}

TEST(Codec, ReplicaVersionsBelowTheLimit_AreInDomain) {
  wire::Replica m;
  m.set_instance(1);
  m.mutable_inventory()->mutable_newest()->set_term(kVersionPartLimit - 1);
  m.mutable_inventory()->add_versions()->set_seq(7);
  std::string error;
  EXPECT_TRUE(replica_in_domain(m, error)) << error;
  m.set_query(true);  // switches the body
  EXPECT_TRUE(replica_in_domain(m, error)) << error;
}

TEST(Codec, ReplicaVersionAtOrAboveTheLimit_IsRefusedNamingTheField) {
  // A forged ack for 4611686018427387904.0 was recorded as committed; an
  // inventory claiming term 2^64-1 wrapped the next term to 0.
  std::string error;
  wire::Replica ack;
  ack.mutable_ack()->mutable_version()->set_term(kVersionPartLimit);
  ack.mutable_ack()->set_ok(true);
  EXPECT_FALSE(replica_in_domain(ack, error));
  EXPECT_EQ(error, "ack.version.term 4611686018427387904 is out of range");

  wire::Replica inv;
  inv.mutable_inventory()->add_versions()->set_term(1);
  inv.mutable_inventory()->add_versions()->set_term(~std::uint64_t{0});
  EXPECT_FALSE(replica_in_domain(inv, error));
  EXPECT_EQ(error, "inventory.versions[1].term 18446744073709551615 is out of range");

  wire::Replica pushed;
  pushed.mutable_pushed()->set_seq(kVersionPartLimit);
  EXPECT_FALSE(replica_in_domain(pushed, error));
  EXPECT_EQ(error, "pushed.seq 4611686018427387904 is out of range");
}

}  // namespace
}  // namespace vmrep::transport

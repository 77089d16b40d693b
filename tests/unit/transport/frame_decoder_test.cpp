#include <gtest/gtest.h>

#include <string>

#include "transport/codec.hpp"

namespace vmrep::transport {
namespace {

std::string prefix(std::uint32_t n) {
  std::string p(4, '\0');
  p[0] = static_cast<char>(n >> 24);
  p[1] = static_cast<char>(n >> 16);
  p[2] = static_cast<char>(n >> 8);
  p[3] = static_cast<char>(n);
  return p;
}

wire::Frame hello(const std::string& node) {
  wire::Frame f;
  f.mutable_hello()->set_cluster("c1");
  f.mutable_hello()->set_node(node);
  return f;
}

TEST(FrameDecoder, ByteByByteFeed_YieldsTheFrameOnlyWhenComplete) {
  const std::string bytes = encode_frame(hello("h2"));
  FrameDecoder d;
  wire::Frame out;
  std::string error;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    d.feed(bytes.substr(i, 1));
    ASSERT_EQ(d.next(out, error), FrameDecoder::Status::need_more) << "after byte " << i;
  }
  d.feed(bytes.substr(bytes.size() - 1));
  ASSERT_EQ(d.next(out, error), FrameDecoder::Status::frame) << error;
  EXPECT_EQ(out.hello().node(), "h2");
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::need_more);
}

TEST(FrameDecoder, TwoFramesInOneFeed_YieldsBothInOrder) {
  FrameDecoder d;
  d.feed(encode_frame(hello("a")) + encode_frame(hello("b")) + encode_frame(hello("c")).substr(0, 3));
  wire::Frame out;
  std::string error;
  ASSERT_EQ(d.next(out, error), FrameDecoder::Status::frame);
  EXPECT_EQ(out.hello().node(), "a");
  ASSERT_EQ(d.next(out, error), FrameDecoder::Status::frame);
  EXPECT_EQ(out.hello().node(), "b");
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::need_more);
  d.feed(encode_frame(hello("c")).substr(3));
  ASSERT_EQ(d.next(out, error), FrameDecoder::Status::frame);
  EXPECT_EQ(out.hello().node(), "c");
}

TEST(FrameDecoder, ManyFramesOverTime_StayDecodable) {
  // Exercises compaction: a long stream through one decoder, in odd splits.
  FrameDecoder d(256);
  std::string pending;
  int decoded = 0;
  wire::Frame out;
  std::string error;
  for (int i = 0; i < 2000; ++i) {
    pending += encode_frame(hello("node-" + std::to_string(i)));
    const std::size_t cut = std::min<std::size_t>(pending.size(), static_cast<std::size_t>(7 + i % 13));
    d.feed(pending.substr(0, cut));
    pending.erase(0, cut);
    while (d.next(out, error) == FrameDecoder::Status::frame) {
      EXPECT_EQ(out.hello().node(), "node-" + std::to_string(decoded));
      ++decoded;
    }
  }
  d.feed(pending);
  while (d.next(out, error) == FrameDecoder::Status::frame) ++decoded;
  EXPECT_EQ(decoded, 2000);
}

TEST(FrameDecoder, OversizeLength_IsAnErrorAtOnce) {
  FrameDecoder d(1 << 20);
  d.feed(prefix((1 << 20) + 1));
  wire::Frame out;
  std::string error;
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::error);
  EXPECT_EQ(error, "frame of 1048577 bytes exceeds 1048576");
  // Sticky: the stream is unusable.
  d.feed(encode_frame(hello("x")));
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::error);
}

TEST(FrameDecoder, MaxSizedFrame_IsAccepted) {
  wire::Frame f;
  f.mutable_goodbye()->set_reason(std::string(100, 'x'));
  const std::string bytes = encode_frame(f);
  FrameDecoder d(bytes.size() - 4);
  d.feed(bytes);
  wire::Frame out;
  std::string error;
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::frame) << error;
}

TEST(FrameDecoder, ZeroLength_IsAnError) {
  FrameDecoder d;
  d.feed(prefix(0));
  wire::Frame out;
  std::string error;
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::error);
  EXPECT_EQ(error, "frame of 0 bytes");
}

TEST(FrameDecoder, GarbageProtobuf_IsMalformed) {
  const std::string garbage("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
  FrameDecoder d;
  d.feed(prefix(static_cast<std::uint32_t>(garbage.size())) + garbage);
  wire::Frame out;
  std::string error;
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::error);
  EXPECT_EQ(error, "malformed protobuf");
}

TEST(FrameDecoder, WrongVersion_IsAnError) {
  wire::Frame f = hello("h2");
  f.set_version(7);
  const std::string body = f.SerializeAsString();
  FrameDecoder d;
  d.feed(prefix(static_cast<std::uint32_t>(body.size())) + body);
  wire::Frame out;
  std::string error;
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::error);
  EXPECT_EQ(error, "wire version 7, expected 1");
}

TEST(FrameDecoder, MissingVersion_IsAnError) {
  wire::Frame f = hello("h2");
  const std::string body = f.SerializeAsString();  // version 0: not on the wire at all
  FrameDecoder d;
  d.feed(prefix(static_cast<std::uint32_t>(body.size())) + body);
  wire::Frame out;
  std::string error;
  EXPECT_EQ(d.next(out, error), FrameDecoder::Status::error);
  EXPECT_EQ(error, "wire version 0, expected 1");
}

}  // namespace
}  // namespace vmrep::transport

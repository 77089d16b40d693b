// The rules every peer's or user's text passes before it reaches JSON or a
// log line: the result is always valid UTF-8 (nlohmann::json::dump() throws
// otherwise), a cut never splits a character, and control characters cannot
// forge log lines.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "text/utf8.hpp"

namespace vmrep::text {
namespace {

const std::string kEuro = "\xE2\x82\xAC";  // U+20AC, three bytes

TEST(Utf8, WellFormedSequencesAreValid) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 " + kEuro + " \xF0\x9F\x98\x80"));
}

TEST(Utf8, StrayOverlongSurrogateAndTooLargeAreInvalid) {
  EXPECT_FALSE(is_valid_utf8("\xFF"));               // never a lead byte
  EXPECT_FALSE(is_valid_utf8("\x80"));               // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));           // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));       // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));   // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8(kEuro.substr(0, 2)));   // truncated
}

TEST(Utf8, InvalidBytesBecomeReplacementCharactersAndJsonDumps) {
  const std::string out = to_valid_utf8("GET /\xFF\x80x");
  EXPECT_EQ(out, "GET /\xEF\xBF\xBD\xEF\xBF\xBDx");
  EXPECT_TRUE(is_valid_utf8(out));
  const nlohmann::json j{{"path", out}};
  EXPECT_NO_THROW((void)j.dump());
}

TEST(Utf8, ControlsAreKeptOrReplacedAsAsked) {
  EXPECT_EQ(to_valid_utf8("a\nb\x7F", Controls::keep), "a\nb\x7F");
  EXPECT_EQ(to_valid_utf8("a\nb\x7F", Controls::replace), "a?b?");
}

TEST(Utf8, CutNeverSplitsACharacter) {
  const std::string s = "ab" + kEuro + "c";  // 6 bytes; the euro sign is bytes 2..4
  EXPECT_EQ(cut_utf8(s, 10), s);
  EXPECT_EQ(cut_utf8(s, 5), "ab" + kEuro);
  EXPECT_EQ(cut_utf8(s, 4), "ab");
  EXPECT_EQ(cut_utf8(s, 3), "ab");
  EXPECT_EQ(cut_utf8(s, 2), "ab");
  EXPECT_EQ(cut_utf8(s, 0), "");
}

TEST(Utf8, PeerTextIsBoundedValidAndSingleLine) {
  // A peer's error text cut at byte 300 used to split a character, and the
  // status API answered 500 until the entry aged out.
  std::string long_text(299, 'x');
  long_text += kEuro + "\nforged log line";
  const std::string out = peer_text(long_text, 300);
  EXPECT_LE(out.size(), 300u);
  EXPECT_TRUE(is_valid_utf8(out));
  EXPECT_EQ(out.find('\n'), std::string::npos);
  const nlohmann::json j{{"error", out}};
  EXPECT_NO_THROW((void)j.dump());

  const std::string garbage(64, '\xFF');  // every byte becomes three
  const std::string g = peer_text(garbage, 20);
  EXPECT_LE(g.size(), 20u);
  EXPECT_TRUE(is_valid_utf8(g));
  EXPECT_FALSE(g.empty());
}

}  // namespace
}  // namespace vmrep::text

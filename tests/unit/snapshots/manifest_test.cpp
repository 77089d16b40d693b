#include "snapshots/manifest.hpp"

#include <gtest/gtest.h>

#include "snapshots/errors.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

using testing::random_bytes;

Manifest sample() {
  Manifest m;
  m.service = "web";
  m.version = {3, 12};
  m.parent = Version{3, 11};
  m.created_unix_ms = 1700000000123;
  m.domain_xml = "<domain type='qemu'><name>web</name>\n<!-- \"quoted\" ü --></domain>";
  for (const char* name : {"memory", "vda.qcow2"}) {
    FileEntry f{name, {}};
    for (std::uint64_t i = 0; i < 3; ++i) {
      f.chunks.push_back({sha256(random_bytes(16, i + f.name.size())), static_cast<std::uint32_t>(4096 + i)});
    }
    m.files.push_back(f);
  }
  return m;
}

// The ManifestError parse_manifest throws for `text`; fails the test if none.
ManifestError refusal(const std::string& text, const MacKey& key = testing::test_key()) {
  try {
    parse_manifest(text, "/srv/vmrep/services/web/3.12.manifest", key);
  } catch (const ManifestError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    EXPECT_EQ(what.rfind("manifest /srv/vmrep/services/web/3.12.manifest: field ", 0), 0u) << what;
    return e;
  }
  ADD_FAILURE() << "accepted: " << text.substr(0, 200);
  return ManifestError("", "", "");
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// `text` with its MAC replaced by a valid one for `m`: tests the rules that
// apply even to an authentic manifest (a buggy or malicious peer with the key).
std::string resign(const std::string& text, const Manifest& m) {
  const auto at = text.find("\"mac\":\"");
  return text.substr(0, at + 7) + to_hex(manifest_mac(m, testing::test_key())) + text.substr(at + 7 + 64);
}

TEST(Manifest, Rule_SerializeThenParse_RoundTrips) {
  const Manifest m = sample();
  const std::string text = serialize_manifest(m, testing::test_key());
  EXPECT_EQ(parse_manifest(text, "x", testing::test_key()), m);
  Manifest first = m;
  first.parent.reset();
  EXPECT_EQ(parse_manifest(serialize_manifest(first, testing::test_key()), "x", testing::test_key()), first);
}

TEST(Manifest, Rule_Versions_OrderedByTermThenSeq) {
  EXPECT_LT((Version{2, 99}), (Version{3, 0}));
  EXPECT_LT((Version{3, 1}), (Version{3, 2}));
  EXPECT_EQ(to_string(Version{3, 12}), "3.12");
  EXPECT_EQ(parse_version("3.12"), (Version{3, 12}));
  for (const char* bad : {"", "3", "3.", ".3", "03.1", "3.01", "3.1.2", "-1.2", "3.x", "18446744073709551616.0"}) {
    EXPECT_FALSE(parse_version(bad).has_value()) << bad;
  }
}

// Past 2^62 a term or seq can only come from corruption or a liar; refusing it
// keeps every term + 1 and seq + 1 from wrapping.
TEST(Manifest, Rule_VersionPastTheLimit_Refused) {
  EXPECT_EQ(parse_version("4611686018427387903.1"), (Version{version_part_limit - 1, 1}));
  EXPECT_FALSE(parse_version("4611686018427387904.0").has_value());
  EXPECT_FALSE(parse_version("1.18446744073709551615").has_value());
  Manifest huge = sample();
  huge.version = Version{version_part_limit, 0};
  EXPECT_EQ(check_manifest(huge)->field, "version");
  Manifest huge_seq = sample();
  huge_seq.version = Version{3, ~std::uint64_t{0}};
  EXPECT_EQ(check_manifest(huge_seq)->field, "version");
  EXPECT_THROW(serialize_manifest(huge, testing::test_key()), SnapshotError);
}

TEST(Manifest, Rule_WrongKey_RefusedOnTheMacField) {
  const std::string text = serialize_manifest(sample(), testing::test_key(0x42));
  EXPECT_EQ(refusal(text, testing::test_key(0x43)).field(), "mac");
}

TEST(Manifest, Rule_TamperedContent_RefusedOnTheMacField) {
  const std::string text = serialize_manifest(sample(), testing::test_key());
  EXPECT_EQ(refusal(replace(text, "\"web\"", "\"wex\"")).field(), "mac");
  EXPECT_EQ(refusal(replace(text, "\"seq\":12", "\"seq\":13")).field(), "mac");
  EXPECT_EQ(refusal(replace(text, "qemu", "kvm!")).field(), "mac");
  const std::string hex = sample().files[1].chunks[2].id.hex();
  EXPECT_EQ(refusal(replace(text, hex, std::string(64, 'a'))).field(), "mac");
  EXPECT_EQ(refusal(replace(text, "\"mac\":\"", "\"mac\":\"0")).field(), "mac");  // 65 digits
}

TEST(Manifest, Rule_EveryTruncation_RefusedWithOneLine) {
  const std::string text = serialize_manifest(sample(), testing::test_key());
  for (std::size_t n = 0; n + 1 < text.size(); ++n) refusal(text.substr(0, n));  // the last byte is '\n'
}

TEST(Manifest, Rule_Garbage_RefusedWithOneLine) {
  const Bytes noise = random_bytes(300, 1);
  refusal(std::string(noise.begin(), noise.end()));
  refusal(std::string("\0\0\0", 3));
  refusal("\x89PNG\r\n\x1a\n");
  EXPECT_EQ(refusal("null").field(), "(document)");
  EXPECT_EQ(refusal("[]").field(), "(document)");
  EXPECT_EQ(refusal("{}").field(), "format");
  EXPECT_EQ(refusal(std::string(100000, '[')).field(), "(document)");
  EXPECT_EQ(refusal("{\"a\":" + std::string(50, '[') + std::string(50, ']') + "}").field(), "(document)");
}

TEST(Manifest, Rule_WrongShapes_RefusedNamingTheField) {
  const std::string text = serialize_manifest(sample(), testing::test_key());
  EXPECT_EQ(refusal(replace(text, "{\"format\"", "{\"extra\":1,\"format\"")).field(), "extra");
  EXPECT_EQ(refusal(replace(text, "{\"format\"", "{\"service\":\"db\",\"format\"")).field(), "service");
  EXPECT_EQ(refusal(replace(text, "\"service\":\"web\",", "")).field(), "service");
  EXPECT_EQ(refusal(replace(text, "\"service\":\"web\"", "\"service\":7")).field(), "service");
  EXPECT_EQ(refusal(replace(text, "\"term\":3,\"seq\":12", "\"term\":-3,\"seq\":12")).field(), "version.term");
  EXPECT_EQ(refusal(replace(text, "\"term\":3,\"seq\":12", "\"term\":3.5,\"seq\":12")).field(), "version.term");
  EXPECT_EQ(refusal(replace(text, "\"seq\":12", "\"seq\":\"12\"")).field(), "version.seq");
  EXPECT_EQ(refusal(replace(text, "vmrep-manifest/1", "vmrep-manifest/2")).field(), "format");
  EXPECT_EQ(refusal(replace(text, "\"size\":12291", "\"size\":12290")).field(), "files[0].size");
  EXPECT_EQ(refusal(replace(text, ",4097]", ",0]")).field(), "files[0].chunks[1][1]");
  EXPECT_EQ(refusal(replace(text, ",4097]", "]")).field(), "files[0].chunks[1]");
  const std::string hex = sample().files[0].chunks[0].id.hex();
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_NE(upper, hex);
  EXPECT_EQ(refusal(replace(text, hex, upper)).field(), "files[0].chunks[0][0]");
  EXPECT_EQ(refusal(replace(text, "\"mac\":\"", "\"mac\":\"zz")).field(), "mac");
}

TEST(Manifest, Rule_AuthenticButUnsafe_Refused) {
  const std::string text = serialize_manifest(sample(), testing::test_key());
  for (const char* name : {"../../etc/cron.d/x", ".hidden", "a/b", ""}) {
    Manifest m = sample();
    m.files[0].name = name;
    EXPECT_EQ(refusal(resign(replace(text, "\"memory\"", "\"" + std::string(name) + "\""), m)).field(), "files[0].name")
        << name;
  }
  Manifest twice = sample();
  twice.files[1].name = "memory";
  EXPECT_EQ(refusal(resign(replace(text, "\"vda.qcow2\"", "\"memory\""), twice)).field(), "files[1].name");
  Manifest newer_parent = sample();
  newer_parent.parent = Version{3, 12};
  EXPECT_EQ(refusal(resign(replace(text, "\"term\":3,\"seq\":11", "\"term\":3,\"seq\":12"), newer_parent)).field(),
            "parent");
}

TEST(Manifest, Rule_InvalidManifest_NotSerialized) {
  Manifest m = sample();
  m.service = "we b";
  EXPECT_THROW(serialize_manifest(m, testing::test_key()), SnapshotError);
  m = sample();
  m.files.clear();
  EXPECT_THROW(serialize_manifest(m, testing::test_key()), SnapshotError);
  m = sample();
  m.domain_xml = "\xff\xfe";
  EXPECT_THROW(serialize_manifest(m, testing::test_key()), SnapshotError);
}

TEST(MacKey, Rule_ShortKey_Refused) {
  EXPECT_THROW(MacKey(Bytes(15, 1)), SnapshotError);
  EXPECT_NO_THROW(MacKey(Bytes(16, 1)));
}

}  // namespace
}  // namespace vmrep::snapshots

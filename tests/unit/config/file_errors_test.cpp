// Invalid files at the level of the file itself: YAML syntax, documents,
// aliases, limits, unreadable files. Never a crash, a hang or another exception.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "tests/unit/config/config_test_util.hpp"

namespace vmrep::config::test {
namespace {

TEST(ConfigFileErrors, Syntax_TabIndentation_MarkAndHint) {
  EXPECT_EQ(errors_of("nodes:\n\t- name: h1\n"),
            Lines{"cluster.yaml:2:2: syntax error: illegal block entry (tabs are not allowed in indentation)"});
  EXPECT_EQ(errors_of("tls:\n\tca: /a\n"),
            Lines{"cluster.yaml:2:4: syntax error: illegal map value (tabs are not allowed in indentation)"});
}

TEST(ConfigFileErrors, Syntax_UnclosedFlow_OneLine) {
  const Lines lines = errors_of(with_head({"services: {board: {retention: 3}"}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("cluster.yaml:", 0), 0u);
  EXPECT_NE(lines[0].find(": syntax error: "), std::string::npos) << lines[0];
}

TEST(ConfigFileErrors, Syntax_DeepNesting_RefusedNotCrashed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(errors_of(deep), Lines{"cluster.yaml:1:1: syntax error: nesting too deep"});
}

TEST(ConfigFileErrors, Syntax_StrayTopLevelToken_ReportedNotHung) {
  // yaml-cpp 0.7's LoadAll() loops forever on these (upstream issue #1040).
  EXPECT_EQ(errors_of(","), Lines{"cluster.yaml:1:1: syntax error: unexpected ','"});
  EXPECT_EQ(errors_of("!, \xff"), Lines{"cluster.yaml:1:2: syntax error: unexpected ','"});
  EXPECT_EQ(errors_of("&a ,"), Lines{"cluster.yaml:1:4: syntax error: unexpected ','"});
}

TEST(ConfigFileErrors, Document_NotAMappingOrTwoDocuments_Reported) {
  EXPECT_EQ(errors_of("just text\n"),
            Lines{"cluster.yaml:1:1: expected a mapping at the top level, got 'just text'"});
  EXPECT_EQ(errors_of(with_head({"---", "cluster: other"})),
            Lines{"cluster.yaml:10:1: only one YAML document is allowed (found another here)"});
  EXPECT_EQ(errors_of(""), (Lines{"cluster.yaml:1:1: nodes: missing required key",
                                  "cluster.yaml:1:1: tls: missing required key (ca, cert and key; only a "
                                  "loopback-only cluster may set insecure: true)"}));
}

TEST(ConfigFileErrors, Keys_NotStrings_Reported) {
  EXPECT_EQ(errors_of(with_head({"? [a, b]", ": 1"})),
            Lines{"cluster.yaml:10:3: keys must be non-empty strings, got a list"});
}

TEST(ConfigFileErrors, Aliases_CyclicOrShared_NoCrash) {
  const Lines lines = errors_of(yaml({"nodes: &n [*n]", "tls: &t {ca: /a, cert: /b, key: /c, x: *t}"}));
  EXPECT_EQ(lines, (Lines{"cluster.yaml:1:8: nodes[0]: expected a mapping with name and address, got a list",
                          "cluster.yaml:2:37: tls.x: unknown key"}));
}
TEST(ConfigFileErrors, Many_CappedWithACount) {
  std::string text = with_head({"services:", "  board:"});
  for (int i = 0; i < 250; ++i) text += "    bogus" + std::to_string(i) + ": 1\n";
  const Lines lines = errors_of(text);
  ASSERT_EQ(lines.size(), 201u);
  EXPECT_EQ(lines.back(), "cluster.yaml: ... and 50 more problem(s)");
}

TEST(ConfigFileErrors, Aliases_ExpandingToMillions_StopAtTheBudget) {
  std::string keys;
  for (int i = 0; i < 300; ++i) keys += "k" + std::to_string(i) + ": 1, ";
  std::string uses;
  for (int i = 0; i < 3000; ++i) uses += "*a, ";
  const std::string text = "x: &a {" + keys + "}\nnodes: [" + uses + "]\n";
  const Lines lines = errors_of(text);
  ASSERT_EQ(lines.size(), 202u);
  EXPECT_EQ(lines[200].rfind("cluster.yaml: ... and ", 0), 0u) << lines[200];
  EXPECT_EQ(lines[201],
            "cluster.yaml: too many values (more than 50000, counting each use of an alias); checking stopped there");
}

TEST(ConfigFileErrors, Messages_ControlCharactersEscaped_OneLineEach) {
  const Lines lines = errors_of(with_head({"timing: {tick_ms: \"1\\n2\\u00e9\"}"}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "cluster.yaml:10:10: timing.tick_ms: expected an integer, got '1\\x0a2\\xc3\\xa9'");
}

TEST(ConfigFile, Huge_RefusedBeforeParsing) {
  EXPECT_EQ(errors_of(std::string((1 << 20) + 1, '#')),
            Lines{"cluster.yaml:1:1: file too large (more than 1048576 bytes)"});
}

TEST(ConfigFile, Missing_CannotRead) {
  const std::string path = "/nonexistent/vmrep/cluster.yaml";
  try {
    load_file(path);
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.lines(), Lines{path + ": cannot read: No such file or directory"});
  }
}

TEST(ConfigFile, Directory_CannotRead) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  try {
    load_file(dir);
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.lines(), Lines{dir + ": cannot read: Is a directory"});
  }
}

TEST(ConfigFile, Errors_NameTheFile) {
  const std::string path = (std::filesystem::temp_directory_path() / "vmrep_config_test_bad.yaml").string();
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("nodes: 3\n", f);
    std::fclose(f);
  }
  try {
    load_file(path);
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.lines().front(), path + ":1:1: nodes: expected a list, got '3'");
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace vmrep::config::test

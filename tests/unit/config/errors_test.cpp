// Invalid files: every kind of problem, with the exact line the operator sees.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "tests/unit/config/config_test_util.hpp"

namespace vmrep::config::test {
namespace {

TEST(ConfigErrors, UnknownKey_CloseToAKnownOne_SuggestsIt) {
  EXPECT_EQ(errors_of(with_head({
                /* 10 */ "services:",
                /* 11 */ "  board:",
                /* 12 */ "    min_ack: 1",
            })),
            Lines{"cluster.yaml:12:5: services.board.min_ack: unknown key (did you mean 'min_acks'?)"});
}

TEST(ConfigErrors, UnknownKey_FarFromEveryKey_NoSuggestion) {
  EXPECT_EQ(errors_of(with_head({"colour: blue"})), Lines{"cluster.yaml:10:1: colour: unknown key"});
}

TEST(ConfigErrors, UnknownKey_CaseAndDash_StillSuggested) {
  EXPECT_EQ(errors_of(with_head({"timing: {Tick-MS: 100}"})),
            Lines{"cluster.yaml:10:10: timing.Tick-MS: unknown key (did you mean 'tick_ms'?)"});
}

TEST(ConfigErrors, UnknownKey_SectionKeyAtTopLevel_NamesItsSection) {
  EXPECT_EQ(errors_of(with_head({"tick_ms: 50", "min_acks: 2"})),
            (Lines{"cluster.yaml:10:1: tick_ms: unknown key (did you mean 'timing.tick_ms'?)",
                   "cluster.yaml:11:1: min_acks: unknown key (did you mean 'services.NAME.min_acks'?)"}));
}

TEST(ConfigErrors, DuplicateKey_SecondOneReported) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "nodes: [{name: h1, address: 10.0.0.1}]",
                /* 2 */ "tls:",
                /* 3 */ "  ca: /a.crt",
                /* 4 */ "  ca: /b.crt",
                /* 5 */ "  cert: /c",
                /* 6 */ "  key: /k",
            })),
            Lines{"cluster.yaml:4:3: tls.ca: duplicate key (first at line 3)"});
}

TEST(ConfigErrors, DuplicateKey_TwoServicesOfOneName_Reported) {
  EXPECT_EQ(errors_of(with_head({
                /* 10 */ "services:",
                /* 11 */ "  board: {}",
                /* 12 */ "  board: {retention: 2}",
            })),
            Lines{"cluster.yaml:12:3: services.board: duplicate key (first at line 11)"});
}

TEST(ConfigErrors, DuplicateNodeName_PointsAtFirst) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "nodes:",
                /* 2 */ "- name: h1",
                /* 3 */ "  address: 10.0.0.1",
                /* 4 */ "- name: h1",
                /* 5 */ "  address: 10.0.0.2",
                /* 6 */ "tls: {insecure: false, ca: /a, cert: /b, key: /c}",
            })),
            Lines{"cluster.yaml:4:3: nodes[1].name: duplicate node name 'h1' (first at line 2)"});
}

TEST(ConfigErrors, DuplicateEndpoint_SameAddressAndPort_Reported) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "nodes:",
                /* 2 */ "  - {name: h1, address: 10.0.0.1, port: 7400}",
                /* 3 */ "  - {name: h2, address: 10.0.0.1, port: 7401}",
                /* 4 */ "  - {name: h3, address: 10.0.0.1}",
                /* 5 */ "tls: {ca: /a, cert: /b, key: /c}",
            })),
            Lines{"cluster.yaml:4:16: nodes[2].address: duplicate address '10.0.0.1:7400' (first at line 2)"});
}

TEST(ConfigErrors, WrongTypes_EachSaysWhatItGot) {
  EXPECT_EQ(errors_of(with_head({
                /* 10 */ "cluster: [a, b]",
                /* 11 */ "timing:",
                /* 12 */ "  tick_ms: abc",
                /* 13 */ "  heartbeat_interval_ms: 1.5",
                /* 14 */ "control: {mode: rw, metrics_port: {a: 1}}",
                /* 15 */ "services:",
                /* 16 */ "  board: {preferred: h1, hooks: [x]}",
                /* 17 */ "  web: 5",
            })),
            (Lines{
                "cluster.yaml:10:1: cluster: expected a string, got a list",
                "cluster.yaml:12:3: timing.tick_ms: expected an integer, got 'abc'",
                "cluster.yaml:13:3: timing.heartbeat_interval_ms: expected an integer, got '1.5'",
                "cluster.yaml:14:11: control.mode: expected an octal mode like \"0600\", got 'rw'",
                "cluster.yaml:14:21: control.metrics_port: expected an integer, got a mapping",
                "cluster.yaml:16:11: services.board.preferred: expected a list, got 'h1'",
                "cluster.yaml:16:26: services.board.hooks: expected a mapping, got a list",
                "cluster.yaml:17:3: services.web: expected a mapping, got '5'",
            }));
}

TEST(ConfigErrors, WrongTypes_BooleanAndNull) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "cluster:",
                /* 2 */ "nodes: [{name: h1, address: 127.0.0.1}]",
                /* 3 */ "tls: {insecure: maybe}",
            })),
            (Lines{
                "cluster.yaml:1:1: cluster: expected a string, got nothing",
                "cluster.yaml:3:7: tls.insecure: expected true or false, got 'maybe'",
            }));
}

TEST(ConfigErrors, Ranges_OutsideTheirBounds_Reported) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "nodes:",
                /* 2 */ "  - {name: h1, address: 10.0.0.1, port: 0}",
                /* 3 */ "  - {name: h2, address: 10.0.0.2, port: 70000, ssh: {port: -1}}",
                /* 4 */ "tls: {ca: /a, cert: /b, key: /c}",
                /* 5 */ "timing: {tick_ms: 5}",
                /* 6 */ "control: {mode: '1777', metrics_port: 99999999999999999999999}",
                /* 7 */ "services:",
                /* 8 */ "  board: {checkpoint_interval_ms: 50, retention: 0}",
            })),
            (Lines{
                "cluster.yaml:2:35: nodes[0].port: must be between 1 and 65535, got 0",
                "cluster.yaml:3:35: nodes[1].port: must be between 1 and 65535, got 70000",
                "cluster.yaml:3:54: nodes[1].ssh.port: must be between 1 and 65535, got -1",
                "cluster.yaml:5:10: timing.tick_ms: must be between 10 and 10000, got 5",
                "cluster.yaml:6:11: control.mode: must be at most 0777, got 01777",
                "cluster.yaml:6:25: control.metrics_port: must be between 1 and 65535, got 99999999999999999999999",
                "cluster.yaml:8:11: services.board.checkpoint_interval_ms: must be >= 100, got 50",
                "cluster.yaml:8:39: services.board.retention: must be >= 1, got 0",
            }));
}

TEST(ConfigErrors, Mode_DecimalAboveOctalRange_SaysHowToWriteOctal) {
  EXPECT_EQ(errors_of(with_head({"control: {mode: 600}"})),
            Lines{"cluster.yaml:10:11: control.mode: must be at most 0777, got 600 (decimal; write octal as "
                  "\"0600\")"});
  EXPECT_EQ(errors_of(with_head({"control: {mode: '0680'}"})),
            Lines{"cluster.yaml:10:11: control.mode: expected an octal mode like \"0600\", got '0680' (8 and 9 are "
                  "not octal digits)"});
}

TEST(ConfigErrors, MinAcks_MoreThanBackups_ExactMessage) {
  // The header's example line, reproduced at its position.
  EXPECT_EQ(errors_of(yaml({
                /*  1 */ "cluster: demo",
                /*  2 */ "nodes:",
                /*  3 */ "  - name: h1",
                /*  4 */ "    address: 10.0.0.1",
                /*  5 */ "  - name: h2",
                /*  6 */ "    address: 10.0.0.2",
                /*  7 */ "  - name: h3",
                /*  8 */ "    address: 10.0.0.3",
                /*  9 */ "tls: {ca: /a, cert: /b, key: /c}",
                /* 10 */ "services:",
                /* 11 */ "  web:",
                /* 12 */ "    preferred: [h2]",
                /* 13 */ "    retention: 2",
                /* 14 */ "    min_acks: 3",
            })),
            Lines{"cluster.yaml:14:5: services.web.min_acks: must be <= number of backups (2)"});
}

TEST(ConfigErrors, MinAcks_OneNodeCluster_ExplicitOneRefused) {
  EXPECT_EQ(errors_of(yaml({
                "nodes: [{name: solo, address: 127.0.0.1}]",
                "tls: {insecure: true}",
                "services: {board: {min_acks: 1}}",
            })),
            Lines{"cluster.yaml:3:20: services.board.min_acks: must be <= number of backups (0)"});
}

TEST(ConfigErrors, Insecure_NonLoopbackNode_Refused) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "nodes:",
                /* 2 */ "  - {name: h1, address: 127.0.0.1}",
                /* 3 */ "  - {name: h2, address: 10.0.0.2}",
                /* 4 */ "  - {name: h3, address: 128.0.0.1}",
                /* 5 */ "tls:",
                /* 6 */ "  insecure: true",
            })),
            Lines{"cluster.yaml:6:3: tls.insecure: refused: node 'h2' has address '10.0.0.2' (and 1 more); plain "
                  "TCP is only allowed when every node is loopback (127.0.0.0/8, ::1, localhost)"});
}

TEST(ConfigErrors, Insecure_HostNameOrMappedOrAnyAddress_NotLoopback) {
  for (const char* address : {"localhost.example.org", "0.0.0.0", "'::'", "'::ffff:10.0.0.1'", "127.0.0.1.nip.io"}) {
    const std::string line = std::string("nodes: [{name: h1, address: ") + address + "}]";
    const Lines lines = errors_of(yaml({line.c_str(), "tls: {insecure: true}"}));
    ASSERT_EQ(lines.size(), 1u) << address;
    EXPECT_NE(lines[0].find("tls.insecure: refused"), std::string::npos) << lines[0];
  }
  EXPECT_NO_THROW(load_string(yaml({"nodes: [{name: h1, address: '::ffff:127.0.0.1'}]", "tls: {insecure: true}"}),
                              "cluster.yaml"));
}

TEST(ConfigErrors, Required_MissingKeys_AtParentMapping) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "cluster: c1",
                /* 2 */ "timing: {}",
            })),
            (Lines{"cluster.yaml:1:1: nodes: missing required key",
                   "cluster.yaml:1:1: tls: missing required key (ca, cert and key; only a loopback-only cluster "
                   "may set insecure: true)"}));
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "nodes:",
                /* 2 */ "  - name: h1",
                /* 3 */ "    port: 7400",
                /* 4 */ "  - address: 10.0.0.2",
                /* 5 */ "tls:",
                /* 6 */ "  ca: /a",
            })),
            (Lines{"cluster.yaml:2:5: nodes[0].address: missing required key",
                   "cluster.yaml:4:5: nodes[1].name: missing required key",
                   "cluster.yaml:6:3: tls.cert: missing required key (unless insecure: true)",
                   "cluster.yaml:6:3: tls.key: missing required key (unless insecure: true)"}));
}

TEST(ConfigErrors, Nodes_EmptyListOrNotMappings_Reported) {
  EXPECT_EQ(errors_of(yaml({"nodes: []", "tls: {insecure: true}"})),
            Lines{"cluster.yaml:1:1: nodes: at least one node is required"});
  EXPECT_EQ(errors_of(yaml({"nodes:", "  - h1", "  -", "tls: {insecure: true}"})),
            (Lines{"cluster.yaml:2:5: nodes[0]: expected a mapping with name and address, got 'h1'",
                   "cluster.yaml:2:5: nodes[1]: expected a mapping with name and address, got nothing"}));
}

TEST(ConfigErrors, Names_BadCharactersOrLength_Reported) {
  EXPECT_EQ(errors_of(yaml({
                /* 1 */ "cluster: my cluster",
                /* 2 */ "nodes:",
                /* 3 */ "  - {name: -h1, address: 10.0.0.1}",
                /* 4 */ "  - {name: h2, address: 'bad host'}",
                /* 5 */ "tls: {ca: /a, cert: /b, key: /c}",
                /* 6 */ "services:",
                /* 7 */ "  ../etc: {}",
            })),
            (Lines{
                "cluster.yaml:1:1: cluster: must be 1 to 63 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit, got 'my cluster'",
                "cluster.yaml:3:6: nodes[0].name: must be 1 to 63 letters, digits, '.', '_' or '-', starting with "
                "a letter or digit, got '-h1'",
                "cluster.yaml:4:16: nodes[1].address: expected an IP address or host name, got 'bad host'",
                "cluster.yaml:7:3: services.../etc: service name must be 1 to 63 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
            }));
  const std::string long_name(64, 'a');
  const std::string line = "nodes: [{name: " + long_name + ", address: 127.0.0.1}]";
  EXPECT_EQ(errors_of(yaml({line.c_str(), "tls: {insecure: true}"})).size(), 1u);
}

TEST(ConfigErrors, Timing_Relations_ReportedAtTheFieldWritten) {
  EXPECT_EQ(errors_of(with_head({
                /* 10 */ "timing:",
                /* 11 */ "  tick_ms: 100",
                /* 12 */ "  heartbeat_interval_ms: 50",
                /* 13 */ "  suspect_timeout_ms: 50",
                /* 14 */ "  suspect_timeout_max_ms: 40",
            })),
            (Lines{
                "cluster.yaml:12:3: timing.heartbeat_interval_ms: must be >= tick_ms (100), got 50",
                "cluster.yaml:13:3: timing.suspect_timeout_ms: must be > heartbeat_interval_ms (50), got 50",
                "cluster.yaml:14:3: timing.suspect_timeout_max_ms: must be >= suspect_timeout_ms (50), got 40",
            }));
  // Only the low side written: the default it collides with is named.
  EXPECT_EQ(errors_of(with_head({"timing: {tick_ms: 500}"})),
            Lines{"cluster.yaml:10:10: timing.tick_ms: must be <= heartbeat_interval_ms (200, the default), got 500"});
  // A field that failed to read takes part in no relation.
  EXPECT_EQ(errors_of(with_head({"timing: {tick_ms: 500, heartbeat_interval_ms: x}"})),
            Lines{"cluster.yaml:10:24: timing.heartbeat_interval_ms: expected an integer, got 'x'"});
}

TEST(ConfigErrors, Preferred_UnknownOrRepeatedNode_Reported) {
  EXPECT_EQ(errors_of(with_head({
                /* 10 */ "services:",
                /* 11 */ "  board:",
                /* 12 */ "    preferred: [h2, h4, h2, x9]",
            })),
            (Lines{
                "cluster.yaml:12:21: services.board.preferred[1]: unknown node 'h4' (did you mean 'h1'?)",
                "cluster.yaml:12:25: services.board.preferred[2]: node 'h2' is listed twice",
                "cluster.yaml:12:29: services.board.preferred[3]: unknown node 'x9'",
            }));
}

TEST(ConfigErrors, Enums_NearMiss_Suggested) {
  EXPECT_EQ(errors_of(yaml({
                "nodes: [{name: h1, address: 127.0.0.1}]",
                "tls: {insecure: true}",
                "log_level: warning",
                "services: {board: {mode: quorom}}",
            })),
            (Lines{
                "cluster.yaml:3:1: log_level: expected one of trace, debug, info, warn, error, critical, off, got "
                "'warning' (did you mean 'warn'?)",
                "cluster.yaml:4:20: services.board.mode: expected one of availability, quorum, got 'quorom' (did "
                "you mean 'quorum'?)",
            }));
}

TEST(ConfigErrors, Placeholders_UnknownOrNotReplaced_Reported) {
  EXPECT_EQ(errors_of(yaml({
                "nodes: [{name: h1, address: 10.0.0.1}]",
                "tls: {ca: '/etc/{node}/ca.crt', cert: '/etc/{nodes}.crt', key: /k}",
                "data_dir: /var/lib/vmrep/{host}",
            })),
            (Lines{
                "cluster.yaml:2:7: tls.ca: '{node}' is not replaced here; give the path itself",
                "cluster.yaml:2:33: tls.cert: unknown placeholder '{nodes}' (only '{node}' is replaced)",
                "cluster.yaml:3:1: data_dir: unknown placeholder '{host}' (only '{node}' is replaced)",
            }));
}
TEST(ConfigErrors, Multiple_AllReportedInFileOrder) {
  // Problems found by different passes (reading, then cross-field rules)
  // still come out sorted by position.
  EXPECT_EQ(errors_of(yaml({
                /*  1 */ "nodes:",
                /*  2 */ "  - name: h1",
                /*  3 */ "    address: 10.0.0.1",
                /*  4 */ "  - name: h1",
                /*  5 */ "    address: 10.0.0.2",
                /*  6 */ "    prot: 7401",
                /*  7 */ "tls:",
                /*  8 */ "  ca: /a",
                /*  9 */ "  ca: /b",
                /* 10 */ "  cert: /c",
                /* 11 */ "  key: /k",
                /* 12 */ "timing:",
                /* 13 */ "  tick_ms: 100",
                /* 14 */ "  heartbeat_interval_ms: 99",
                /* 15 */ "services:",
                /* 16 */ "  web:",
                /* 17 */ "    min_acks: 2",
                /* 18 */ "    retention: none",
            })),
            (Lines{
                "cluster.yaml:4:5: nodes[1].name: duplicate node name 'h1' (first at line 2)",
                "cluster.yaml:6:5: nodes[1].prot: unknown key (did you mean 'port'?)",
                "cluster.yaml:9:3: tls.ca: duplicate key (first at line 8)",
                "cluster.yaml:14:3: timing.heartbeat_interval_ms: must be >= tick_ms (100), got 99",
                "cluster.yaml:17:5: services.web.min_acks: must be <= number of backups (1)",
                "cluster.yaml:18:5: services.web.retention: expected an integer, got 'none'",
            }));
}

}  // namespace
}  // namespace vmrep::config::test

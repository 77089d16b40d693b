// Valid files: defaults, every key set, the shipped example, to_ticks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "tests/unit/config/config_test_util.hpp"

namespace vmrep::config::test {
namespace {

using Names = std::vector<std::string>;

TEST(ConfigLoad, Defaults_OnlyNodesAndTls_EverythingElseDefault) {
  const Config c = load_string(yaml({
                                   "nodes:",
                                   "  - name: h1",
                                   "    address: 10.0.0.1",
                                   "tls: {ca: /ca.crt, cert: /h1.crt, key: /h1.key}",
                               }),
                               "cluster.yaml");
  EXPECT_EQ(c.source, "cluster.yaml");
  EXPECT_EQ(c.cluster_name, "vmrep");
  ASSERT_EQ(c.nodes.size(), 1u);
  EXPECT_EQ(c.nodes[0].name, "h1");
  EXPECT_EQ(c.nodes[0].address, "10.0.0.1");
  EXPECT_EQ(c.nodes[0].port, 7400);
  EXPECT_EQ(c.nodes[0].ssh_host, "10.0.0.1");
  EXPECT_EQ(c.nodes[0].ssh_port, 22);
  EXPECT_EQ(c.nodes[0].ssh_user, "root");
  EXPECT_FALSE(c.tls.insecure);
  EXPECT_EQ(c.tls.ca, "/ca.crt");
  EXPECT_EQ(c.timing.tick_ms, 100u);
  EXPECT_EQ(c.timing.heartbeat_interval_ms, 200u);
  EXPECT_EQ(c.timing.suspect_timeout_ms, 1000u);
  EXPECT_EQ(c.timing.suspect_timeout_max_ms, 5000u);
  EXPECT_EQ(c.control_socket, "/run/vmrep/vmrepd.sock");
  EXPECT_EQ(c.control_socket_mode, 0600u);
  EXPECT_FALSE(c.metrics_port.has_value());
  EXPECT_EQ(c.data_dir, "/var/lib/vmrep");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_TRUE(c.services.empty());
}

TEST(ConfigLoad, Defaults_ServiceWithNoKeys_TakesNameAndNodeOrder) {
  const Config c = load_string(with_head({"services:", "  board:"}), "cluster.yaml");
  ASSERT_EQ(c.services.size(), 1u);
  const Service& s = c.services[0];
  EXPECT_EQ(s.name, "board");
  EXPECT_EQ(s.libvirt_uri, "qemu:///system");
  EXPECT_EQ(s.domain, "board");
  EXPECT_EQ(s.preferred, (Names{"h1", "h2", "h3"}));
  EXPECT_EQ(s.checkpoint_interval_ms, 10000u);
  EXPECT_EQ(s.min_acks, 1u);
  EXPECT_EQ(s.retention, 3u);
  EXPECT_EQ(s.mode, Mode::availability);
  EXPECT_TRUE(s.hooks.pre_promote.empty() && s.hooks.post_promote.empty() && s.hooks.on_split_brain.empty() &&
              s.hooks.fence.empty());
}

TEST(ConfigLoad, Defaults_OneNodeCluster_MinAcksDefaultsToZero) {
  const Config c = load_string(yaml({
                                   "nodes: [{name: solo, address: 127.0.0.1}]",
                                   "tls: {insecure: true}",
                                   "services: {board: {}}",
                               }),
                               "cluster.yaml");
  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].min_acks, 0u);
}

TEST(ConfigLoad, Defaults_EmptySections_ReadAsEmpty) {
  const Config c = load_string(with_head({"timing:", "control:", "services:"}), "cluster.yaml");
  EXPECT_EQ(c.timing.tick_ms, 100u);
  EXPECT_TRUE(c.services.empty());
}

TEST(ConfigLoad, Full_EveryKeySet_EveryFieldRead) {
  const Config c = load_string(yaml({
                                   "cluster: prod-1",
                                   "nodes:",
                                   "  - name: h1",
                                   "    address: 10.77.0.1",
                                   "    port: 7401",
                                   "    ssh: {host: 192.168.0.1, port: 2222, user: vmrep}",
                                   "  - name: h2",
                                   "    address: h2.example.org",
                                   "  - name: h3",
                                   "    address: 10.77.0.3",
                                   "tls:",
                                   "  ca: /etc/vmrep/ca.crt",
                                   "  cert: /etc/vmrep/{node}.crt",
                                   "  key: /etc/vmrep/{node}.key",
                                   "  insecure: false",
                                   "timing:",
                                   "  tick_ms: 50",
                                   "  heartbeat_interval_ms: 125",
                                   "  suspect_timeout_ms: 600",
                                   "  suspect_timeout_max_ms: 6000",
                                   "control:",
                                   "  socket: /run/vmrep/{node}.sock",
                                   "  mode: \"0660\"",
                                   "  metrics_port: 9464",
                                   "data_dir: /srv/vmrep/{node}",
                                   "log_level: debug",
                                   "services:",
                                   "  web:",
                                   "    libvirt_uri: xen:///system",
                                   "    domain: web-vm",
                                   "    preferred: [h3, h1]",
                                   "    checkpoint_interval_ms: 2000",
                                   "    min_acks: 2",
                                   "    retention: 5",
                                   "    mode: quorum",
                                   "    hooks:",
                                   "      pre_promote: /bin/pre",
                                   "      post_promote: /bin/post",
                                   "      on_split_brain: /bin/split",
                                   "      fence: /bin/fence",
                                   "  board: {}",
                               }),
                               "cluster.yaml");
  EXPECT_EQ(c.cluster_name, "prod-1");
  ASSERT_EQ(c.nodes.size(), 3u);
  EXPECT_EQ(c.nodes[0].port, 7401);
  EXPECT_EQ(c.nodes[0].ssh_host, "192.168.0.1");
  EXPECT_EQ(c.nodes[0].ssh_port, 2222);
  EXPECT_EQ(c.nodes[0].ssh_user, "vmrep");
  EXPECT_EQ(c.nodes[1].address, "h2.example.org");
  EXPECT_EQ(c.nodes[1].ssh_host, "h2.example.org");
  EXPECT_EQ(c.tls.cert, "/etc/vmrep/{node}.crt");  // the daemon substitutes, not the loader
  EXPECT_EQ(c.tls.key, "/etc/vmrep/{node}.key");
  EXPECT_EQ(c.timing.tick_ms, 50u);
  EXPECT_EQ(c.timing.heartbeat_interval_ms, 125u);
  EXPECT_EQ(c.timing.suspect_timeout_ms, 600u);
  EXPECT_EQ(c.timing.suspect_timeout_max_ms, 6000u);
  EXPECT_EQ(c.control_socket, "/run/vmrep/{node}.sock");
  EXPECT_EQ(c.control_socket_mode, 0660u);
  EXPECT_EQ(c.metrics_port, std::optional<std::uint16_t>(9464));
  EXPECT_EQ(c.data_dir, "/srv/vmrep/{node}");
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_EQ(c.services.size(), 2u);  // file order
  const Service& web = c.services[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.libvirt_uri, "xen:///system");
  EXPECT_EQ(web.domain, "web-vm");
  EXPECT_EQ(web.preferred, (Names{"h3", "h1", "h2"}));  // the unlisted follow in node order
  EXPECT_EQ(c.services[1].preferred, (Names{"h2", "h3", "h1"}))
      << "no list: node order rotated by the service's position, so first primaries spread";
  EXPECT_EQ(web.checkpoint_interval_ms, 2000u);
  EXPECT_EQ(web.min_acks, 2u);
  EXPECT_EQ(web.retention, 5u);
  EXPECT_EQ(web.mode, Mode::quorum);
  EXPECT_EQ(web.hooks.pre_promote, "/bin/pre");
  EXPECT_EQ(web.hooks.post_promote, "/bin/post");
  EXPECT_EQ(web.hooks.on_split_brain, "/bin/split");
  EXPECT_EQ(web.hooks.fence, "/bin/fence");
  EXPECT_EQ(c.services[1].name, "board");
  EXPECT_EQ(c.node_id("h1"), 1u);
  EXPECT_EQ(c.node_id("h3"), 3u);
  EXPECT_EQ(c.node_id("h4"), 0u);
  EXPECT_EQ(c.node_id(""), 0u);
}

TEST(ConfigLoad, Example_ShippedClusterFile_Loads) {
  const std::string path = std::string(VMREP_EXAMPLES_DIR) + "/cluster.yaml";
  const Config c = load_file(path);
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.cluster_name, "lab");
  ASSERT_EQ(c.nodes.size(), 3u);
  EXPECT_EQ(c.nodes[2].ssh_user, "vmrep-sftp");
  EXPECT_EQ(c.replication.store_owner, "vmrep-sftp");
  EXPECT_EQ(c.nodes[2].ssh_host, "10.77.0.3");
  EXPECT_FALSE(c.tls.insecure);
  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].name, "board");
  EXPECT_EQ(c.services[0].domain, "board");
  EXPECT_EQ(c.services[0].preferred, (Names{"h1", "h2", "h3"}));
}

TEST(ConfigLoad, Insecure_AllLoopback_Accepted) {
  const Config c = load_string(yaml({
                                   "nodes:",
                                   "  - {name: a, address: 127.0.0.1, port: 7401}",
                                   "  - {name: b, address: 127.1.2.3}",
                                   "  - {name: c, address: '::1'}",
                                   "  - {name: d, address: LocalHost}",
                                   "tls:",
                                   "  insecure: true",
                               }),
                               "cluster.yaml");
  EXPECT_TRUE(c.tls.insecure);
  EXPECT_TRUE(c.tls.ca.empty());
}

TEST(ConfigLoad, Mode_OctalStringPlainZeroAndDecimal_AllMeanTheSame) {
  for (const char* mode : {"\"0600\"", "'600'", "0600", "0o600", "384"}) {
    const std::string line = std::string("control: {mode: ") + mode + "}";
    const Config c = load_string(with_head({line.c_str()}), "cluster.yaml");
    EXPECT_EQ(c.control_socket_mode, 0600u) << mode;
  }
}

TEST(ConfigLoad, Scalars_QuotedIntegersAndYesNo_Accepted) {
  const Config c = load_string(yaml({
                                   "nodes: [{name: h1, address: 127.0.0.1, port: '7500'}]",
                                   "tls: {insecure: yes}",
                               }),
                               "cluster.yaml");
  EXPECT_EQ(c.nodes[0].port, 7500);
  EXPECT_TRUE(c.tls.insecure);
}

TEST(ConfigLoad, Hooks_EmptyOrMultiLine_Kept) {
  const Config c = load_string(with_head({
                                   "services:",
                                   "  board:",
                                   "    hooks:",
                                   "      fence:",
                                   "      on_split_brain: |",
                                   "        logger split",
                                   "        exit 0",
                               }),
                               "cluster.yaml");
  EXPECT_EQ(c.services[0].hooks.fence, "");
  EXPECT_EQ(c.services[0].hooks.on_split_brain, "logger split\nexit 0\n");
}

TEST(ConfigTicks, Defaults_CeilOfMsOverTick) {
  const TickTiming t = to_ticks(Timing{});
  EXPECT_EQ(t.heartbeat_every_ticks, 2u);
  EXPECT_EQ(t.suspect_after_ticks, 10u);
  EXPECT_EQ(t.suspect_after_ticks_max, 50u);
}

TEST(ConfigTicks, NotAMultiple_RoundsUp) {
  const TickTiming t = to_ticks(Timing{100, 250, 1001, 1099});
  EXPECT_EQ(t.heartbeat_every_ticks, 3u);
  EXPECT_EQ(t.suspect_after_ticks, 11u);
  EXPECT_EQ(t.suspect_after_ticks_max, 11u);
}

TEST(ConfigTicks, Tiny_AtLeastOneTick) {
  const TickTiming t = to_ticks(Timing{100, 0, 1, 100});
  EXPECT_EQ(t.heartbeat_every_ticks, 1u);
  EXPECT_EQ(t.suspect_after_ticks, 1u);
  EXPECT_EQ(t.suspect_after_ticks_max, 1u);
}

TEST(ConfigTicks, Extremes_NoOverflowNoDivisionByZero) {
  const TickTiming t = to_ticks(Timing{0, 4294967295u, 4294967295u, 4294967295u});
  EXPECT_EQ(t.heartbeat_every_ticks, 4294967295u);
  const TickTiming u = to_ticks(Timing{10000, 4294967295u, 10001, 20000});
  EXPECT_EQ(u.heartbeat_every_ticks, 429497u);
  EXPECT_EQ(u.suspect_after_ticks, 2u);
  EXPECT_EQ(u.suspect_after_ticks_max, 2u);
}

TEST(ConfigErrorText, What_IsLinesJoinedByNewline) {
  const ConfigError e({"a:1:1: x: one", "a:2:1: y: two"});
  EXPECT_STREQ(e.what(), "a:1:1: x: one\na:2:1: y: two");
  EXPECT_EQ(e.lines().size(), 2u);
}

TEST(ConfigLoad, Replication_DefaultsAndNodeSubstitution) {
  const Config d = load_string(with_head({"services: {}"}), "cluster.yaml");
  EXPECT_EQ(d.replication.ssh_key, "/etc/vmrep/ssh/id_ed25519");
  EXPECT_EQ(d.replication.known_hosts, "/etc/vmrep/ssh/known_hosts");
  EXPECT_EQ(d.replication.cluster_key, "/etc/vmrep/cluster.key");
  EXPECT_EQ(d.replication.ssh_timeout_ms, 10000u);

  const Config c = load_string(with_head({"data_dir: /srv/{node}/data", "replication:",
                                          "  ssh_key: /keys/{node}/id", "  known_hosts: /keys/known",
                                          "  cluster_key: /keys/cluster.key", "  ssh_timeout_ms: 2500"}),
                               "cluster.yaml");
  EXPECT_EQ(c.replication.ssh_timeout_ms, 2500u);
  EXPECT_EQ(c.data_dir_of("h3"), "/srv/h3/data") << "where a push to h3 goes";
  const Config h2 = resolve_for_node(c, "h2");
  EXPECT_EQ(h2.replication.ssh_key, "/keys/h2/id");
  EXPECT_EQ(h2.data_dir, "/srv/h2/data");
  EXPECT_EQ(h2.data_dir_of("h1"), "/srv/h1/data") << "the pattern survives resolving for this node";
}

}  // namespace
}  // namespace vmrep::config::test

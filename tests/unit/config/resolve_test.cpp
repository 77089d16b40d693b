#include <gtest/gtest.h>

#include "config/config.hpp"

namespace vmrep::config {
namespace {

TEST(ConfigResolve, NodePlaceholderReplacedInPerNodePathsOnly) {
  Config c = load_string(R"(
nodes:
  - {name: h1, address: 127.0.0.1, port: 7401}
  - {name: h2, address: 127.0.0.1, port: 7402}
tls: {ca: /pki/ca.crt, cert: "/pki/{node}.crt", key: "/pki/{node}/{node}.key"}
control: {socket: "/run/{node}.sock"}
data_dir: "/var/lib/vmrep/{node}"
)",
                         "cluster.yaml");
  Config r = resolve_for_node(c, "h2");
  EXPECT_EQ(r.tls.cert, "/pki/h2.crt");
  EXPECT_EQ(r.tls.key, "/pki/h2/h2.key");
  EXPECT_EQ(r.tls.ca, "/pki/ca.crt");
  EXPECT_EQ(r.control_socket, "/run/h2.sock");
  EXPECT_EQ(r.data_dir, "/var/lib/vmrep/h2");
  EXPECT_EQ(c.tls.cert, "/pki/{node}.crt");  // the input is left as it was
}

}  // namespace
}  // namespace vmrep::config

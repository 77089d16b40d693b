// The node's own certificate expiry as vmrepd reports it: /v1/status
// `certificate`, the metrics gauge and the warning at start, with a real
// Controller on 127.0.0.1 and a 10-day certificate from pki.
#include "controller/controller.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "config/config.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/transport/test_support.hpp"
#include "transport/pki.hpp"

namespace vmrep::controller {
namespace {

config::Config two_nodes(const vmrep::test::TempDir& dir) {
  const std::string yaml = "cluster: c1\n"
                           "nodes:\n"
                           "  - {name: h1, address: 127.0.0.1, port: " +
                           std::to_string(transport::test::free_port()) +
                           "}\n"
                           "  - {name: h2, address: 127.0.0.1, port: " +
                           std::to_string(transport::test::free_port()) +
                           "}\n"
                           "tls: {ca: \"" + dir.file("ca.crt") + "\", cert: \"" + dir.file("{node}.crt") +
                           "\", key: \"" + dir.file("{node}.key") + "\"}\n" +
                           "control: {socket: \"" + dir.file("{node}.sock") + "\"}\n" +
                           "data_dir: \"" + dir.file("{node}") + "\"\n";
  return config::resolve_for_node(config::load_string(yaml, "cluster.yaml"), "h1");
}

TEST(CertificateStatus, ShortLivedCertificate_IsReportedAndWarnedAtStart) {
  const vmrep::test::TempDir dir("cert-status");
  transport::pki::init(dir.str(), "c1");
  transport::pki::issue(dir.str(), "h1", 10);
  transport::pki::issue(dir.str(), "h2");
  const std::int64_t not_after = transport::pki::certificate_not_after(dir.file("h1.crt"));
  transport::test::LogCapture log;
  boost::asio::io_context io;
  Controller c(io, two_nodes(dir), 1);
  c.start();

  const nlohmann::json cert = c.status().at("certificate");
  ASSERT_TRUE(cert.is_object()) << cert.dump();
  EXPECT_EQ(cert.at("file"), dir.file("h1.crt"));
  EXPECT_EQ(cert.at("not_after"), transport::pki::rfc3339(not_after));
  // 10 days less the seconds since issue: 9 whole days, or 10 within the same second.
  const auto seconds_left = cert.at("seconds_left").get<std::int64_t>();
  EXPECT_GT(seconds_left, 9 * 86400);
  EXPECT_LE(seconds_left, 10 * 86400);
  EXPECT_EQ(cert.at("days_left").get<std::int64_t>(), seconds_left / 86400);

  const std::string metrics = c.metrics();
  EXPECT_NE(metrics.find("# TYPE vmrep_certificate_expiry_seconds gauge"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vmrep_certificate_expiry_seconds{node=\"h1\"} 86"), std::string::npos) << metrics;

  // Fewer than 30 days left: one warning at start naming the file and the date.
  EXPECT_EQ(log.count("TLS certificate " + dir.file("h1.crt") + " expires " + transport::pki::rfc3339(not_after) +
                      ", in "),
            1u);
  c.stop("test");
  io.run_for(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace vmrep::controller

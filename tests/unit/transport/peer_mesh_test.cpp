// PeerMesh over real TCP on 127.0.0.1 (ephemeral ports), TLS with
// certificates from pki, every wait bounded.

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "mesh_fixture.hpp"
#include "transport/tls_context.hpp"

namespace vmrep::transport {
namespace {

using test::estimate_frame;
using test::MeshTest;
using test::Node;
using test::RawClient;
using test::run_for;
using test::run_until;
using test::TempDir;

TEST_F(MeshTest, ThreeNodesOverTls_EveryNodeReceivesFromEveryOther) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (std::uint32_t id = 1; id <= 3; ++id) nodes.push_back(start(config(id, 3)));
  // Sent before any link is up: queued, then delivered after the Hello.
  for (std::uint32_t id = 1; id <= 3; ++id) nodes[id - 1]->mesh->broadcast(estimate_frame(5, id));

  auto all_received = [&](std::size_t per_peer) {
    for (std::uint32_t i = 1; i <= 3; ++i) {
      for (std::uint32_t j = 1; j <= 3; ++j) {
        if (i != j && nodes[i - 1]->consensus_from(j) < per_peer) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(run_until(io, [&] { return all_received(1); }));
  for (std::uint32_t id = 1; id <= 3; ++id) nodes[id - 1]->mesh->broadcast(estimate_frame(6, 100 + id));
  ASSERT_TRUE(run_until(io, [&] { return all_received(2); }));

  for (std::uint32_t i = 1; i <= 3; ++i) {
    const Node& n = *nodes[i - 1];
    for (const auto& [from, frame] : n.frames) {
      ASSERT_TRUE(frame.has_consensus());
      const auto& c = frame.consensus();
      EXPECT_EQ(c.estimate().value(), c.instance() == 5 ? from : 100 + from) << "node " << i;
    }
    for (std::uint32_t j = 1; j <= 3; ++j) {
      if (i == j) continue;
      const auto s = n.mesh->stats(j);
      EXPECT_TRUE(s.outbound_up && s.inbound_up);
      EXPECT_EQ(s.frames_out, 2u);
      EXPECT_EQ(s.frames_in, 2u);
      EXPECT_GT(s.bytes_out, 0u);
      EXPECT_GT(s.bytes_in, 0u);
      EXPECT_EQ(s.frames_dropped, 0u);
      EXPECT_TRUE(n.link_event(j, true));
    }
    EXPECT_EQ(n.mesh->inbound_refused(), 0u);
  }

  // A clean stop: the others get its Goodbye and see its link drop.
  nodes[0]->mesh->stop("maintenance");
  nodes[0]->mesh->stop("again");  // harmless
  ASSERT_TRUE(run_until(io, [&] {
    return nodes[1]->count(1, wire::Frame::kGoodbye) == 1 && nodes[2]->count(1, wire::Frame::kGoodbye) == 1 &&
           nodes[1]->link_event(1, false) && nodes[2]->link_event(1, false);
  }));
  EXPECT_EQ(nodes[1]->frames.back().second.goodbye().reason(), "maintenance");
  EXPECT_FALSE(nodes[0]->mesh->stats(2).outbound_up);
  EXPECT_FALSE(nodes[0]->mesh->stats(2).inbound_up);
}

TEST_F(MeshTest, InsecureMode_TrustsTheHello) {
  auto a = start(config(1, 2, /*insecure=*/true));
  auto b = start(config(2, 2, /*insecure=*/true));
  a->mesh->send(2, estimate_frame(1, 11));
  b->mesh->send(1, estimate_frame(1, 22));
  ASSERT_TRUE(run_until(io, [&] { return a->consensus_from(2) == 1 && b->consensus_from(1) == 1; }));
  EXPECT_EQ(a->frames[0].second.consensus().estimate().value(), 22u);
}

TEST_F(MeshTest, CertificateFromAnotherCa_IsRefused) {
  TempDir evil;
  pki::init(evil.str(), "c1");
  pki::issue(evil.str(), "h2");
  auto good = start(config(1, 2));
  auto cfg = config(2, 2);
  use_cert(cfg, evil, "h2");
  auto bad = start(cfg);
  bad->mesh->send(1, estimate_frame(1, 1));

  ASSERT_TRUE(run_until(io, [&] { return good->mesh->inbound_refused() >= 2; }));
  run_for(io, std::chrono::milliseconds(200));
  EXPECT_TRUE(good->frames.empty());
  EXPECT_TRUE(good->links.empty());
  EXPECT_FALSE(good->mesh->stats(2).inbound_up);
  EXPECT_FALSE(good->mesh->stats(2).outbound_up);  // nor does it trust the other CA's server
  EXPECT_FALSE(bad->mesh->stats(1).outbound_up);
  EXPECT_TRUE(log.contains("refused connection from 127.0.0.1:"));
  EXPECT_TRUE(log.contains("TLS handshake failed"));
}

TEST_F(MeshTest, ValidCertClaimingAnotherNode_IsRefused) {
  auto good = start(config(1, 3));
  // Holds h2's certificate but says it is h3.
  auto cfg = config(3, 3);
  cfg.peers = {{1, "h1", "127.0.0.1", ports[0]}};
  use_cert(cfg, certs, "h2");
  auto liar = start(cfg);
  liar->mesh->send(1, estimate_frame(1, 1));

  ASSERT_TRUE(run_until(io, [&] { return good->mesh->inbound_refused() >= 2; }));
  EXPECT_TRUE(good->frames.empty());
  EXPECT_FALSE(good->mesh->stats(3).inbound_up);
  EXPECT_FALSE(good->mesh->stats(2).inbound_up);
  EXPECT_GE(good->mesh->stats(2).connections_refused, 1u);  // the certificate says h2
  EXPECT_TRUE(log.contains("certificate CN 'h2' claims to be 'h3'"));
  EXPECT_TRUE(good->links.empty());

  // Accepted by TLS, then hung up on: the liar backs off (20 ms doubling to
  // 300 ms) instead of redialing every 20 ms.
  const auto before = good->mesh->inbound_refused();
  run_for(io, std::chrono::milliseconds(1500));
  EXPECT_LT(good->mesh->inbound_refused() - before, 15u);
  EXPECT_TRUE(good->frames.empty());
}

TEST_F(MeshTest, ServerWithAnotherNodesCert_IsRefusedByTheDialer) {
  auto cfg = config(1, 2);
  auto dialer = start(cfg);
  // Listens where h1 expects h2, but presents h3's certificate.
  auto impostor_cfg = config(2, 2);
  impostor_cfg.self_name = "h3";
  use_cert(impostor_cfg, certs, "h3");
  auto impostor = start(impostor_cfg);
  dialer->mesh->send(2, estimate_frame(1, 1));

  ASSERT_TRUE(run_until(io, [&] { return dialer->mesh->stats(2).connections_refused >= 1; }));
  EXPECT_FALSE(dialer->mesh->stats(2).outbound_up);
  EXPECT_NE(dialer->mesh->stats(2).last_error.find("certificate CN 'h3', expected 'h2'"), std::string::npos)
      << dialer->mesh->stats(2).last_error;
  EXPECT_TRUE(impostor->frames.empty());
}

// Two clusters sharing one CA: "h2" of c2 gets a valid certificate from it.
class SharedCaTest : public MeshTest {
 protected:
  void SetUp() override {
    MeshTest::SetUp();
    for (const char* f : {"ca.crt", "ca.key"}) {
      std::filesystem::copy_file(certs.path() / f, other.path() / f);
    }
    pki::issue(other.str(), "h2", 825, "c2");
  }
  TempDir other;
};

TEST_F(SharedCaTest, ClientCertOfAnotherCluster_IsRefusedInbound) {
  auto good = start(config(1, 2));
  // The certificate says c2. A node refuses to start with a certificate of
  // another cluster than its config's, so the intruder's config says c2 too;
  // the O= check comes right after the TLS handshake, before any Hello.
  auto cfg = config(2, 2);
  cfg.cluster = "c2";
  use_cert(cfg, other, "h2");
  auto intruder = start(cfg);
  intruder->mesh->send(1, estimate_frame(1, 1));

  ASSERT_TRUE(run_until(io, [&] { return good->mesh->inbound_refused() >= 1; }));
  run_for(io, std::chrono::milliseconds(200));
  EXPECT_TRUE(good->frames.empty());
  EXPECT_FALSE(good->mesh->stats(2).inbound_up);
  EXPECT_TRUE(log.contains("refused connection from 127.0.0.1:"));
  EXPECT_TRUE(log.contains("client certificate O= 'c2', expected cluster 'c1'"));
}

TEST_F(SharedCaTest, ServerCertOfAnotherCluster_IsRefusedByTheDialer) {
  auto dialer = start(config(1, 2));
  auto cfg = config(2, 2);
  cfg.cluster = "c2";  // as its certificate says (see above)
  use_cert(cfg, other, "h2");
  auto impostor = start(cfg);
  dialer->mesh->send(2, estimate_frame(1, 1));

  ASSERT_TRUE(run_until(io, [&] { return dialer->mesh->stats(2).connections_refused >= 1; }));
  EXPECT_FALSE(dialer->mesh->stats(2).outbound_up);
  const std::string error = dialer->mesh->stats(2).last_error;
  EXPECT_NE(error.find("refused server 127.0.0.1:" + std::to_string(ports[1]) +
                       ": certificate O= 'c2', expected cluster 'c1'"),
            std::string::npos)
      << error;
  EXPECT_TRUE(impostor->frames.empty());
}

TEST_F(SharedCaTest, CertOfThisClusterFromTheSameCa_Works) {
  TempDir mine;
  for (const char* f : {"ca.crt", "ca.key"}) std::filesystem::copy_file(certs.path() / f, mine.path() / f);
  pki::issue(mine.str(), "h2", 825, "c1");
  auto a = start(config(1, 2));
  auto cfg = config(2, 2);
  use_cert(cfg, mine, "h2");
  auto b = start(cfg);
  a->mesh->send(2, estimate_frame(1, 11));
  b->mesh->send(1, estimate_frame(1, 22));
  ASSERT_TRUE(run_until(io, [&] { return a->consensus_from(2) == 1 && b->consensus_from(1) == 1; }));
  EXPECT_EQ(a->mesh->inbound_refused(), 0u);
}

TEST(ClusterMismatch, NamesWhatWasFoundAndWhatIsExpected) {
  EXPECT_EQ(detail::cluster_mismatch(std::string("c1"), "c1"), "");
  EXPECT_EQ(detail::cluster_mismatch(std::string("c2"), "c1"), "certificate O= 'c2', expected cluster 'c1'");
  // A certificate without O= (made by hand, or before O= was checked) is
  // refused with the command that reissues it.
  for (const auto& none : {std::optional<std::string>(), std::optional<std::string>("")}) {
    const std::string why = detail::cluster_mismatch(none, "c1");
    EXPECT_NE(why.find("certificate has no O= (cluster name), expected cluster 'c1'"), std::string::npos) << why;
    EXPECT_NE(why.find("vmrepctl pki issue"), std::string::npos) << why;
  }
}

class RawClientTest : public MeshTest, public ::testing::WithParamInterface<bool> {};

TEST_P(RawClientTest, HugeLengthOrGarbage_IsDisconnectedAndListenerKeepsServing) {
  const bool insecure = GetParam();
  auto a = start(config(1, 2, insecure));

  RawClient huge(io, ports[0]);
  huge.send(std::string("\xff\xff\xff\xff", 4) + std::string(64, 'x'));
  huge.watch();
  RawClient garbage(io, ports[0]);
  garbage.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  garbage.watch();
  ASSERT_TRUE(run_until(io, [&] { return huge.closed() && garbage.closed(); }));
  EXPECT_EQ(a->mesh->inbound_refused(), 2u);
  if (insecure) {
    EXPECT_TRUE(log.contains("frame of 4294967295 bytes exceeds 1048576"));
  }

  auto b = start(config(2, 2, insecure));
  b->mesh->send(1, estimate_frame(1, 7));
  ASSERT_TRUE(run_until(io, [&] { return a->consensus_from(2) == 1; }));
  EXPECT_TRUE(a->link_event(2, true));
}

INSTANTIATE_TEST_SUITE_P(TlsAndPlain, RawClientTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Insecure" : "Tls"; });

TEST_F(MeshTest, InsecureFirstFrameNotHello_IsRefused) {
  auto a = start(config(1, 2, /*insecure=*/true));
  RawClient c(io, ports[0]);
  c.send(encode_frame(estimate_frame(1, 1)));
  c.watch();
  ASSERT_TRUE(run_until(io, [&] { return c.closed(); }));
  EXPECT_TRUE(log.contains("first frame is not a Hello"));

  wire::Frame hello;
  hello.mutable_hello()->set_cluster("other");
  hello.mutable_hello()->set_node("h2");
  RawClient d(io, ports[0]);
  d.send(encode_frame(hello));
  d.watch();
  ASSERT_TRUE(run_until(io, [&] { return d.closed(); }));
  EXPECT_TRUE(log.contains("cluster 'other', expected 'c1'"));

  hello.mutable_hello()->set_cluster("c1");
  hello.mutable_hello()->set_node("h9");
  RawClient e(io, ports[0]);
  e.send(encode_frame(hello));
  e.watch();
  ASSERT_TRUE(run_until(io, [&] { return e.closed(); }));
  EXPECT_TRUE(log.contains("unknown node 'h9'"));
  EXPECT_EQ(a->mesh->inbound_refused(), 3u);
  EXPECT_TRUE(a->frames.empty());
}

TEST_F(MeshTest, InsecureBadFrameAfterHello_ClosesTheLinkNamingThePeer) {
  auto a = start(config(1, 2, /*insecure=*/true));
  wire::Frame hello;
  hello.mutable_hello()->set_cluster("c1");
  hello.mutable_hello()->set_node("h2");
  RawClient c(io, ports[0]);
  // A body this build does not know is skipped; a zero length closes.
  c.send(encode_frame(hello) + encode_frame(wire::Frame{}) + encode_frame(estimate_frame(3, 4)) +
         std::string("\0\0\0\0", 4));
  c.watch();
  ASSERT_TRUE(run_until(io, [&] { return c.closed(); }));
  EXPECT_EQ(a->consensus_from(2), 1u);
  EXPECT_TRUE(a->link_event(2, true));
  EXPECT_TRUE(a->link_event(2, false));
  EXPECT_TRUE(log.contains("peer h2: frame refused: frame of 0 bytes"));
  EXPECT_FALSE(a->mesh->stats(2).inbound_up);
}

TEST_F(MeshTest, SilentClient_IsDroppedAfterTheHandshakeTimeout) {
  auto a = start(config(1, 2));
  RawClient c(io, ports[0]);
  c.watch();
  run_for(io, std::chrono::milliseconds(2500));
  EXPECT_FALSE(c.closed());
  ASSERT_TRUE(run_until(io, [&] { return c.closed(); }, std::chrono::milliseconds(2500)));
  EXPECT_TRUE(log.contains("no Hello within 3000 ms"));
  EXPECT_EQ(a->mesh->inbound_refused(), 1u);
}

// The issue's flood: idle plain TCP connections, none past its Hello, held
// open while a peer with a valid certificate restarts. `source(i)` is the
// address connection i comes from.
class FloodTest : public MeshTest {
 protected:
  template <class Source>
  void flood_while_a_peer_restarts(Source source);
};

template <class Source>
void FloodTest::flood_while_a_peer_restarts(Source source) {
  auto a = start(config(1, 2));
  auto b = start(config(2, 2));
  ASSERT_TRUE(run_until(io, [&] { return a->both_up(2) && b->both_up(1); }));
  b->mesh->stop("restart");
  b.reset();
  ASSERT_TRUE(run_until(io, [&] { return !a->mesh->stats(2).inbound_up; }));

  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < 200; ++i) {
    flood.push_back(std::make_unique<RawClient>(io, ports[0], source(i)));
    flood.back()->watch();
    if (i % 20 == 0) run_for(io, std::chrono::milliseconds(5));
  }
  run_for(io, std::chrono::milliseconds(200));
  const std::size_t refused_before = a->mesh->inbound_refused();

  const auto t0 = std::chrono::steady_clock::now();
  auto b2 = start(config(2, 2));
  // Two suspicion timeouts of the lab's settings (1 s each).
  ASSERT_TRUE(run_until(io, [&] { return a->mesh->stats(2).inbound_up; }, std::chrono::milliseconds(2000)))
      << "a restarted peer with a valid certificate stayed out while 200 idle connections were held";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::size_t open = 0;
  for (const auto& c : flood) open += c->closed() ? 0 : 1;
  EXPECT_LE(open, 64u) << "idle connections beyond the cap (64 awaiting their Hello) are not held";
  EXPECT_GT(a->mesh->inbound_refused(), 0u);
  std::printf("peer back in %lld ms; %zu of 200 idle connections still open; %zu refused before it dialed\n",
              static_cast<long long>(took.count()), open, refused_before);
  // Refusals are logged at a bounded rate, not one line each.
  EXPECT_LE(log.count("refused connection from"), 6u);
}

TEST_F(FloodTest, FromOneAddress_DisplacesOnlyItsOwnAndARestartedPeerGetsIn) {
  flood_while_a_peer_restarts( [](int) { return boost::asio::ip::make_address_v4("127.0.0.2"); });
}

TEST_F(FloodTest, FromManyAddresses_EvictsTheOldestAndARestartedPeerGetsIn) {
  flood_while_a_peer_restarts( [](int i) {
    return boost::asio::ip::address_v4(0x7F000000u + 10u + static_cast<unsigned>(i));  // 127.0.0.10..
  });
}

TEST_F(MeshTest, PeerRestart_LinksComeBack) {
  auto a = start(config(1, 2));
  auto b = start(config(2, 2));
  ASSERT_TRUE(run_until(io, [&] { return a->both_up(2) && b->both_up(1); }));

  b->mesh->stop("restart");
  b.reset();
  ASSERT_TRUE(run_until(io, [&] { return a->link_event(2, false) && !a->mesh->stats(2).outbound_up; }));
  EXPECT_EQ(a->count(2, wire::Frame::kGoodbye), 1u);
  run_for(io, std::chrono::milliseconds(100));  // a redials into a closed port at least once

  auto b2 = start(config(2, 2));
  ASSERT_TRUE(run_until(io, [&] { return a->both_up(2) && b2->both_up(1); }));
  a->mesh->send(2, estimate_frame(1, 1));
  b2->mesh->send(1, estimate_frame(1, 2));
  ASSERT_TRUE(run_until(io, [&] { return a->consensus_from(2) == 1 && b2->consensus_from(1) == 1; }));
  std::size_t ups = 0;
  for (const auto& l : a->links) ups += l == std::make_pair(2u, true) ? 1 : 0;
  EXPECT_EQ(ups, 2u);
}

TEST_F(MeshTest, SendQueue_IsBoundedAndDropsTheOldest) {
  auto cfg = config(1, 2);
  cfg.max_queued_frames = 4;
  auto a = start(cfg);  // h2 never comes up
  for (std::uint64_t v = 1; v <= 10; ++v) a->mesh->send(2, estimate_frame(1, v));
  EXPECT_EQ(a->mesh->stats(2).frames_dropped, 6u);

  // When h2 appears it gets the newest four, in order.
  auto b = start(config(2, 2));
  ASSERT_TRUE(run_until(io, [&] { return b->consensus_from(1) == 4; }));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(b->frames[i].second.consensus().estimate().value(), 7 + i);
}

TEST_F(MeshTest, FrameOverTheMaximum_IsNotSent) {
  auto cfg = config(1, 2);
  cfg.max_frame_bytes = 64;
  auto a = make(cfg);
  wire::Frame big;
  big.mutable_goodbye()->set_reason(std::string(100, 'x'));
  a->mesh->send(2, big);
  EXPECT_EQ(a->mesh->stats(2).frames_dropped, 1u);
  EXPECT_TRUE(log.contains("peer h2: frame of 106 bytes exceeds 64; not sent"));
}

TEST_F(MeshTest, DestroyWithoutStop_LeavesNothingBehind) {
  {
    auto a = start(config(1, 2));
    auto b = start(config(2, 2));
    ASSERT_TRUE(run_until(io, [&] { return a->both_up(2) && b->both_up(1); }));
    a->mesh->send(2, estimate_frame(1, 1));
  }
  // Pending handlers run after the meshes are gone.
  run_for(io, std::chrono::milliseconds(200));
  io.run();  // returns: nothing left that keeps the loop busy
  SUCCEED();
}

TEST_F(MeshTest, MissingTlsFile_ThrowsNamingIt) {
  auto cfg = config(1, 2);
  cfg.key_file = certs.file("nope.key");
  try {
    make(cfg);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(certs.file("nope.key")), std::string::npos) << e.what();
  }
  cfg = config(1, 2);
  cfg.key_file = certs.file("h2.key");  // not h1's certificate
  EXPECT_THROW(make(cfg), std::runtime_error);
}

TEST_F(MeshTest, OwnCertificateOfAnotherCluster_ThrowsAtStartNamingIt) {
  auto cfg = config(1, 2);
  cfg.cluster = "prod";  // the certificates say O=c1
  try {
    make(cfg);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(cfg.cert_file), std::string::npos) << what;
    EXPECT_NE(what.find("O= 'c1', expected cluster 'prod'"), std::string::npos) << what;
  }
}

TEST_F(MeshTest, PortInUse_ThrowsOnStart) {
  auto a = start(config(1, 2));
  auto b = make(config(1, 2));
  EXPECT_THROW(b->mesh->start(), std::runtime_error);
}

}  // namespace
}  // namespace vmrep::transport

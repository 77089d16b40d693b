#pragma once
// A few PeerMesh nodes on 127.0.0.1 in one io_context, run by the test thread.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "test_support.hpp"
#include "transport/peer_mesh.hpp"
#include "transport/pki.hpp"

namespace vmrep::transport::test {

// One mesh and everything its handlers saw.
struct Node {
  std::vector<std::pair<std::uint32_t, wire::Frame>> frames;
  std::vector<std::pair<std::uint32_t, bool>> links;
  std::unique_ptr<PeerMesh> mesh;  // last: destroyed first

  std::size_t count(std::uint32_t from, wire::Frame::BodyCase body) const {
    std::size_t n = 0;
    for (const auto& [id, f] : frames) n += (id == from && f.body_case() == body) ? 1 : 0;
    return n;
  }
  std::size_t consensus_from(std::uint32_t from) const { return count(from, wire::Frame::kConsensus); }
  bool link_event(std::uint32_t peer, bool up) const {
    for (const auto& l : links) {
      if (l == std::make_pair(peer, up)) return true;
    }
    return false;
  }
  bool both_up(std::uint32_t peer) const {
    const auto s = mesh->stats(peer);
    return s.outbound_up && s.inbound_up;
  }
};

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki::init(certs.str(), "c1");
    for (const char* n : {"h1", "h2", "h3"}) pki::issue(certs.str(), n);
    for (int i = 0; i < 3; ++i) ports.push_back(free_port());
  }

  static std::string name(std::uint32_t id) { return "h" + std::to_string(id); }

  // Node `self` of a cluster of `n` named h1..hn on `ports`, with the
  // certificate of `cert_name` (default: its own) from `cert_dir`.
  MeshConfig config(std::uint32_t self, std::uint32_t n, bool insecure = false) {
    MeshConfig c;
    c.cluster = "c1";
    c.self_id = self;
    c.self_name = name(self);
    c.listen_host = "127.0.0.1";
    c.listen_port = ports.at(self - 1);
    for (std::uint32_t id = 1; id <= n; ++id) {
      if (id != self) c.peers.push_back({id, name(id), "127.0.0.1", ports.at(id - 1)});
    }
    c.insecure = insecure;
    use_cert(c, certs, name(self));
    c.backoff_min = std::chrono::milliseconds(20);
    c.backoff_max = std::chrono::milliseconds(300);
    c.jitter_seed = 42;
    return c;
  }

  static void use_cert(MeshConfig& c, const TempDir& dir, const std::string& cert_name) {
    c.ca_file = dir.file("ca.crt");
    c.cert_file = dir.file(cert_name + ".crt");
    c.key_file = dir.file(cert_name + ".key");
  }

  std::unique_ptr<Node> make(MeshConfig c) {
    auto node = std::make_unique<Node>();
    Node* raw = node.get();
    node->mesh = std::make_unique<PeerMesh>(
        io, std::move(c), [raw](std::uint32_t from, const wire::Frame& f) { raw->frames.emplace_back(from, f); },
        [raw](std::uint32_t peer, bool up) { raw->links.emplace_back(peer, up); });
    return node;
  }

  std::unique_ptr<Node> start(MeshConfig c) {
    auto node = make(std::move(c));
    node->mesh->start();
    return node;
  }

  boost::asio::io_context io;
  TempDir certs;
  std::vector<std::uint16_t> ports;
  LogCapture log;
};

// A plain TCP client that sends raw bytes and notices when the server hangs
// up. Its socket lives as long as a pending read needs it.
class RawClient {
 public:
  // From `source` (any 127.x.y.z works on loopback; default 127.0.0.1).
  RawClient(boost::asio::io_context& io, std::uint16_t port,
            boost::asio::ip::address_v4 source = boost::asio::ip::address_v4::loopback())
      : state_(std::make_shared<State>(io)) {
    state_->socket.open(boost::asio::ip::tcp::v4());
    state_->socket.bind({source, 0});
    state_->socket.connect({boost::asio::ip::address_v4::loopback(), port});
  }
  ~RawClient() {
    boost::system::error_code ignored;
    state_->socket.close(ignored);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const std::string& bytes) {
    boost::system::error_code ignored;
    boost::asio::write(state_->socket, boost::asio::buffer(bytes), ignored);
  }
  // Starts reading; closed() turns true when the server closes.
  void watch() { read(state_); }
  bool closed() const { return state_->closed; }

 private:
  struct State {
    explicit State(boost::asio::io_context& io) : socket(io) {}
    boost::asio::ip::tcp::socket socket;
    std::array<char, 4096> buf{};
    bool closed = false;
  };
  static void read(std::shared_ptr<State> s) {
    s->socket.async_read_some(boost::asio::buffer(s->buf), [s](const boost::system::error_code& ec, std::size_t) {
      if (ec) {
        s->closed = true;
        return;
      }
      read(s);
    });
  }
  std::shared_ptr<State> state_;
};

}  // namespace vmrep::transport::test

// The control API server over a real unix socket and a real loopback port.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "controller/control_server.hpp"

namespace vmrep::controller {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// One HTTP/1.1 exchange with a server running on another thread's loop.
template <class Socket, class Endpoint>
std::string exchange(Endpoint ep, const std::string& request) {
  asio::io_context io;
  Socket s(io);
  s.connect(ep);
  asio::write(s, asio::buffer(request));
  std::string reply;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    std::size_t n = s.read_some(asio::buffer(buf), ec);
    reply.append(buf, n);
    if (ec) break;
  }
  return reply;
}

std::string get_unix(const std::string& path, const std::string& target, const std::string& method = "GET") {
  return exchange<asio::local::stream_protocol::socket>(asio::local::stream_protocol::endpoint(path),
                                                        method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

std::string get_tcp(std::uint16_t port, const std::string& target) {
  return exchange<asio::ip::tcp::socket>(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                         "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

std::uint16_t free_port() {
  static std::uint32_t next = std::random_device{}();
  asio::io_context io;
  for (int i = 0; i < 1000; ++i) {
    auto port = static_cast<std::uint16_t>(20000 + (next++ % 12000));
    asio::ip::tcp::acceptor a(io);
    boost::system::error_code ec;
    a.open(asio::ip::tcp::v4(), ec);
    a.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port");
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("vmrep-ctl-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    socket = (dir / "run" / "vmrepd.sock").string();  // parent created by the server
  }
  void TearDown() override {
    io.stop();
    if (loop.joinable()) loop.join();
    fs::remove_all(dir);
  }
  void run() {
    guard = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io.get_executor());
    loop = std::thread([this] { io.run(); });
  }

  fs::path dir;
  std::string socket;
  asio::io_context io;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread loop;
};

TEST_F(ControlServerTest, ServesRegisteredEndpointsOnTheUnixSocketWithItsMode) {
  ControlServer server(io, socket, 0600, std::nullopt);
  server.add("/v1/status", "status", [](const std::string& q) { return Reply{200, "application/json", "{\"q\":\"" + q + "\"}"}; });
  server.start();
  struct stat st {};
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  run();
  std::string r = get_unix(socket, "/v1/status?since=3");
  EXPECT_NE(r.find("HTTP/1.1 200"), std::string::npos) << r;
  EXPECT_NE(r.find("{\"q\":\"since=3\"}"), std::string::npos) << r;
  std::string help = get_unix(socket, "/v1/help");
  EXPECT_NE(help.find("\"/v1/status\": \"status\""), std::string::npos) << help;
  EXPECT_NE(get_unix(socket, "/nope").find("HTTP/1.1 404"), std::string::npos);
  EXPECT_NE(get_unix(socket, "/v1/status", "POST").find("HTTP/1.1 405"), std::string::npos);
  std::string bad = exchange<asio::local::stream_protocol::socket>(asio::local::stream_protocol::endpoint(socket),
                                                                   "garbage\r\n\r\n");
  EXPECT_NE(bad.find("HTTP/1.1 400"), std::string::npos) << bad;
  EXPECT_NE(get_unix(socket, "/v1/status").find("HTTP/1.1 200"), std::string::npos);  // still serving
}

TEST_F(ControlServerTest, MetricsPortServesOnlyMetricsEndpointsOnLoopback) {
  std::uint16_t port = free_port();
  ControlServer server(io, socket, 0600, port);
  server.add("/v1/status", "status", [](const std::string&) { return Reply{200, "application/json", "{}"}; });
  server.add("/metrics", "metrics", [](const std::string&) { return Reply{200, "text/plain", "vmrep_up 1\n"}; }, true);
  server.start();
  EXPECT_EQ(server.metrics_port(), port);
  run();
  EXPECT_NE(get_tcp(port, "/metrics").find("vmrep_up 1"), std::string::npos);
  EXPECT_NE(get_tcp(port, "/v1/status").find("HTTP/1.1 404"), std::string::npos);
}

TEST_F(ControlServerTest, RefusesASocketALiveDaemonAnswersOnAndClaimsAStaleOne) {
  ControlServer first(io, socket, 0600, std::nullopt);
  first.start();
  run();
  asio::io_context io2;
  ControlServer second(io2, socket, 0600, std::nullopt);
  try {
    second.start();
    FAIL() << "a second server took a live socket";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another vmrepd is running"), std::string::npos) << e.what();
  }
  // A file left behind by a dead daemon is replaced.
  std::string stale = (dir / "stale.sock").string();
  std::ofstream(stale) << "";
  ControlServer third(io2, stale, 0600, std::nullopt);
  EXPECT_NO_THROW(third.start());
}

}  // namespace
}  // namespace vmrep::controller

// vmrepd: one per host. Linear main (libvirt's remote_daemon.c, LogCabin's
// Main.cc): args -> config (--check-config exits here) -> logging -> pidfile
// -> one Controller -> signals -> run -> teardown in reverse.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "controller/controller.hpp"

namespace {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  std::string s = buf;
  return s.substr(0, s.find('.'));
}

std::string node_list(const vmrep::config::Config& c) {
  std::string s;
  for (const auto& n : c.nodes) s += (s.empty() ? "" : ", ") + n.name;
  return s;
}

int check_config(const std::string& path) {
  try {
    auto c = vmrep::config::load_file(path);
    std::printf("%s: OK (%zu node(s), %zu service(s))\n", path.c_str(), c.nodes.size(), c.services.size());
    return 0;
  } catch (const vmrep::config::ConfigError& e) {
    for (const auto& line : e.lines()) std::fprintf(stderr, "%s\n", line.c_str());
    return 1;
  }
}

void setup_logging(const std::string& node, const std::string& level) {
  auto logger = spdlog::stderr_color_mt("vmrepd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ " + node + " %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmrepd: the vmrep daemon. One runs on every host; together they elect a primary per service\n"
               "with self-stabilizing consensus and keep it serving. Control it with vmrepctl."};
  std::string config_path = "/etc/vmrep/cluster.yaml";
  std::string node;
  std::string check_path;
  std::string log_level;
  app.add_option("-c,--config", config_path, "cluster file")->capture_default_str();
  app.add_option("-n,--node", node, "which node of the cluster file this host is (default: the host name)");
  app.add_option("--check-config", check_path, "validate FILE, print every problem, exit 0 (valid) or 1");
  app.add_option("--log-level", log_level, "override log_level: trace debug info warn error critical off");
  app.set_version_flag("--version", "vmrepd 0.1.0");
  CLI11_PARSE(app, argc, argv);

  if (!check_path.empty()) return check_config(check_path);

  vmrep::config::Config config;
  try {
    config = vmrep::config::load_file(config_path);
  } catch (const vmrep::config::ConfigError& e) {
    for (const auto& line : e.lines()) std::fprintf(stderr, "%s\n", line.c_str());
    return 1;
  }
  if (node.empty()) node = host_name();
  std::uint32_t self = config.node_id(node);
  if (self == 0) {
    std::fprintf(stderr, "vmrepd: node '%s' is not in %s (nodes: %s); pick one with --node NAME\n", node.c_str(),
                 config_path.c_str(), node_list(config).c_str());
    return 1;
  }
  config = vmrep::config::resolve_for_node(std::move(config), node);
  if (!log_level.empty()) config.log_level = log_level;
  setup_logging(node, config.log_level);

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::critical("data_dir {}: {}", config.data_dir, ec.message());
    return 1;
  }
  std::string pidfile = config.data_dir + "/vmrepd.pid";
  std::ofstream(pidfile) << getpid() << "\n";

  boost::asio::io_context io;
  int rc = 0;
  {
    vmrep::controller::Controller controller(io, config, self);
    try {
      controller.start();
    } catch (const std::exception& e) {
      spdlog::critical("cannot start: {}", e.what());
      std::filesystem::remove(pidfile, ec);
      return 1;
    }
    boost::asio::steady_timer drain(io);
    boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
    boost::asio::signal_set hup(io, SIGHUP);
    stop_signals.async_wait([&](const boost::system::error_code& err, int sig) {
      if (err) return;
      controller.stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
      hup.cancel();
      // Give the Goodbye frames a moment on the wire, then leave.
      drain.expires_after(std::chrono::milliseconds(300));
      drain.async_wait([&](const boost::system::error_code&) { io.stop(); });
    });
    std::function<void()> wait_hup = [&] {
      hup.async_wait([&](const boost::system::error_code& err, int) {
        if (err) return;
        try {
          controller.reload(vmrep::config::resolve_for_node(vmrep::config::load_file(config_path), node));
        } catch (const vmrep::config::ConfigError& e) {
          spdlog::error("reload refused, keeping the running configuration: {}", e.lines().front());
        }
        wait_hup();
      });
    };
    wait_hup();
    io.run();
  }
  std::filesystem::remove(pidfile, ec);
  spdlog::info("stopped");
  return rc;
}

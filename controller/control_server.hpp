#pragma once
// The control API: HTTP/1.1 over a unix socket (Boost.Beast), and optionally
// /metrics over 127.0.0.1:PORT. Each endpoint is registered with its help text
// (Ceph's AdminSocket, LogCabin's ControlService); GET /v1/help lists them.
// Requests are small and answered at once from the loop's state; each
// connection gets one request, a 5 s deadline and a 64 KiB request cap.
//
// Contract: event-loop thread only; handlers run on it and must not block.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

namespace vmrep::controller {

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// `query` is the part after '?', undecoded ("" if none).
using Handler = std::function<Reply(const std::string& query)>;

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, std::string socket_path, std::uint32_t socket_mode,
                std::optional<std::uint16_t> metrics_port);
  ~ControlServer();

  void add(const std::string& path, const std::string& help, Handler handler, bool on_metrics_port = false);
  // An action (it changes something): POST only, never on the metrics port.
  void add_action(const std::string& path, const std::string& help, Handler handler);
  // Throws std::runtime_error (one line) if the socket cannot be bound, or if
  // another daemon already answers on it.
  void start();
  void stop();
  std::uint16_t metrics_port() const;

  Reply dispatch(const std::string& method, const std::string& target, bool via_tcp) const;

 private:
  struct Endpoint {
    std::string help;
    Handler handler;
    bool on_metrics_port;
    std::string method = "GET";
  };
  class Listeners;

  std::string socket_path_;
  std::uint32_t socket_mode_;
  std::optional<std::uint16_t> metrics_port_;
  std::map<std::string, Endpoint> endpoints_;
  std::unique_ptr<Listeners> listeners_;
  boost::asio::io_context& io_;
};

}  // namespace vmrep::controller

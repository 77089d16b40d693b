#pragma once
// The control API: HTTP/1.1 over a unix socket (Boost.Beast), and optionally
// /metrics over 127.0.0.1:PORT. Each endpoint is registered with its help text
// (Ceph's AdminSocket, LogCabin's ControlService); GET /v1/help lists them.
// Requests are small and answered at once from the loop's state; each
// connection gets one request, a 5 s deadline and a 64 KiB request cap.
//
// Hostile input (any local user can connect): no exception leaves a request
// (a handler's is answered 500, a malformed request 400, anything else is
// logged and the connection closed); every reply that echoes the request
// makes it valid UTF-8 first (json_reply); each listener holds at most
// kMaxSessions connections at once (more are closed at accept, logged at a
// bounded rate), and a failing accept() (descriptors exhausted) backs off
// from 10 ms to 1 s instead of spinning the loop.
//
// Contract: event-loop thread only; handlers run on it and must not block.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace vmrep::controller {

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// A JSON reply; strings that are not valid UTF-8 (a peer's text, a request's
// path) are written with U+FFFD instead of making dump() throw.
Reply json_reply(unsigned status, const nlohmann::json& body, int indent = -1);

// `query` is the part after '?', undecoded ("" if none).
using Handler = std::function<Reply(const std::string& query)>;

class ControlServer {
 public:
  static constexpr std::size_t kMaxSessions = 32;  // open connections per listener

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

  // Never throws: unknown paths 404, wrong methods 405, a handler's exception 500.
  Reply dispatch(const std::string& method, const std::string& target, bool via_tcp) const noexcept;
  // One raw request as it came off a socket (the fuzz target's entry): 400
  // when it does not parse as HTTP/1.x within the caps, else dispatch().
  Reply handle_raw(std::string_view bytes, bool via_tcp) const noexcept;

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

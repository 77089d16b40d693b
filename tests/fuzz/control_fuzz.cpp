// Arbitrary bytes as one request to the control API (what any local user can
// send to the unix socket, or to the metrics port), through the same parser
// caps and dispatch the daemon's sessions use (ControlServer::handle_raw).
// Checked besides sanitizer reports:
//   - nothing throws out of it (handle_raw is noexcept: an escape aborts);
//   - every reply has a status in 200..599, and a JSON reply's body parses as
//     JSON (so it is valid UTF-8, whatever the path or query carried);
//   - the endpoints registered here echo the query and throw with its bytes
//     in the message, so hostile text reaches every reply-building path.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "controller/control_server.hpp"

using vmrep::controller::ControlServer;
using vmrep::controller::Reply;

namespace {

[[noreturn]] void fail(const char* what, const Reply& r) {
  std::fprintf(stderr, "control_fuzz: %s (status %u, body %zu bytes)\n", what, r.status, r.body.size());
  std::abort();
}

ControlServer& server() {
  static boost::asio::io_context io;
  static ControlServer* s = [] {
    auto* c = new ControlServer(io, "/nonexistent/control_fuzz.sock", 0600, std::nullopt);
    c->add("/v1/echo", "echoes the query", [](const std::string& q) {
      return vmrep::controller::json_reply(200, {{"query", q}});
    });
    c->add("/v1/throw", "throws with the query in the message",
           [](const std::string& q) -> Reply { throw std::runtime_error("bad query " + q); }, true);
    c->add_action("/v1/act", "an action", [](const std::string& q) {
      return vmrep::controller::json_reply(202, {{"did", q}});
    });
    return c;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const bool via_tcp : {false, true}) {
    const Reply r = server().handle_raw(bytes, via_tcp);
    if (r.status < 200 || r.status > 599) fail("status out of range", r);
    if (r.content_type == "application/json" && !nlohmann::json::accept(r.body)) fail("reply is not JSON", r);
  }
  return 0;
}

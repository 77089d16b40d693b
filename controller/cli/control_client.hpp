#pragma once
// vmrepctl's side of the control API: one GET or POST over the daemon's unix socket.

#include <stdexcept>
#include <string>

namespace vmrep::cli {

// The daemon could not be reached at all (not running, wrong socket, no
// permission). what() says how to fix it.
class Unreachable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Response {
  unsigned status = 0;
  std::string body;
};

// Throws Unreachable, or std::runtime_error for a broken exchange.
Response get(const std::string& socket_path, const std::string& target);
// The same for an action endpoint (empty body).
Response post(const std::string& socket_path, const std::string& target);

}  // namespace vmrep::cli

#include "replication/failure.hpp"

namespace vmrep::replication {

const char* to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::not_found: return "not_found";
    case FailureKind::connection: return "connection";
    case FailureKind::corrupt: return "corrupt";
    case FailureKind::no_space: return "no_space";
    case FailureKind::timeout: return "timeout";
    case FailureKind::unsupported: return "unsupported";
    case FailureKind::invalid: return "invalid";
    case FailureKind::failed: return "failed";
  }
  return "failed";
}

}  // namespace vmrep::replication

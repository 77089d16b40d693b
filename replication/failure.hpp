#pragma once
// A failed VM or store job as the policy sees it: what kind of failure (so
// the policy can treat a missing domain, a lost libvirt connection and a full
// disk differently, and tests can assert which) and the one-line text for
// logs and events.
#include <string>

namespace vmrep::replication {

enum class FailureKind {
  not_found,    // no such domain, version or chunk
  connection,   // libvirtd (or a peer) unreachable, the connection dropped
  corrupt,      // bytes or a manifest that do not verify
  no_space,     // a disk or quota is full
  timeout,      // a bounded wait ran out
  unsupported,  // the driver cannot do this
  invalid,      // a bad argument, file or configuration
  failed,       // anything else
};

const char* to_string(FailureKind kind);  // "no_space", ...

struct Failure {
  FailureKind kind = FailureKind::failed;
  std::string detail;  // one line
  friend bool operator==(const Failure&, const Failure&) = default;
};

}  // namespace vmrep::replication

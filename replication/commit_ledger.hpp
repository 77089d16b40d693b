#pragma once
// The serving host's commit rule. A version is committed once `min_acks`
// backups acknowledged holding it; an acknowledgement is believed only for a
// version this host pushed to that very backup and announced, once. A forged
// ack (a version never pushed, one pushed to another backup, a replay) changes
// nothing: believed, it would record as committed a version nobody holds and
// block every later quorum-mode failover.
#include <cstddef>
#include <map>
#include <optional>
#include <set>

#include "replication/types.hpp"

namespace vmrep::replication {

enum class AckVerdict {
  not_pushed,  // not awaited from that backup: ignored (counted as unexpected)
  refused,     // the backup refused the version: it counts nothing
  held,        // the backup holds it
};

class CommitLedger {
 public:
  // At most `window` versions await an ack per backup (oldest dropped) and as
  // many versions collect acks.
  explicit CommitLedger(std::size_t window = 64) : window_(window) {}

  // v was pushed to `to` and announced: its ack is now awaited.
  void pushed(NodeId to, Version v);

  // Judges an ack from `from`. An awaited version is awaited no more,
  // whatever the answer.
  AckVerdict acknowledged(NodeId from, Version v, bool ok);

  // Counts a held version (only a serving host does). Returns v when it
  // becomes committed: `min_acks` backups hold it and it is newer than
  // `committed`. Acks of versions at or below the new committed one are
  // dropped (they need no more).
  std::optional<Version> count(NodeId from, Version v, std::size_t min_acks, const std::optional<Version>& committed);

  std::size_t unexpected(NodeId from) const;
  std::size_t awaiting(NodeId from) const;

 private:
  std::size_t window_;
  std::map<NodeId, std::set<Version>> awaiting_;
  std::map<NodeId, std::size_t> unexpected_;
  std::map<Version, std::set<NodeId>> holders_;
};

}  // namespace vmrep::replication

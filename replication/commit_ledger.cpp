#include "replication/commit_ledger.hpp"

namespace vmrep::replication {

void CommitLedger::pushed(NodeId to, Version v) {
  std::set<Version>& awaited = awaiting_[to];
  awaited.insert(v);
  while (awaited.size() > window_) awaited.erase(awaited.begin());
}

AckVerdict CommitLedger::acknowledged(NodeId from, Version v, bool ok) {
  auto it = awaiting_.find(from);
  if (it == awaiting_.end() || it->second.erase(v) == 0) {
    ++unexpected_[from];
    return AckVerdict::not_pushed;
  }
  return ok ? AckVerdict::held : AckVerdict::refused;
}

std::optional<Version> CommitLedger::count(NodeId from, Version v, std::size_t min_acks,
                                           const std::optional<Version>& committed) {
  if (committed && v <= *committed) return std::nullopt;
  std::set<NodeId>& holders = holders_[v];
  holders.insert(from);
  std::optional<Version> now_committed;
  if (holders.size() >= min_acks) now_committed = v;
  const std::optional<Version> floor = now_committed ? now_committed : committed;
  while (!holders_.empty() && floor && holders_.begin()->first <= *floor) holders_.erase(holders_.begin());
  while (holders_.size() > window_) holders_.erase(holders_.begin());
  return now_committed;
}

std::size_t CommitLedger::unexpected(NodeId from) const {
  const auto it = unexpected_.find(from);
  return it == unexpected_.end() ? 0 : it->second;
}

std::size_t CommitLedger::awaiting(NodeId from) const {
  const auto it = awaiting_.find(from);
  return it == awaiting_.end() ? 0 : it->second.size();
}

}  // namespace vmrep::replication

#include "replication/intake.hpp"

namespace vmrep::replication {

std::optional<AcceptJob> Intake::pushed(NodeId from, Version v) {
  auto [it, fresh] = waiting_.emplace(from, v);
  if (!fresh && it->second < v) it->second = v;
  return accepting_ ? std::nullopt : next();
}

std::optional<AcceptJob> Intake::accepted() {
  accepting_ = false;
  return next();
}

std::optional<AcceptJob> Intake::next() {
  if (waiting_.empty()) return std::nullopt;
  const AcceptJob job{waiting_.begin()->first, waiting_.begin()->second};
  waiting_.erase(waiting_.begin());
  accepting_ = true;
  return job;
}

}  // namespace vmrep::replication

#include "replication/invariants.hpp"

namespace vmrep::replication {
namespace {

std::string text(const std::optional<Version>& v) { return v ? to_string(*v) : std::string("none"); }

}  // namespace

void check_host(const HostFacts& f, std::vector<std::string>& out) {
  if (f.committed && (!f.newest_held || *f.committed > *f.newest_held))
    out.push_back("committed " + text(f.committed) + " is newer than the newest version held here, " +
                  text(f.newest_held));
  if (f.state == ServiceState::serving && f.highest_known && f.term < f.highest_known->term)
    out.push_back("serving with term " + std::to_string(f.term) + " below a known version's term (" +
                  text(f.highest_known) + ")");
  for (const auto& v : {f.newest_held, f.committed, f.highest_known})
    if (v && !snapshots::valid_version(*v)) out.push_back("version " + text(v) + " is past the limit of 2^62");
}

}  // namespace vmrep::replication

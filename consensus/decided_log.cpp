#include "consensus/decided_log.hpp"

#include <algorithm>

namespace vmrep::consensus::decided_log {
namespace {

// FNV-1a over the entry's 16 bytes, chained: equal histories, equal digests.
std::uint64_t mix(std::uint64_t h, Decision d) {
  if (h == 0) h = 0xcbf29ce484222325ull;
  for (std::uint64_t word : {d.epoch, d.value}) {
    for (int i = 0; i < 8; ++i) {
      h ^= (word >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

}  // namespace

void truncate(DecidedLog& log, std::uint32_t window) {
  if (log.recent.size() <= window) return;
  std::size_t drop = log.recent.size() - window;
  for (std::size_t i = 0; i < drop; ++i) {
    log.evicted_digest = mix(log.evicted_digest, log.recent[i]);
    ++log.evicted_count;
  }
  log.recent.erase(log.recent.begin(), log.recent.begin() + static_cast<std::ptrdiff_t>(drop));
}

void append(DecidedLog& log, Decision d, std::uint32_t window) {
  log.recent.push_back(d);
  truncate(log, window);
}

bool well_formed(const DecidedLog& log, std::uint64_t next_epoch) {
  for (std::size_t i = 0; i < log.recent.size(); ++i) {
    if (log.recent[i].epoch >= next_epoch) return false;
    if (i > 0 && log.recent[i - 1].epoch >= log.recent[i].epoch) return false;
  }
  return true;
}

void repair(DecidedLog& log, std::uint64_t next_epoch) {
  auto& r = log.recent;
  std::erase_if(r, [&](const Decision& d) { return d.epoch >= next_epoch; });
  std::size_t start = r.size();
  while (start > 0 && (start == r.size() || r[start - 1].epoch < r[start].epoch)) --start;
  r.erase(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(start));
}

const Decision* find(const DecidedLog& log, std::uint64_t epoch) {
  auto it = std::find_if(log.recent.rbegin(), log.recent.rend(),
                         [&](const Decision& d) { return d.epoch == epoch; });
  return it == log.recent.rend() ? nullptr : &*it;
}

}  // namespace vmrep::consensus::decided_log

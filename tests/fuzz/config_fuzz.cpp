// libFuzzer target for the config loader (config/config.hpp).
// Contract under test: load_string() on ANY bytes returns a Config or throws
// ConfigError, never anything else and never crashes; every error line is
// one line ("FILE..." prefix, no newline inside); a Config it returns is one
// the rest of vmrepd can trust (at least one node, ranges hold, to_ticks is
// sane). ConfigError::internal() means load_string caught an exception it
// should never have seen, so it counts as a bug too.
// Build: links vmrep_config (and, through it, yaml-cpp); seeds in
// tests/fuzz/corpus/config/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

namespace {

void check_config(const vmrep::config::Config& c) {
  if (c.nodes.empty()) std::abort();
  const auto& t = c.timing;
  if (t.tick_ms < 10 || t.tick_ms > 10000 || t.heartbeat_interval_ms < t.tick_ms ||
      t.suspect_timeout_ms <= t.heartbeat_interval_ms || t.suspect_timeout_max_ms < t.suspect_timeout_ms)
    std::abort();
  const auto ticks = vmrep::config::to_ticks(t);
  if (ticks.heartbeat_every_ticks == 0 || ticks.suspect_after_ticks < ticks.heartbeat_every_ticks ||
      ticks.suspect_after_ticks_max < ticks.suspect_after_ticks)
    std::abort();
  for (const auto& n : c.nodes)
    if (n.name.empty() || n.address.empty() || n.port == 0 || c.node_id(n.name) == 0) std::abort();
  if (!c.tls.insecure && (c.tls.ca.empty() || c.tls.cert.empty() || c.tls.key.empty())) std::abort();
  for (const auto& s : c.services) {
    if (s.min_acks >= c.nodes.size() || s.retention == 0 || s.domain.empty()) std::abort();
    if (s.preferred.size() != c.nodes.size()) std::abort();
    for (const auto& p : s.preferred)
      if (c.node_id(p) == 0) std::abort();
  }
  if (c.control_socket_mode > 0777) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    check_config(vmrep::config::load_string(text, "fuzz.yaml"));
  } catch (const vmrep::config::ConfigError& e) {
    // The loader's own failures are bugs; the file's text may say anything
    // (a key named "internal error ..." included), so ask the exception.
    if (e.lines().empty() || e.internal()) std::abort();
    for (const auto& line : e.lines()) {
      if (line.rfind("fuzz.yaml", 0) != 0) std::abort();
      if (line.find('\n') != std::string::npos) std::abort();
    }
  }
  return 0;
}

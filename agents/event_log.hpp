#pragma once
// Recent role changes, suspicions and lifecycle events, with timestamps, for
// /v1/events and `vmrepctl events`. Bounded: the oldest fall off. Owned by
// the event loop thread; not thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "agents/clock.hpp"

namespace vmrep::agents {

// Machine-readable parts of an event, so readers (vmrep-timeline, scripts)
// never parse `detail`. Empty means absent; /v1/events prints only the set ones.
struct EventFields {
  // Default member initializers: designated initializers may name any subset.
  std::string from{}, to{};  // a change: states, roles or node names
  std::string version{};     // "TERM.SEQ" the event is about
  std::string peer{};        // the other node involved
  std::string reason{};      // why, one line
  std::string failure{};     // a failed job's kind (replication::FailureKind): no_space, connection, ...
};

struct EventRecord {
  std::uint64_t seq = 0;  // increasing; lets a client ask for "since"
  std::chrono::system_clock::time_point time;
  std::string service;  // "" for node-wide events
  std::string kind;     // primary_changed, role_changed, suspected, trusted, peer_left, link_up, link_down, ...
  std::string detail;   // one human line
  EventFields fields;
};

class EventLog {
 public:
  explicit EventLog(const Clock& clock, std::size_t capacity = 1000) : clock_(clock), capacity_(capacity) {}

  void record(std::string service, std::string kind, std::string detail, EventFields fields = {});
  const std::deque<EventRecord>& records() const { return records_; }
  // The newest `limit` records with seq > since, oldest first.
  nlohmann::json to_json(std::uint64_t since, std::size_t limit) const;

 private:
  const Clock& clock_;
  std::size_t capacity_;
  std::uint64_t next_seq_ = 1;
  std::deque<EventRecord> records_;
};

// RFC 3339 UTC with milliseconds: 2026-11-24T17:23:18.123Z
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace vmrep::agents

#pragma once
// vmrep-timeline: one failure scenario drawn as the paper's Figs. 4-9 are,
// a bar per node showing its state over time, with the injected faults and the
// recovery time after each.
//
// Input is what the scenario runner writes:
//   {"scenario": "...", "service": "board", "t0": RFC 3339,
//    "nodes": {"h1": [EVENT...], ...},          // EVENT as `vmrepctl --json events` prints it
//    "faults": [{"time": RFC 3339, "label": "kill h1"}, ...]}
// build_timeline() turns it into spans (pure, no I/O); the renderers turn a
// Timeline into an SVG figure, a text chart or JSON.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmrep::figures {

// What a node's bar shows. candidate = service state backup while the
// service's election role is electing; down = before the node's first event,
// or killed by a fault until it logs "started" again; stopped = the service is
// stopping or the daemon said "stopping".
enum class NodeState { down, backup, candidate, restoring, serving, stopped, failed };
const char* state_name(NodeState s);   // "down", "backup", ...
char state_letter(NodeState s);        // '.', 'B', 'C', 'R', 'S', 'X', 'F'
inline constexpr NodeState kAllStates[] = {NodeState::backup,  NodeState::candidate, NodeState::restoring,
                                           NodeState::serving, NodeState::stopped,   NodeState::failed,
                                           NodeState::down};

// Times are seconds from t0.
struct Span {
  double start = 0;
  double end = 0;
  NodeState state = NodeState::down;
  std::string detail;  // why: the state change's text, "killed by 'kill h1'", ...
};

struct NodeRow {
  std::string name;
  std::vector<Span> spans;  // contiguous, covering [timeline.start, timeline.end]
};

struct Fault {
  double time = 0;
  std::string at;      // as in the file
  std::string label;   // "kill h1", "partition h1|h2,h3", ...
  std::string kind;    // the label's first word, lower case: "kill", "restart", "partition", "heal", ...
  std::vector<std::string> nodes;  // the known nodes the label names
};

struct Recovery {
  enum class Outcome { recovered, no_outage, not_recovered };
  std::size_t fault = 0;  // index into Timeline::faults
  Outcome outcome = Outcome::not_recovered;
  std::optional<double> seconds;  // recovered: from the fault to the first entry into serving after it
  std::optional<double> at;       // recovered: when, in seconds from t0
  std::string node;               // who entered serving (recovered) or kept serving (no_outage)
  std::string label() const;      // "recovered 2.4 s", "no outage (h2 kept serving)", "not recovered"
};

struct Timeline {
  std::string scenario;
  std::string service;
  std::string t0;  // RFC 3339, as in the file (or the earliest time when the file has none)
  double start = 0;
  double end = 0;
  std::vector<NodeRow> nodes;  // sorted by name, h2 before h10
  std::vector<Fault> faults;   // by time
  std::vector<Recovery> recoveries;  // one per kill/partition fault, in fault order
};

struct TimelineOptions {
  std::string service;  // overrides the file's "service"
  std::string until;    // end of the chart: seconds after t0 or an RFC 3339 time; "" = last event + margin
};

// A malformed input: what() is "FIELD: problem", e.g. "nodes.h2[3].time: not an RFC 3339 time".
class TimelineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Microseconds since the Unix epoch of an RFC 3339 date-time
// ("2026-11-29T19:33:05.123Z", "...+01:00"), or nullopt.
std::optional<std::int64_t> parse_rfc3339(const std::string& s);

// Throws TimelineError.
Timeline build_timeline(const nlohmann::json& scenario, const TimelineOptions& options = {});
// Reads and parses FILE ("-" for stdin) and builds it; every error is one
// line "FILE: FIELD: problem" (a std::runtime_error).
Timeline load_timeline(const std::string& file, const TimelineOptions& options = {});

// A self-contained SVG 1.1 figure; the same Timeline always gives the same bytes.
std::string render_timeline_svg(const Timeline& t);
// One line per node, `width` columns: column i shows the state at
// start + (i + 0.5) * (end - start) / width. Then the fault marks, a legend
// and the faults with their recovery times.
std::string render_timeline_text(const Timeline& t, int width = 100);
nlohmann::json timeline_json(const Timeline& t);

// "1.5", never "-0.0": the same value always prints the same.
std::string fixed(double v, int decimals);

// &, <, >, " and ' as entities; control characters XML 1.0 forbids as U+FFFD.
std::string xml_escape(const std::string& s);

}  // namespace vmrep::figures

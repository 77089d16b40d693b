#include "consensus/sim/scenario.hpp"

#include <memory>
#include <sstream>
#include <vector>

#include "consensus/sim/fault_plan.hpp"
#include "consensus/sim/timeline.hpp"

namespace vmrep::consensus::sim {
namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::uint64_t to_number(const std::string& s) {
  std::size_t used = 0;
  std::uint64_t v = std::stoull(s, &used);
  if (used != s.size()) throw std::invalid_argument("'" + s + "' is not a number");
  return v;
}

class Runner {
 public:
  std::string log;
  bool passed = true;

  void command(const std::vector<std::string>& w) {
    const std::string& op = w[0];
    if (op == "cluster") return cluster(w);
    if (!sim_) throw std::invalid_argument("the first command must be 'cluster'");
    if (op == "tick") return ticks(to_number(arg(w, 1)));
    if (op == "crash" || op == "restart" || op == "corrupt") return fault(w);
    if (op == "partition") return apply_spec("partition:" + arg(w, 1) + "@0-1", true);
    if (op == "heal") { sim_->heal(); return flush(); }
    if (op == "status") return status();
    if (op == "until") return until(w);
    if (op == "expect") return expect(w);
    throw std::invalid_argument("unknown command '" + op + "'");
  }

 private:
  static const std::string& arg(const std::vector<std::string>& w, std::size_t i) {
    if (i >= w.size()) throw std::invalid_argument("'" + w[0] + "' needs more arguments");
    return w[i];
  }

  void cluster(const std::vector<std::string>& w) {
    SimConfig c;
    for (std::size_t i = 1; i < w.size(); ++i) {
      auto eq = w[i].find('=');
      if (eq == std::string::npos) throw std::invalid_argument("expected name=value, got '" + w[i] + "'");
      std::string k = w[i].substr(0, eq);
      auto v = to_number(w[i].substr(eq + 1));
      if (k == "nodes") c.n = static_cast<std::uint32_t>(v);
      else if (k == "seed") c.seed = v;
      else if (k == "heartbeat") c.node.heartbeat_every_ticks = static_cast<std::uint32_t>(v);
      else if (k == "suspect") c.node.detector.suspect_after_ticks = static_cast<std::uint32_t>(v);
      else if (k == "suspect_max") c.node.detector.suspect_after_ticks_max = static_cast<std::uint32_t>(v);
      else if (k == "delay_max") c.link.delay_max_ticks = static_cast<std::uint32_t>(v);
      else if (k == "epoch_min") c.node.epoch_min_ticks = static_cast<std::uint32_t>(v);
      else throw std::invalid_argument("unknown cluster setting '" + k + "'");
    }
    if (c.n < 1 || c.n > 200) throw std::invalid_argument("nodes must be in 1..200");
    sim_ = std::make_unique<Simulator>(c);
    sim_->add_observer(&timeline_);
  }

  void ticks(std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) sim_->tick();
    flush();
  }

  void fault(const std::vector<std::string>& w) {
    bool corrupt = w.size() > 2 && w[2] == "corrupt";
    if (w[0] == "restart" && corrupt) {
      FaultPlan p = parse_fault_plan("restart:" + arg(w, 1) + "@0", sim_->n());
      for (NodeId id : p.events[0].ids) sim_->restart(id, true);
      return flush();
    }
    apply_spec(w[0] + ":" + arg(w, 1) + "@0", false);
  }

  void apply_spec(const std::string& spec, bool first_only) {
    FaultPlan p = parse_fault_plan(spec, sim_->n());
    apply(*sim_, p.events[0]);
    if (!first_only)
      for (std::size_t i = 1; i < p.events.size(); ++i) apply(*sim_, p.events[i]);
    flush();
  }

  void until(const std::vector<std::string>& w) {
    auto id = static_cast<NodeId>(to_number(arg(w, 1)));
    if (id < 1 || id > sim_->n() || arg(w, 2) != "proposing") throw std::invalid_argument("usage: until ID proposing [within N]");
    std::uint64_t within = w.size() > 4 && w[3] == "within" ? to_number(w[4]) : 1000;
    for (std::uint64_t i = 0; i < within; ++i) {
      const Node* n = sim_->node(id);
      if (n && n->instance().state().phase == Phase::proposed) break;
      sim_->tick();
    }
    flush();
    const Node* n = sim_->node(id);
    bool ok = n && n->instance().state().phase == Phase::proposed;
    verdict(ok, "node " + std::to_string(id) + " is proposing at tick " + std::to_string(sim_->now()));
  }

  void status() {
    for (NodeId id = 1; id <= sim_->n(); ++id) {
      const Node* n = sim_->node(id);
      std::ostringstream line;
      line << "node " << id << ": ";
      if (!n) {
        line << "down";
      } else {
        line << (n->is_primary() ? "PRIMARY" : "backup ") << " names " << n->primary() << "  key ("
             << n->key().epoch << "," << n->key().round << ")"
             << (n->instance().state().phase == Phase::proposed ? " proposing" : "");
        std::string suspects;
        for (NodeId o = 1; o <= sim_->n(); ++o)
          if (n->detector().suspects(o)) suspects += (suspects.empty() ? "" : ",") + std::to_string(o);
        if (!suspects.empty()) line << "  suspects " << suspects;
      }
      log += line.str() + "\n";
    }
  }

  void expect(const std::vector<std::string>& w) {
    const std::string& what = arg(w, 1);
    std::uint32_t primaries = 0;
    std::vector<NodeId> names;
    for (NodeId id = 1; id <= sim_->n(); ++id)
      if (const Node* n = sim_->node(id)) {
        primaries += n->is_primary() ? 1 : 0;
        names.push_back(n->primary());
      }
    if (what == "primary") {
      auto p = static_cast<NodeId>(to_number(arg(w, 2)));
      bool ok = !names.empty() && sim_->live(p);
      for (NodeId v : names) ok = ok && v == p;
      verdict(ok, "every live node names primary " + std::to_string(p));
    } else if (what == "primaries") {
      auto k = to_number(arg(w, 2));
      verdict(primaries == k, std::to_string(primaries) + " node(s) believe themselves primary, expected " + std::to_string(k));
    } else if (what == "converged") {
      verdict(sim_->checker().converged_since().has_value(), "all live nodes name one live primary");
    } else if (what == "violations") {
      verdict(sim_->violations().size() == to_number(arg(w, 2)),
              std::to_string(sim_->violations().size()) + " invariant violation(s)");
    } else {
      throw std::invalid_argument("unknown expectation '" + what + "'");
    }
  }

  void verdict(bool ok, const std::string& what) {
    log += (ok ? "ok: " : "FAIL: ") + what + "\n";
    passed = passed && ok;
  }

  void flush() {
    for (const auto& l : timeline_.take_lines()) log += l + "\n";
  }

  std::unique_ptr<Simulator> sim_;
  Timeline timeline_;

 public:
  void finish() {
    if (!sim_) return;
    for (const auto& v : sim_->violations()) log += "VIOLATION " + v + "\n";
    passed = passed && sim_->violations().empty();
  }
};

}  // namespace

ScenarioResult run_scenario(const std::string& commands) {
  Runner r;
  std::istringstream in(commands);
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    auto w = words(line);
    if (w.empty() || w[0][0] == '#') continue;
    r.log += "> " + line + "\n";
    try {
      r.command(w);
    } catch (const std::exception& e) {
      throw std::invalid_argument("line " + std::to_string(number) + ": " + e.what());
    }
  }
  r.finish();
  return ScenarioResult{r.log, r.passed};
}

}  // namespace vmrep::consensus::sim

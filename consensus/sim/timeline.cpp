#include "consensus/sim/timeline.hpp"

#include <cstdio>

namespace vmrep::consensus::sim {

void Timeline::add(const Simulator& sim, const std::string& text) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "tick %6llu  ", static_cast<unsigned long long>(sim.now()));
  lines_.push_back(prefix + text);
}

std::string Timeline::view(const Simulator& sim) {
  std::string out;
  for (NodeId id = 1; id <= sim.n(); ++id) {
    const Node* node = sim.node(id);
    std::string cell = std::to_string(id) + ":";
    if (node == nullptr) cell += "--";
    else if (node->primary() == kNoNode) cell += "?";
    else cell += std::to_string(node->primary()) + (node->is_primary() ? "*" : "");
    cell.resize(std::max<std::size_t>(cell.size() + 1, 7), ' ');
    out += cell;
  }
  return out;
}

void Timeline::on_fault(const Simulator& sim, const std::string& what) {
  add(sim, ">> " + what);
  agreement_reported_ = false;
}

void Timeline::on_event(const Simulator& sim, NodeId node, const Event& e) {
  if (!verbose_) return;
  std::string who = "node " + std::to_string(node) + ": ";
  if (auto* s = std::get_if<Suspected>(&e)) add(sim, who + "suspects " + std::to_string(s->peer));
  else if (auto* t = std::get_if<Trusted>(&e))
    add(sim, who + "trusts " + std::to_string(t->peer) + " again, timeout now " + std::to_string(t->timeout_ticks));
  else if (auto* d = std::get_if<Decided>(&e); d && d->as_coordinator)
    add(sim, who + "decided " + std::to_string(d->decision.value) + " for epoch " + std::to_string(d->decision.epoch));
}

void Timeline::on_tick_end(const Simulator& sim) {
  std::string v = view(sim);
  if (v != last_view_) {
    last_view_ = v;
    while (!v.empty() && v.back() == ' ') v.pop_back();
    add(sim, "primary  " + v);
  }
  const auto& c = sim.checker();
  if (!agreement_reported_ && c.converged_since() && *c.converged_since() == sim.now()) {
    agreement_reported_ = true;
    add(sim, "== all live nodes agree: primary " + std::to_string(c.agreed_primary()) + ", " +
                 std::to_string(sim.now() - c.last_fault_tick()) + " ticks after the last fault");
  }
}

std::vector<std::string> Timeline::take_lines() {
  std::vector<std::string> out;
  out.swap(lines_);
  return out;
}

}  // namespace vmrep::consensus::sim

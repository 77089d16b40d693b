#include "consensus/sim/report.hpp"

namespace vmrep::consensus::sim {

RunResult result_of(const Simulator& sim) {
  const Checker& c = sim.checker();
  RunResult r;
  r.converged = c.converged_since().has_value();
  r.converged_tick = c.converged_since();
  r.primary = r.converged ? c.agreed_primary() : kNoNode;
  // From converged_tick on when converged; over the whole run otherwise.
  r.max_primaries = r.converged ? c.max_primaries_since_converged() : c.max_primaries_overall();
  r.within_bound = r.converged && *r.converged_tick <= c.last_fault_tick() + c.bounds().convergence_ticks;
  return r;
}

nlohmann::json report_json(const Simulator& sim, const FaultPlan& plan, std::uint64_t ticks) {
  RunResult r = result_of(sim);
  const Checker& c = sim.checker();
  nlohmann::json nodes = nlohmann::json::array();
  for (NodeId id = 1; id <= sim.n(); ++id) {
    const Node* node = sim.node(id);
    nlohmann::json j{{"id", id}, {"live", node != nullptr}};
    if (node != nullptr) {
      j["primary"] = node->primary() == kNoNode ? nlohmann::json(nullptr) : nlohmann::json(node->primary());
      j["epoch"] = node->key().epoch;
      j["round"] = node->key().round;
    }
    nodes.push_back(j);
  }
  return nlohmann::json{
      {"nodes", sim.n()},
      {"seed", sim.config().seed},
      {"ticks", ticks},
      {"faults", to_spec(plan)},
      {"violations", c.violations()},
      {"converged", r.converged},
      {"converged_tick", r.converged_tick ? nlohmann::json(*r.converged_tick) : nlohmann::json(nullptr)},
      {"primary", r.primary == kNoNode ? nlohmann::json(nullptr) : nlohmann::json(r.primary)},
      {"max_primaries", r.max_primaries},
      {"messages", sim.messages_sent()},
      {"messages_dropped", sim.messages_dropped()},
      {"last_fault_tick", c.last_fault_tick()},
      {"bounds", {{"detection_ticks", c.bounds().detection_ticks},
                  {"failover_ticks", c.bounds().failover_ticks},
                  {"convergence_ticks", c.bounds().convergence_ticks}}},
      {"within_bound", r.within_bound},
      {"final", nodes},
  };
}

}  // namespace vmrep::consensus::sim

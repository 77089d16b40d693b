#pragma once
// A timeline a person can follow: one line per fault, and one line each time
// the cluster's view of the primary changes (per node: whom it names, `*` on
// a node that believes itself primary, `--` for a node that is down, `?` for
// one that knows no primary yet). With `verbose`, suspicions and decisions too.

#include <string>
#include <vector>

#include "consensus/sim/simulator.hpp"

namespace vmrep::consensus::sim {

class Timeline : public Observer {
 public:
  explicit Timeline(bool verbose = false) : verbose_(verbose) {}

  void on_fault(const Simulator& sim, const std::string& what) override;
  void on_event(const Simulator& sim, NodeId node, const Event& e) override;
  void on_tick_end(const Simulator& sim) override;

  // Lines since the last call.
  std::vector<std::string> take_lines();
  static std::string view(const Simulator& sim);

 private:
  void add(const Simulator& sim, const std::string& text);

  bool verbose_;
  std::string last_view_;
  bool agreement_reported_ = false;
  std::vector<std::string> lines_;
};

}  // namespace vmrep::consensus::sim

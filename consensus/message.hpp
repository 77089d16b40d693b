#pragma once
// Messages of the self-stabilizing consensus (paper Sec. III-A). The sender is
// not inside the message: the transport authenticates it and passes it to
// Node::step(from, msg).

#include <variant>

#include "consensus/types.hpp"

namespace vmrep::consensus {

// Step 1: <v_i, e_i, r_i>, broadcast every heartbeat period. It is also the
// heartbeat that feeds the failure detector (any message from j counts).
struct Estimate {
  Value value = 0;
  Key key;
  friend bool operator==(const Estimate&, const Estimate&) = default;
};

// Step 2: the coordinator's <v_i, s_i, e_i, r_i> as the proposal.
struct Propose {
  Value value = 0;
  Key key;
  DecidedLog log;
  friend bool operator==(const Propose&, const Propose&) = default;
};

// A node that took the proposal into its key answers with it, so the
// coordinator can tell in step 3 that every trusted node is still below it.
struct Ack {
  Key key;
  friend bool operator==(const Ack&, const Ack&) = default;
};

// Step 3: the coordinator's <v_i, s_i, e_i, r_i> as the decided value; `log`
// already holds (e_i, v_i) as its newest entry.
struct Decide {
  Value value = 0;
  Key key;
  DecidedLog log;
  friend bool operator==(const Decide&, const Decide&) = default;
};

using Message = std::variant<Estimate, Propose, Ack, Decide>;

// An outgoing message. `to` is never the sender itself.
struct Envelope {
  NodeId to = kNoNode;
  Message msg;
};

const char* message_name(const Message& m);

}  // namespace vmrep::consensus

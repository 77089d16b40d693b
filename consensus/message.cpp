#include "consensus/message.hpp"

namespace vmrep::consensus {

const char* message_name(const Message& m) {
  static constexpr const char* kNames[] = {"estimate", "propose", "ack", "decide"};
  return kNames[m.index()];
}

}  // namespace vmrep::consensus

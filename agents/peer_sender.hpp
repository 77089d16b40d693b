#pragma once
// What the election agents need of the transport: send one consensus message
// of one instance to one peer. The controller implements it over PeerMesh;
// tests implement it with an in-memory loop.

#include <cstdint>

#include "consensus/message.hpp"

namespace vmrep::agents {

class PeerSender {
 public:
  virtual ~PeerSender() = default;
  virtual void send(std::uint32_t to, std::uint32_t instance, const consensus::Message& m) = 0;
};

}  // namespace vmrep::agents

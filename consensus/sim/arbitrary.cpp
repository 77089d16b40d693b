#include "consensus/sim/arbitrary.hpp"

namespace vmrep::consensus::sim {
namespace {

std::uint64_t counter(Rng& rng) {
  switch (rng.between(0, 4)) {
    case 0: return 0;
    case 1: return rng.between(0, 50);
    case 2: return kEpochLimit - rng.between(1, 3);
    case 3: return rng.next() >> 2;  // anywhere below the limit
    default: return rng.next();      // anywhere, also past the limit
  }
}

std::uint32_t small(Rng& rng, std::uint32_t hi) {
  return rng.chance(10) ? static_cast<std::uint32_t>(rng.next()) : static_cast<std::uint32_t>(rng.between(0, hi));
}

Value value(Rng& rng, std::uint32_t n) {
  return rng.chance(85) ? rng.between(0, n + 1) : rng.next();
}

Key key(Rng& rng) { return Key{counter(rng), rng.chance(50) ? rng.between(0, 20) : counter(rng)}; }

DecidedLog log(Rng& rng, const NodeConfig& c) {
  DecidedLog l;
  auto size = rng.between(0, c.log_window + 3);
  for (std::uint64_t i = 0; i < size; ++i) l.recent.push_back(Decision{counter(rng), value(rng, c.n)});
  l.evicted_count = rng.next();
  l.evicted_digest = rng.next();
  return l;
}

}  // namespace

NodeState arbitrary_state(Rng& rng, const NodeConfig& c) {
  NodeState s;
  InstanceState& in = s.instance;
  in.value = value(rng, c.n);
  in.key = key(rng);
  in.log = log(rng, c);
  in.phase = rng.chance(50) ? Phase::proposed : Phase::idle;
  in.ticks_in_key = small(rng, 10);
  in.ticks_since_estimate = small(rng, 10);
  in.estimate_pending = rng.chance(50);
  in.wrap_guard_ticks = small(rng, 50);
  // Sometimes a peer table of the wrong size: load() must cope.
  auto peers = rng.chance(90) ? c.n : rng.between(0, c.n + 2);
  for (std::uint64_t i = 0; i < peers; ++i)
    in.peers.push_back(PeerView{key(rng), value(rng, c.n), rng.chance(50), rng.chance(50)});
  for (std::uint64_t i = 0; i < peers; ++i)
    s.detector.push_back(PeerLiveness{small(rng, 60), small(rng, 60), rng.chance(50), rng.chance(50)});
  s.reported_primary = static_cast<NodeId>(value(rng, c.n));
  return s;
}

Message arbitrary_message(Rng& rng, const NodeConfig& c) {
  switch (rng.between(0, 3)) {
    case 0: return Estimate{value(rng, c.n), key(rng)};
    case 1: return Propose{value(rng, c.n), key(rng), log(rng, c)};
    case 2: return Ack{key(rng)};
    default: {
      Decide d{value(rng, c.n), key(rng), log(rng, c)};
      // Mostly well-formed, so a corrupted decision really gets adopted.
      if (rng.chance(70)) {
        d.log.recent.resize(std::min<std::size_t>(d.log.recent.size(), c.log_window - 1));
        d.log.recent.push_back(Decision{d.key.epoch, d.value});
      }
      return d;
    }
  }
}

}  // namespace vmrep::consensus::sim

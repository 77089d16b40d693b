#include "consensus/instance.hpp"

#include <algorithm>
#include <stdexcept>

#include "consensus/decided_log.hpp"

namespace vmrep::consensus {

Instance::Instance(InstanceConfig config) : config_(config) {
  if (config_.n == 0 || config_.self == kNoNode || config_.self > config_.n)
    throw std::invalid_argument("consensus: node id must be in 1..n");
  config_.heartbeat_every_ticks = std::max<std::uint32_t>(config_.heartbeat_every_ticks, 1);
  config_.log_window = std::max<std::uint32_t>(config_.log_window, 1);
  s_.peers.resize(config_.n);
}

const Decision* Instance::last_decision() const {
  return s_.log.recent.empty() ? nullptr : &s_.log.recent.back();
}

void Instance::load(InstanceState s) {
  s_ = std::move(s);
  sanitize();
}

// Keeps every field inside its domain so that arbitrary (corrupted) state is a
// valid state from the next step on. Called after load() and before each tick.
void Instance::sanitize() {
  s_.peers.resize(config_.n);
  s_.peers[config_.self - 1] = PeerView{};
  decided_log::truncate(s_.log, config_.log_window);
  set_key(s_.key);  // wraps counters that passed their limits
  decided_log::repair(s_.log, s_.key.epoch);
  if (!is_coordinator()) s_.phase = Phase::idle;
  s_.ticks_in_key = std::min(s_.ticks_in_key, config_.epoch_min_ticks);
  s_.ticks_since_estimate = std::min(s_.ticks_since_estimate, config_.heartbeat_every_ticks);
  s_.wrap_guard_ticks = std::min(s_.wrap_guard_ticks, config_.wrap_guard_ticks);
}

void Instance::tick(const FailureDetector& fd, Outputs out) {
  sanitize();
  if (s_.ticks_in_key < config_.epoch_min_ticks) ++s_.ticks_in_key;
  if (s_.wrap_guard_ticks > 0) --s_.wrap_guard_ticks;
  NodeId coord = coordinator_of(s_.key.round, config_.n);
  bool proposed_now = false;
  if (coord != config_.self) {
    if (fd.suspects(coord)) advance_round();
  } else if (s_.phase == Phase::idle) {
    propose(fd, out);
    proposed_now = s_.phase == Phase::proposed;
  } else {
    try_decide(fd, out);
  }
  if (++s_.ticks_since_estimate >= config_.heartbeat_every_ticks || s_.estimate_pending) {
    broadcast_estimate(out);
    if (s_.phase == Phase::proposed && !proposed_now) resend_proposal(out);
  }
}

// A proposal that has not been acked is sent again each heartbeat period:
// the first copy may have been lost to a partition, or never sent at all
// when the node started in a corrupted "proposed" phase.
void Instance::resend_proposal(Outputs out) {
  for (NodeId id = 1; id <= config_.n; ++id)
    if (id != config_.self && !s_.peers[id - 1].acked) send(id, Propose{s_.value, s_.key, s_.log}, out);
}

void Instance::step(NodeId from, const Message& m, const FailureDetector& fd, Outputs out) {
  if (from == kNoNode || from > config_.n || from == config_.self || !valid(m) || from_old_era(m)) return;
  if (auto* e = std::get_if<Estimate>(&m)) on_estimate(from, *e);
  else if (auto* p = std::get_if<Propose>(&m)) on_propose(from, *p, out);
  else if (auto* a = std::get_if<Ack>(&m)) on_ack(from, *a, fd, out);
  else if (auto* d = std::get_if<Decide>(&m)) on_decide(from, *d, out);
}

// A message that no correct node could have sent is dropped whole.
bool Instance::valid(const Message& m) const {
  auto value_ok = [&](Value v) { return v >= config_.value_min && v <= config_.value_max; };
  return std::visit(
      [&](const auto& msg) -> bool {
        using T = std::decay_t<decltype(msg)>;
        if (!key_in_range(msg.key)) return false;
        if constexpr (std::is_same_v<T, Ack>) {
          return true;
        } else if constexpr (std::is_same_v<T, Estimate>) {
          return value_ok(msg.value);
        } else {
          if (!value_ok(msg.value) || msg.log.recent.size() > config_.log_window) return false;
          if constexpr (std::is_same_v<T, Decide>) {
            // The decision travels as the newest entry of s_i.
            return !msg.log.recent.empty() &&
                   msg.log.recent.back() == Decision{msg.key.epoch, msg.value} &&
                   decided_log::well_formed(msg.log, msg.key.epoch + 1);
          }
          return decided_log::well_formed(msg.log, msg.key.epoch);
        }
      },
      m);
}

bool Instance::from_old_era(const Message& m) const {
  if (s_.wrap_guard_ticks == 0) return false;
  return std::visit([](const auto& msg) { return msg.key.epoch >= kEpochLimit - kWrapZone; }, m);
}

// Rule 1: <v_i, e_i, r_i> to all, every heartbeat period and after the key
// moved for any reason other than a decision (all nodes see decisions).
void Instance::broadcast_estimate(Outputs out) {
  s_.ticks_since_estimate = 0;
  s_.estimate_pending = false;
  broadcast(Estimate{s_.value, s_.key}, out);
}

void Instance::adopt_higher_key(Key k) {
  if (k <= s_.key) return;
  set_key(k);
  s_.estimate_pending = true;
}

void Instance::advance_round() {
  set_key(Key{s_.key.epoch, s_.key.round + 1});
  s_.estimate_pending = true;
}

// Rule 2: propose once every trusted peer has told us its key (ours is the
// highest by construction: we take any higher key we hear) and the epoch has
// lasted epoch_min_ticks, which paces decisions.
void Instance::propose(const FailureDetector& fd, Outputs out) {
  if (s_.ticks_in_key < config_.epoch_min_ticks) return;
  if (!trusted_peers_all(fd, &PeerView::known)) return;
  s_.phase = Phase::proposed;
  for (auto& p : s_.peers) p.acked = false;
  broadcast(Propose{s_.value, s_.key, s_.log}, out);
  try_decide(fd, out);
}

// Rule 3: still coordinator and still highest (the phase resets whenever the
// key moves), and every trusted peer took the proposal: decide.
void Instance::try_decide(const FailureDetector& fd, Outputs out) {
  if (s_.phase != Phase::proposed || !is_coordinator()) return;
  if (!trusted_peers_all(fd, &PeerView::acked)) return;
  Decision d{s_.key.epoch, s_.value};
  append_decision(d);
  broadcast(Decide{s_.value, s_.key, s_.log}, out);
  out.events.push_back(Decided{d, true});
  set_key(Key{s_.key.epoch + 1, 0});
}

void Instance::on_estimate(NodeId from, const Estimate& m) {
  auto& p = s_.peers[from - 1];
  p.key = m.key;
  p.value = m.value;
  p.known = true;
  adopt_higher_key(m.key);
}

// A proposal at least as high as our key is taken (our key becomes its key)
// and acknowledged; a lower one is answered with our Estimate so the stale
// coordinator catches up at once instead of at our next heartbeat.
void Instance::on_propose(NodeId from, const Propose& m, Outputs out) {
  auto& p = s_.peers[from - 1];
  p.key = std::max(p.key, m.key);
  p.known = true;
  adopt_higher_key(m.key);
  if (m.key == s_.key && coordinator_of(m.key.round, config_.n) == from) {
    send(from, Ack{m.key}, out);
  } else if (m.key < s_.key) {
    send(from, Estimate{s_.value, s_.key}, out);
  }
}

void Instance::on_ack(NodeId from, const Ack& m, const FailureDetector& fd, Outputs out) {
  auto& p = s_.peers[from - 1];
  p.known = true;
  if (s_.phase == Phase::proposed && m.key == s_.key) {
    p.acked = true;
    try_decide(fd, out);
  } else {
    adopt_higher_key(m.key);
  }
}

// Rule "adopt decision": a decision for our epoch or a later one replaces s_i
// (from any sender: a coordinator check would add nothing against corrupted
// state, which may name any coordinator)
// and moves us to the next epoch. So does the decision of the epoch just
// before ours: its coordinator's next Estimate may overtake the Decide and
// move our key first. Anything older is stale and answered with our Estimate.
void Instance::on_decide(NodeId from, const Decide& m, Outputs out) {
  auto& p = s_.peers[from - 1];
  p.known = true;
  if (m.key.epoch + 1 < s_.key.epoch) {
    send(from, Estimate{s_.value, s_.key}, out);
    return;
  }
  Key next{m.key.epoch + 1, 0};
  bool news = s_.log != m.log;  // a duplicate Decide is not a new decision
  s_.log = m.log;
  if (key_in_range(next)) p.key = std::max(p.key, next);
  set_key(std::max(s_.key, next));
  if (news) out.events.push_back(Decided{m.log.recent.back(), false});
}

void Instance::set_key(Key k) {
  if (k.round >= kRoundLimit) k = Key{k.epoch >= kEpochLimit ? kEpochLimit : k.epoch + 1, 0};
  if (k.epoch >= kEpochLimit) {
    k = Key{0, 0};
    ++wraps_;
    s_.log.recent.clear();  // every entry would now lie in the future
    s_.wrap_guard_ticks = config_.wrap_guard_ticks;
  }
  if (k != s_.key) {
    s_.key = k;
    s_.phase = Phase::idle;
    s_.ticks_in_key = 0;
  }
}

void Instance::append_decision(Decision d) {
  decided_log::append(s_.log, d, config_.log_window);
}

bool Instance::trusted_peers_all(const FailureDetector& fd, bool PeerView::*flag) const {
  for (NodeId id = 1; id <= config_.n; ++id) {
    if (id == config_.self || fd.suspects(id)) continue;
    if (!(s_.peers[id - 1].*flag)) return false;
  }
  return true;
}

void Instance::send(NodeId to, Message m, Outputs out) const {
  out.outbox.push_back(Envelope{to, std::move(m)});
}

void Instance::broadcast(const Message& m, Outputs out) const {
  for (NodeId id = 1; id <= config_.n; ++id)
    if (id != config_.self) out.outbox.push_back(Envelope{id, m});
}

}  // namespace vmrep::consensus

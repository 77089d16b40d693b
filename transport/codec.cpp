// Mapping between the pure consensus messages and their wire form, and the
// frame encoder. Nothing here throws on bad input: from_wire answers with an
// error line instead.

#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>

#include "transport/codec.hpp"

namespace vmrep::transport {
namespace {

// A decided log longer than this cannot come from a correctly configured
// peer (the core keeps a short window); refusing it bounds what one message
// can make us allocate.
constexpr int kMaxWireLogEntries = 1024;

void put_key(wire::Key* out, const consensus::Key& k) {
  out->set_epoch(k.epoch);
  out->set_round(k.round);
}

consensus::Key get_key(const wire::Key& k) { return consensus::Key{k.epoch(), k.round()}; }

void put_log(wire::DecidedLog* out, const consensus::DecidedLog& log) {
  out->mutable_recent()->Reserve(static_cast<int>(log.recent.size()));
  for (const auto& d : log.recent) {
    auto* w = out->add_recent();
    w->set_epoch(d.epoch);
    w->set_value(d.value);
  }
  out->set_evicted_digest(log.evicted_digest);
  out->set_evicted_count(log.evicted_count);
}

bool get_log(const wire::DecidedLog& in, consensus::DecidedLog& out, std::string& error) {
  if (in.recent_size() > kMaxWireLogEntries) {
    error = "decided log of " + std::to_string(in.recent_size()) + " entries exceeds " +
            std::to_string(kMaxWireLogEntries);
    return false;
  }
  out.recent.clear();
  out.recent.reserve(static_cast<std::size_t>(in.recent_size()));
  for (const auto& d : in.recent()) out.recent.push_back(consensus::Decision{d.epoch(), d.value()});
  out.evicted_digest = in.evicted_digest();
  out.evicted_count = in.evicted_count();
  return true;
}

}  // namespace

std::string encode_frame(wire::Frame frame) {
  frame.set_version(kWireVersion);
  const std::size_t size = frame.ByteSizeLong();
  std::string out(4 + size, '\0');
  out[0] = static_cast<char>((size >> 24) & 0xff);
  out[1] = static_cast<char>((size >> 16) & 0xff);
  out[2] = static_cast<char>((size >> 8) & 0xff);
  out[3] = static_cast<char>(size & 0xff);
  frame.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + 4));
  return out;
}

wire::Consensus to_wire(std::uint32_t instance, const consensus::Message& m) {
  wire::Consensus out;
  out.set_instance(instance);
  std::visit(
      [&out](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, consensus::Estimate>) {
          auto* w = out.mutable_estimate();
          w->set_value(msg.value);
          put_key(w->mutable_key(), msg.key);
        } else if constexpr (std::is_same_v<T, consensus::Propose>) {
          auto* w = out.mutable_propose();
          w->set_value(msg.value);
          put_key(w->mutable_key(), msg.key);
          put_log(w->mutable_log(), msg.log);
        } else if constexpr (std::is_same_v<T, consensus::Ack>) {
          put_key(out.mutable_ack()->mutable_key(), msg.key);
        } else {
          static_assert(std::is_same_v<T, consensus::Decide>);
          auto* w = out.mutable_decide();
          w->set_value(msg.value);
          put_key(w->mutable_key(), msg.key);
          put_log(w->mutable_log(), msg.log);
        }
      },
      m);
  return out;
}

std::optional<consensus::Message> from_wire(const wire::Consensus& m, std::string& error) {
  switch (m.body_case()) {
    case wire::Consensus::kEstimate: {
      const auto& w = m.estimate();
      if (!w.has_key()) {
        error = "estimate without key";
        return std::nullopt;
      }
      return consensus::Estimate{w.value(), get_key(w.key())};
    }
    case wire::Consensus::kPropose: {
      const auto& w = m.propose();
      if (!w.has_key()) {
        error = "propose without key";
        return std::nullopt;
      }
      consensus::Propose p{w.value(), get_key(w.key()), {}};
      if (!get_log(w.log(), p.log, error)) return std::nullopt;
      return p;
    }
    case wire::Consensus::kAck: {
      const auto& w = m.ack();
      if (!w.has_key()) {
        error = "ack without key";
        return std::nullopt;
      }
      return consensus::Ack{get_key(w.key())};
    }
    case wire::Consensus::kDecide: {
      const auto& w = m.decide();
      if (!w.has_key()) {
        error = "decide without key";
        return std::nullopt;
      }
      consensus::Decide d{w.value(), get_key(w.key()), {}};
      if (!get_log(w.log(), d.log, error)) return std::nullopt;
      return d;
    }
    case wire::Consensus::BODY_NOT_SET:
      break;
  }
  error = "consensus message without body";
  return std::nullopt;
}

namespace {

bool version_in_domain(const wire::SnapVersion& v, const std::string& field, std::string& error) {
  if (v.term() >= kVersionPartLimit) {
    error = field + ".term " + std::to_string(v.term()) + " is out of range";
    return false;
  }
  if (v.seq() >= kVersionPartLimit) {
    error = field + ".seq " + std::to_string(v.seq()) + " is out of range";
    return false;
  }
  return true;
}

}  // namespace

bool replica_in_domain(const wire::Replica& m, std::string& error) {
  switch (m.body_case()) {
    case wire::Replica::kPushed: return version_in_domain(m.pushed(), "pushed", error);
    case wire::Replica::kAck: return version_in_domain(m.ack().version(), "ack.version", error);
    case wire::Replica::kCommitted: return version_in_domain(m.committed(), "committed", error);
    case wire::Replica::kPull: return version_in_domain(m.pull(), "pull", error);
    case wire::Replica::kPullRefused: return version_in_domain(m.pull_refused().version(), "pull_refused.version", error);
    case wire::Replica::kInventory: {
      const wire::Inventory& inv = m.inventory();
      if (!version_in_domain(inv.newest(), "inventory.newest", error) ||
          !version_in_domain(inv.committed(), "inventory.committed", error) ||
          !version_in_domain(inv.serving(), "inventory.serving", error))
        return false;
      for (int i = 0; i < inv.versions_size(); ++i)
        if (!version_in_domain(inv.versions(i), "inventory.versions[" + std::to_string(i) + "]", error)) return false;
      return true;
    }
    case wire::Replica::kQuery:
    case wire::Replica::BODY_NOT_SET: return true;
  }
  return true;
}

}  // namespace vmrep::transport

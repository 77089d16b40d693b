#pragma once
// Pins: a version that a transfer or a restore is using is pinned, and
// retention keeps it (and so GC keeps its chunks) until the last pin on it
// is released. Pins live in memory: they protect work of this process, and
// a crash ends that work anyway.
//
// Thread safety: PinTable is internally locked; a Pin is owned by one thread
// at a time and may outlive the Store (it shares the table).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "snapshots/manifest.hpp"

namespace vmrep::snapshots {

class PinTable {
 public:
  void add(const std::string& service, Version v);
  void remove(const std::string& service, Version v);
  bool pinned(const std::string& service, Version v) const;
  std::vector<Version> pinned(const std::string& service) const;  // ascending

  // Runs `fn` with the table locked, so nothing is pinned meanwhile (retention
  // decides and deletes inside it).
  template <class Fn>
  auto locked(Fn&& fn) const {
    const std::lock_guard guard(mutex_);
    return fn();
  }
  bool pinned_locked(const std::string& service, Version v) const { return counts_.contains({service, v}); }

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, Version>, std::uint32_t> counts_;
};

// RAII: released on destruction. Move-only; a moved-from Pin holds nothing.
class Pin {
 public:
  Pin() = default;
  Pin(std::shared_ptr<PinTable> table, std::string service, Version v);
  Pin(Pin&& other) noexcept = default;
  Pin& operator=(Pin&& other) noexcept;
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  ~Pin() { release(); }

  void release();
  explicit operator bool() const { return table_ != nullptr; }
  const std::string& service() const { return service_; }
  Version version() const { return version_; }

 private:
  std::shared_ptr<PinTable> table_;
  std::string service_;
  Version version_;
};

}  // namespace vmrep::snapshots

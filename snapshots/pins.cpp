#include "snapshots/pins.hpp"

namespace vmrep::snapshots {

void PinTable::add(const std::string& service, Version v) {
  const std::lock_guard guard(mutex_);
  ++counts_[{service, v}];
}

void PinTable::remove(const std::string& service, Version v) {
  const std::lock_guard guard(mutex_);
  const auto it = counts_.find({service, v});
  if (it != counts_.end() && --it->second == 0) counts_.erase(it);
}

bool PinTable::pinned(const std::string& service, Version v) const {
  const std::lock_guard guard(mutex_);
  return counts_.contains({service, v});
}

std::vector<Version> PinTable::pinned(const std::string& service) const {
  const std::lock_guard guard(mutex_);
  std::vector<Version> out;
  for (auto it = counts_.lower_bound({service, Version{}}); it != counts_.end() && it->first.first == service; ++it) {
    out.push_back(it->first.second);
  }
  return out;
}

Pin::Pin(std::shared_ptr<PinTable> table, std::string service, Version v)
    : table_(std::move(table)), service_(std::move(service)), version_(v) {
  table_->add(service_, version_);
}

Pin& Pin::operator=(Pin&& other) noexcept {
  if (this != &other) {
    release();
    table_ = std::move(other.table_);
    service_ = std::move(other.service_);
    version_ = other.version_;
  }
  return *this;
}

void Pin::release() {
  if (table_) table_->remove(service_, version_);
  table_.reset();
}

}  // namespace vmrep::snapshots

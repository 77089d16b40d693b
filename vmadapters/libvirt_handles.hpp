// Internal to the libvirt adapter: RAII holders for libvirt objects.
#pragma once

#include <libvirt/libvirt.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace vmrep::vmadapters::detail {

struct DomainFree {
  void operator()(virDomainPtr dom) const { virDomainFree(dom); }
};
using DomainHandle = std::unique_ptr<virDomain, DomainFree>;

struct SnapshotFree {
  void operator()(virDomainSnapshotPtr snap) const { virDomainSnapshotFree(snap); }
};
using SnapshotHandle = std::unique_ptr<virDomainSnapshot, SnapshotFree>;

// Takes ownership of a malloc'ed C string returned by libvirt.
inline std::string take_string(char* text) {
  if (text == nullptr) return {};
  std::string result(text);
  std::free(text);
  return result;
}

}  // namespace vmrep::vmadapters::detail

#include "agents/job_failure.hpp"

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

#include "snapshots/errors.hpp"
#include "vmadapters/errors.hpp"

namespace vmrep::agents {
namespace {

using replication::Failure;
using replication::FailureKind;

FailureKind from_errno(int e) {
  switch (e) {
    case ENOSPC:
    case EDQUOT: return FailureKind::no_space;
    case ENOENT: return FailureKind::not_found;
    case ETIMEDOUT: return FailureKind::timeout;
    default: return FailureKind::failed;
  }
}

FailureKind from_vm(const vmadapters::VmError& e) {
  using K = vmadapters::VmError::Kind;
  // libvirt reports a full disk as an operation failure with strerror's text.
  if (e.reason().find("No space left on device") != std::string::npos ||
      e.reason().find("Disk quota exceeded") != std::string::npos)
    return FailureKind::no_space;
  switch (e.kind()) {
    case K::not_found: return FailureKind::not_found;
    case K::unsupported: return FailureKind::unsupported;
    case K::invalid_argument: return FailureKind::invalid;
    case K::connection: return FailureKind::connection;
    case K::timeout: return FailureKind::timeout;
    case K::failed: return FailureKind::failed;
  }
  return FailureKind::failed;
}

std::string text_of(const std::exception& e) {
  std::string t = e.what();
  return t.empty() ? "unknown error" : t;
}

}  // namespace

Failure classify(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const vmadapters::VmError& x) {
    return {from_vm(x), text_of(x)};
  } catch (const snapshots::ChunkMissing& x) {
    return {FailureKind::not_found, text_of(x)};
  } catch (const snapshots::ChunkCorrupt& x) {
    return {FailureKind::corrupt, text_of(x)};
  } catch (const snapshots::ManifestError& x) {
    return {FailureKind::corrupt, text_of(x)};
  } catch (const snapshots::IoError& x) {
    return {from_errno(x.errno_value()), text_of(x)};
  } catch (const std::system_error& x) {  // std::filesystem::filesystem_error too
    const FailureKind k = x.code().category() == std::generic_category() || x.code().category() == std::system_category()
                              ? from_errno(x.code().value())
                              : FailureKind::failed;
    return {k, text_of(x)};
  } catch (const std::exception& x) {
    return {FailureKind::failed, text_of(x)};
  } catch (...) {
    return {FailureKind::failed, "unknown error"};
  }
}

}  // namespace vmrep::agents

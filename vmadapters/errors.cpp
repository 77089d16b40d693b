#include "vmadapters/errors.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <mutex>

namespace vmrep::vmadapters {
namespace {

std::string compose(const std::string& operation, const std::string& domain, const std::string& reason) {
  std::string text = operation;
  if (!domain.empty()) text += " of domain '" + domain + "'";
  text += " failed: " + reason;
  return text;
}

VmError::Kind kind_of(const virError& error) {
  switch (error.code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_SNAPSHOT:
      return VmError::Kind::not_found;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
    case VIR_ERR_OPERATION_UNSUPPORTED:
      return VmError::Kind::unsupported;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_OPERATION_INVALID:
      return VmError::Kind::invalid_argument;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_RPC:
      return VmError::Kind::connection;
    case VIR_ERR_SYSTEM_ERROR:
      return error.domain == VIR_FROM_RPC || error.domain == VIR_FROM_REMOTE ? VmError::Kind::connection
                                                                            : VmError::Kind::failed;
    case VIR_ERR_OPERATION_TIMEOUT:
      return VmError::Kind::timeout;
    default:
      return VmError::Kind::failed;
  }
}

void quiet_handler(void* /*user_data*/, virErrorPtr /*error*/) {}

}  // namespace

VmError::VmError(Kind kind, std::string operation, std::string domain, std::string reason, int libvirt_code)
    : std::runtime_error(compose(operation, domain, reason)),
      kind_(kind),
      operation_(std::move(operation)),
      domain_(std::move(domain)),
      reason_(std::move(reason)),
      libvirt_code_(libvirt_code) {}

const char* to_string(VmError::Kind kind) {
  switch (kind) {
    case VmError::Kind::not_found: return "not_found";
    case VmError::Kind::unsupported: return "unsupported";
    case VmError::Kind::invalid_argument: return "invalid_argument";
    case VmError::Kind::connection: return "connection";
    case VmError::Kind::timeout: return "timeout";
    case VmError::Kind::failed: return "failed";
  }
  return "failed";
}

VmError libvirt_error(const std::string& operation, const std::string& domain) {
  virErrorPtr error = virGetLastError();
  if (error == nullptr || error->code == VIR_ERR_OK) {
    return VmError(VmError::Kind::failed, operation, domain, "libvirt reported no error text");
  }
  const std::string reason = error->message != nullptr ? error->message : "unknown libvirt error";
  VmError result(kind_of(*error), operation, domain, reason, error->code);
  virResetLastError();
  return result;
}

void silence_libvirt_stderr() {
  static std::once_flag once;
  std::call_once(once, [] { virSetErrorFunc(nullptr, quiet_handler); });
}

}  // namespace vmrep::vmadapters

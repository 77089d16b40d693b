// Every failure of the vmadapters module is a VmError. Its what() reads
//   "<operation> of domain '<domain>' failed: <reason>"
// where <reason> is libvirt's own text (or ours when the check is ours), so a log
// line says what was tried, on what, and why it failed.
#pragma once

#include <stdexcept>
#include <string>

namespace vmrep::vmadapters {

class VmError : public std::runtime_error {
 public:
  enum class Kind {
    not_found,         // no such domain
    unsupported,       // the driver cannot do this (see Capabilities)
    invalid_argument,  // bad XML, bad path, bad file, name clash
    connection,        // libvirtd unreachable or the connection dropped
    timeout,           // a bounded wait ran out
    failed,            // anything else the hypervisor refused
  };

  VmError(Kind kind, std::string operation, std::string domain, std::string reason, int libvirt_code = 0);

  Kind kind() const { return kind_; }
  const std::string& operation() const { return operation_; }
  const std::string& domain() const { return domain_; }
  const std::string& reason() const { return reason_; }
  int libvirt_code() const { return libvirt_code_; }  // virErrorNumber, 0 when not from libvirt

 private:
  Kind kind_;
  std::string operation_;
  std::string domain_;
  std::string reason_;
  int libvirt_code_;
};

const char* to_string(VmError::Kind kind);

// Builds a VmError from the calling thread's last libvirt error (virGetLastError)
// and resets it. Call right after the failing libvirt call, on the same thread.
VmError libvirt_error(const std::string& operation, const std::string& domain);

// Stops libvirt from printing every error to stderr (its default). Idempotent;
// called by the libvirt adapter before it opens a connection.
void silence_libvirt_stderr();

}  // namespace vmrep::vmadapters

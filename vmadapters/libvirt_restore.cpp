// restore(): a domain back from a checkpoint's memory image and disk images.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <system_error>

#include "vmadapters/domain_xml.hpp"
#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_internal.hpp"

namespace vmrep::vmadapters {

using detail::Connection;
using detail::DomainHandle;

namespace {

const char* const op = "restore";

// Everything checked before libvirt is asked to do anything, so that a refused
// restore changes nothing.
void check_files(const CheckpointFiles& files) {
  std::error_code ec;
  const std::string where = "restore from " + files.memory_file.string();
  if (files.memory_file.empty()) {
    throw VmError(VmError::Kind::invalid_argument, op, "", "no memory image given");
  }
  if (!std::filesystem::is_regular_file(files.memory_file, ec)) {
    throw VmError(VmError::Kind::invalid_argument, where, "", "the memory image does not exist or is not a file");
  }
  if (std::filesystem::file_size(files.memory_file, ec) == 0 || ec) {
    throw VmError(VmError::Kind::invalid_argument, where, "", "the memory image is empty");
  }
  for (const auto& [target, image] : files.disks) {
    if (!std::filesystem::is_regular_file(image.file, ec)) {
      throw VmError(VmError::Kind::invalid_argument, where, "",
                    "the image for disk " + target + " (" + image.file.string() + ") does not exist");
    }
  }
}

std::string read_saved_xml(const Connection& conn, const std::filesystem::path& memory_file) {
  char* xml = virDomainSaveImageGetXMLDesc(conn.get(), memory_file.c_str(), 0);
  if (xml == nullptr) throw libvirt_error("restore from " + memory_file.string() + " (read its header)", "");
  return detail::take_string(xml);
}

void check_not_running(const Connection& conn, const std::string& name) {
  DomainHandle dom(virDomainLookupByName(conn.get(), name.c_str()));
  if (!dom) {
    virResetLastError();
    return;
  }
  if (virDomainIsActive(dom.get()) == 1) {
    throw VmError(VmError::Kind::invalid_argument, op, name, "a domain of that name is already running here");
  }
  virResetLastError();
}

// Drivers that ignore or refuse a replacement XML (Xen, test): the checkpoint
// can only come back on the very paths it was saved with.
void check_paths_unchanged(const std::string& saved, const CheckpointFiles& files, const RestoreOptions& options,
                           const std::string& name, const std::string& driver) {
  const std::string why = "the " + driver + " driver restores with the saved XML only";
  if (options.domain_xml || !options.path_rewrites.empty()) {
    throw VmError(VmError::Kind::unsupported, op, name, why + ": no XML override or path rewrites");
  }
  for (const DiskChain& chain : xml::disk_chains(saved)) {
    auto image = files.disks.find(chain.target);
    if (image == files.disks.end() || image->second.file != chain.layers.back().file) {
      throw VmError(VmError::Kind::unsupported, op, name,
                    why + ": disk " + chain.target + " must be " + chain.layers.back().file.string());
    }
  }
}

}  // namespace

RestoreResult LibvirtAdapter::restore(const CheckpointFiles& files, const RestoreOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  check_files(files);
  auto conn = connection(op, "");
  const std::string saved = options.domain_xml ? *options.domain_xml : read_saved_xml(*conn, files.memory_file);
  const std::string name = xml::domain_name(saved);
  check_not_running(*conn, name);
  const std::string rewritten = xml::rewrite_for_restore(saved, files.disks, options.path_rewrites);
  const bool with_xml = conn->capabilities().restore_with_xml;
  if (!with_xml) check_paths_unchanged(saved, files, options, name, conn->capabilities().driver);

  const unsigned flags = detail::restore_flags(conn->capabilities(), options.start_paused);
  if (virDomainRestoreFlags(conn->get(), files.memory_file.c_str(), with_xml ? rewritten.c_str() : nullptr, flags) < 0) {
    throw libvirt_error("restore from " + files.memory_file.string(), name);
  }
  RestoreResult result;
  result.domain = name;
  result.domain_xml = with_xml ? rewritten : saved;
  result.wall_ms = detail::elapsed_ms(started);
  return result;
}

}  // namespace vmrep::vmadapters

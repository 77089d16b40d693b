// checkpoint(): live external snapshot (QEMU) or save-and-resume fallback.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <system_error>

#include "vmadapters/disk_images.hpp"
#include "vmadapters/domain_xml.hpp"
#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_internal.hpp"

namespace vmrep::vmadapters {

using detail::Connection;
using detail::DomainHandle;
using detail::lookup;

namespace {

const char* const op = "checkpoint";
const char* const memory_name = "memory.img";

struct Plan {
  std::filesystem::path memory_file;
  std::vector<DiskChain> chains;  // before the checkpoint
  std::vector<std::string> excluded;
  std::vector<xml::SnapshotDisk> overlays;
  std::string live_xml;
};

std::filesystem::path overlay_path(const std::filesystem::path& dir, const std::string& target) {
  return dir / (target + ".qcow2");
}

// Creates dir and checks that nothing the checkpoint writes is there already.
Plan prepare(const DomainHandle& dom, const std::string& domain, const std::filesystem::path& dir) {
  if (virDomainIsActive(dom.get()) != 1) {
    virResetLastError();
    throw VmError(VmError::Kind::invalid_argument, op, domain, "the domain is not running");
  }
  Plan plan;
  plan.live_xml = detail::take_string(virDomainGetXMLDesc(dom.get(), 0));
  if (plan.live_xml.empty()) throw libvirt_error(op, domain);
  plan.chains = xml::disk_chains(plan.live_xml);
  plan.excluded = xml::excluded_disk_targets(plan.live_xml);

  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
  std::filesystem::create_directories(absolute, ec);
  // Search but not list for others before anything is written into it: the
  // memory file and the overlays are 0600, and qemu, perhaps running as
  // another user, opens the new overlay by path.
  if (!ec)
    std::filesystem::permissions(absolute,
                                 std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                     std::filesystem::perms::others_exec,
                                 ec);
  if (ec || !std::filesystem::is_directory(absolute)) {
    throw VmError(VmError::Kind::invalid_argument, op, domain,
                  "cannot create directory " + absolute.string() + (ec ? ": " + ec.message() : ""));
  }
  plan.memory_file = absolute / memory_name;
  std::vector<std::filesystem::path> outputs{plan.memory_file};
  for (const DiskChain& chain : plan.chains) {
    plan.overlays.push_back({chain.target, overlay_path(absolute, chain.target)});
    outputs.push_back(plan.overlays.back().overlay);
  }
  for (const auto& file : outputs) {
    if (std::filesystem::exists(file, ec)) {
      throw VmError(VmError::Kind::invalid_argument, op, domain,
                    file.string() + " exists: a checkpoint directory is used once");
    }
  }
  return plan;
}

void remove_outputs(const Plan& plan) {
  std::error_code ec;
  std::filesystem::remove(plan.memory_file, ec);
  for (const auto& overlay : plan.overlays) std::filesystem::remove(overlay.overlay, ec);
}

// QEMU's downtime for the snapshot just completed, from the completed job stats.
std::optional<std::uint64_t> snapshot_downtime_ms(const DomainHandle& dom) {
  virTypedParameterPtr params = nullptr;
  int count = 0;
  int type = 0;
  if (virDomainGetJobStats(dom.get(), &type, &params, &count, VIR_DOMAIN_JOB_STATS_COMPLETED) < 0) {
    virResetLastError();
    return std::nullopt;
  }
  std::optional<std::uint64_t> result;
  int operation = 0;
  unsigned long long downtime = 0;
  const bool is_snapshot = virTypedParamsGetInt(params, count, VIR_DOMAIN_JOB_OPERATION, &operation) == 1 &&
                           operation == VIR_DOMAIN_JOB_OPERATION_SNAPSHOT;
  if (is_snapshot && virTypedParamsGetULLong(params, count, VIR_DOMAIN_JOB_DOWNTIME, &downtime) == 1) {
    result = downtime;
  }
  virTypedParamsFree(params, count);
  return result;
}

std::string saved_xml(const Connection& conn, const std::filesystem::path& memory_file, const std::string& domain,
                      const std::string& fallback) {
  char* xml = virDomainSaveImageGetXMLDesc(conn.get(), memory_file.c_str(), 0);
  if (xml == nullptr) {
    if (!fallback.empty()) {
      virResetLastError();
      return fallback;
    }
    throw libvirt_error("read the XML saved in " + memory_file.string(), domain);
  }
  return detail::take_string(xml);
}

}  // namespace

CheckpointResult LibvirtAdapter::checkpoint(const std::string& domain, const std::filesystem::path& dir) {
  auto conn = connection(op, domain);
  if (conn->capabilities().live_checkpoint) return checkpoint_live(conn, domain, dir);
  return checkpoint_by_save(conn, domain, dir);
}

CheckpointResult LibvirtAdapter::checkpoint_live(const std::shared_ptr<Connection>& conn, const std::string& domain,
                                                 const std::filesystem::path& dir) {
  const auto started = std::chrono::steady_clock::now();
  DomainHandle dom = lookup(*conn, op, domain);
  const Plan plan = prepare(dom, domain, dir);
  const std::string name = "vmrep-" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count());
  const std::string snapshot = xml::snapshot_xml(name, plan.memory_file, plan.overlays, plan.excluded);
  const unsigned flags = VIR_DOMAIN_SNAPSHOT_CREATE_LIVE | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC |
                         VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA;
  detail::SnapshotHandle snap(virDomainSnapshotCreateXML(dom.get(), snapshot.c_str(), flags));
  if (!snap) {
    VmError error = libvirt_error(op, domain);
    remove_outputs(plan);  // ATOMIC: the disks were not switched; drop what was written
    throw error;
  }
  CheckpointResult result;
  result.domain = domain;
  result.method = CheckpointMethod::live_external_snapshot;
  result.downtime_ms = snapshot_downtime_ms(dom);
  result.wall_ms = detail::elapsed_ms(started);
  result.memory_file = plan.memory_file;
  result.memory_bytes = detail::file_bytes(plan.memory_file);
  result.bytes_written = result.memory_bytes;
  for (std::size_t i = 0; i < plan.chains.size(); ++i) {
    result.disks.push_back({plan.chains[i].target, plan.chains[i].layers, plan.overlays[i].overlay});
    result.bytes_written += detail::file_bytes(plan.overlays[i].overlay);
  }
  result.domain_xml = saved_xml(*conn, plan.memory_file, domain, "");
  return result;
}

// Xen/libxl and the test driver: no external snapshots. The guest stops for the
// whole save; each disk is copied while it is stopped; then it runs again from
// the image just saved, on its unchanged disks.
CheckpointResult LibvirtAdapter::checkpoint_by_save(const std::shared_ptr<Connection>& conn, const std::string& domain,
                                                    const std::filesystem::path& dir) {
  const auto started = std::chrono::steady_clock::now();
  DomainHandle dom = lookup(*conn, op, domain);
  const Plan plan = prepare(dom, domain, dir);
  if (virDomainSaveFlags(dom.get(), plan.memory_file.c_str(), nullptr, 0) < 0) {
    VmError error = libvirt_error(op + std::string(" (save)"), domain);
    remove_outputs(plan);
    throw error;
  }
  CheckpointResult result;
  result.domain = domain;
  result.method = CheckpointMethod::save_and_resume;
  result.memory_file = plan.memory_file;
  std::optional<VmError> copy_error;
  for (std::size_t i = 0; i < plan.chains.size() && !copy_error; ++i) {
    try {
      flatten_chain(plan.chains[i].layers, plan.overlays[i].overlay, options_.qemu_img_timeout);
      result.disks.push_back({plan.chains[i].target, {{plan.overlays[i].overlay, "qcow2"}},
                              plan.chains[i].layers.back().file});
    } catch (const VmError& error) {
      copy_error = error;
    }
  }
  result.domain_xml = saved_xml(*conn, plan.memory_file, domain, plan.live_xml);
  // Resume whatever happened to the copies: the guest must not stay stopped.
  if (virDomainRestoreFlags(conn->get(), plan.memory_file.c_str(), nullptr,
                            detail::restore_flags(conn->capabilities(), false)) < 0) {
    VmError error = libvirt_error(op + std::string(" (resume after save)"), domain);
    throw VmError(error.kind(), error.operation(), domain,
                  error.reason() + "; the guest is stopped, its memory is in " + plan.memory_file.string());
  }
  if (copy_error) {
    remove_outputs(plan);
    throw VmError(copy_error->kind(), op + std::string(" (copy disks)"), domain, copy_error->what());
  }
  result.wall_ms = detail::elapsed_ms(started);
  result.downtime_ms = static_cast<std::uint64_t>(result.wall_ms);  // measured here: the guest was stopped throughout
  result.memory_bytes = detail::file_bytes(plan.memory_file);
  result.bytes_written = result.memory_bytes;
  for (const auto& overlay : plan.overlays) result.bytes_written += detail::file_bytes(overlay.overlay);
  return result;
}

}  // namespace vmrep::vmadapters

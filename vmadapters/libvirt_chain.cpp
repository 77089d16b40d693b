// Disk chain maintenance: block commit on the primary, flatten on the backup.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <thread>

#include "vmadapters/disk_images.hpp"
#include "vmadapters/domain_xml.hpp"
#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_internal.hpp"

namespace vmrep::vmadapters {

using detail::Connection;
using detail::DomainHandle;
using detail::lookup;

namespace {

const char* const op = "commit disk chain";
constexpr auto poll_interval = std::chrono::milliseconds(20);

enum class JobState { none, running, ready };

JobState job_state(const DomainHandle& dom, const std::string& target, const std::string& domain) {
  virDomainBlockJobInfo info{};
  const int rc = virDomainGetBlockJobInfo(dom.get(), target.c_str(), &info, 0);
  if (rc < 0) throw libvirt_error(op + std::string(" (") + target + ")", domain);
  if (rc == 0) return JobState::none;
  return info.end > 0 && info.cur == info.end ? JobState::ready : JobState::running;
}

void abort_job(const DomainHandle& dom, const std::string& target) {
  if (virDomainBlockJobAbort(dom.get(), target.c_str(), 0) < 0) virResetLastError();
}

bool chain_contains(const std::vector<DiskChain>& chains, const std::string& target, const std::filesystem::path& file) {
  for (const DiskChain& chain : chains) {
    if (chain.target != target) continue;
    for (const DiskLayer& layer : chain.layers) {
      if (layer.file == file) return true;
    }
  }
  return false;
}

std::string live_xml(const DomainHandle& dom, const std::string& domain) {
  char* xml = virDomainGetXMLDesc(dom.get(), 0);
  if (xml == nullptr) throw libvirt_error(op, domain);
  return detail::take_string(xml);
}

}  // namespace

std::vector<DiskChain> LibvirtAdapter::disk_chains(const std::string& domain) {
  return xml::disk_chains(domain_xml(domain));
}

CommitResult LibvirtAdapter::commit_chain(const std::string& domain, CommitMode mode) {
  const auto started = std::chrono::steady_clock::now();
  auto conn = connection(op, domain);
  if (!conn->capabilities().block_commit) {
    throw VmError(VmError::Kind::unsupported, op, domain,
                  "the " + conn->capabilities().driver + " driver has no block commit");
  }
  DomainHandle dom = lookup(*conn, op, domain);
  if (virDomainIsActive(dom.get()) != 1) {
    virResetLastError();
    throw VmError(VmError::Kind::invalid_argument, op, domain, "the domain is not running");
  }
  CommitResult result;
  for (const DiskChain& chain : xml::disk_chains(live_xml(dom, domain))) {
    const std::size_t needed = mode == CommitMode::active_pivot ? 2 : 3;
    if (chain.layers.size() < needed) continue;
    commit_disk(conn, domain, chain, mode);
    ++result.disks_committed;
  }
  result.chains = xml::disk_chains(live_xml(dom, domain));
  result.wall_ms = detail::elapsed_ms(started);
  return result;
}

void LibvirtAdapter::commit_disk(const std::shared_ptr<Connection>& conn, const std::string& domain,
                                 const DiskChain& chain, CommitMode mode) {
  DomainHandle dom = lookup(*conn, op, domain);
  const std::string& target = chain.target;
  const std::string what = op + std::string(" (") + target + ")";
  const auto deadline = std::chrono::steady_clock::now() + options_.block_job_timeout;
  const std::filesystem::path top =
      mode == CommitMode::active_pivot ? chain.layers.back().file : chain.layers[chain.layers.size() - 2].file;

  if (mode == CommitMode::active_pivot) {
    // blockcommit --active --shallow: the active layer into its backing, then pivot.
    const unsigned flags = VIR_DOMAIN_BLOCK_COMMIT_ACTIVE | VIR_DOMAIN_BLOCK_COMMIT_SHALLOW;
    if (virDomainBlockCommit(dom.get(), target.c_str(), nullptr, nullptr, 0, flags) < 0) {
      throw libvirt_error(what, domain);
    }
    for (;;) {
      const JobState state = job_state(dom, target, domain);
      if (state == JobState::ready) break;
      if (state == JobState::none) throw VmError(VmError::Kind::failed, what, domain, "the block job ended before it was ready");
      if (std::chrono::steady_clock::now() > deadline) {
        abort_job(dom, target);
        throw VmError(VmError::Kind::timeout, what, domain, "not ready within the block job timeout");
      }
      std::this_thread::sleep_for(poll_interval);
    }
    // cur == end can be seen before QEMU declares the job ready (libvirt 9.0
    // then refuses the pivot with VIR_ERR_BLOCK_COPY_ACTIVE): retry until the
    // deadline. Synchronous without ABORT_ASYNC: returns after the pivot.
    while (virDomainBlockJobAbort(dom.get(), target.c_str(), VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) < 0) {
      VmError error = libvirt_error(what + " (pivot)", domain);
      if (error.libvirt_code() != VIR_ERR_BLOCK_COPY_ACTIVE || std::chrono::steady_clock::now() > deadline) {
        abort_job(dom, target);
        throw error;
      }
      std::this_thread::sleep_for(poll_interval);
    }
  } else {
    // Everything from the frozen layer down into the base; the active layer stays.
    const std::string base = chain.layers.front().file.string();
    if (virDomainBlockCommit(dom.get(), target.c_str(), base.c_str(), top.c_str(), 0, 0) < 0) {
      throw libvirt_error(what, domain);
    }
    while (job_state(dom, target, domain) != JobState::none) {
      if (std::chrono::steady_clock::now() > deadline) {
        abort_job(dom, target);
        throw VmError(VmError::Kind::timeout, what, domain, "not finished within the block job timeout");
      }
      std::this_thread::sleep_for(poll_interval);
    }
  }
  if (chain_contains(xml::disk_chains(live_xml(dom, domain)), target, top)) {
    throw VmError(VmError::Kind::failed, what, domain, top.string() + " is still in the chain after the commit");
  }
}

void LibvirtAdapter::flatten(const std::vector<DiskLayer>& chain, const std::filesystem::path& output) {
  flatten_chain(chain, output, options_.qemu_img_timeout);
}

}  // namespace vmrep::vmadapters

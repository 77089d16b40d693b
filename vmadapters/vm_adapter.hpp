// The hypervisor seam: what vmrep's agents need from a VM manager.
//
// Threading contract (every implementation):
// - Every operation below BLOCKS: it talks to a daemon, waits for QEMU, copies
//   files. Agents call them from their worker pool, never from the Asio event
//   loop thread. Operations may be called concurrently from several worker
//   threads; operations on the same domain are not ordered by the adapter, so an
//   agent runs at most one operation per domain at a time.
// - Events (domain stopped, crashed, ..., connection lost/restored) are handed to
//   the EventCallback given at construction by posting it into the
//   boost::asio::io_context given at construction: the callback always runs on a
//   thread that runs that io_context, never on the hypervisor library's own
//   thread, and it must not block either.
// - Failures throw VmError (vmadapters/errors.hpp); its message names the
//   operation, the domain and the hypervisor's own text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmrep::vmadapters {

enum class DomainState { no_state, running, blocked, paused, shutting_down, shut_off, crashed, pm_suspended };
std::string_view to_string(DomainState state);

// One image of a disk's backing chain.
struct DiskLayer {
  std::filesystem::path file;
  std::string format = "qcow2";  // "qcow2" or "raw"
  bool operator==(const DiskLayer&) const = default;
};

// A disk as the domain sees it now: layers[0] is the base, layers.back() the
// image the domain writes to.
struct DiskChain {
  std::string target;  // "vda"
  std::vector<DiskLayer> layers;
};

// One disk of a checkpoint.
struct CheckpointDisk {
  std::string target;
  // The disk as of the checkpoint, base first; chain.back() is the layer this
  // checkpoint froze (the image the domain wrote to until the checkpoint). With
  // chains kept short by commit_chain(CommitMode::into_base) the frozen layer
  // holds exactly the writes since the previous checkpoint.
  std::vector<DiskLayer> chain;
  // The new overlay the domain writes to from now on: not part of the checkpoint.
  std::filesystem::path active_overlay;

  const DiskLayer& frozen() const { return chain.back(); }
};

enum class CheckpointMethod {
  live_external_snapshot,  // QEMU: the guest pauses for milliseconds
  save_and_resume,         // fallback (Xen/libxl, test driver): the guest stops for the whole save
};

struct CheckpointResult {
  std::string domain;
  CheckpointMethod method = CheckpointMethod::live_external_snapshot;
  std::filesystem::path memory_file;
  std::vector<CheckpointDisk> disks;
  // The domain XML saved in the memory image; its disks name the frozen layers.
  std::string domain_xml;
  // live_external_snapshot: QEMU's own figure for how long the vCPUs were
  // stopped (empty if QEMU did not report one). save_and_resume: the stop time
  // measured by the adapter (the whole save, copy and resume).
  std::optional<std::uint64_t> downtime_ms;
  double wall_ms = 0;
  // Bytes of the files the checkpoint created (memory image + new overlays).
  std::uint64_t bytes_written = 0;
  std::uint64_t memory_bytes = 0;
};

// What a checkpoint is on the host that restores it: the memory image and, per
// disk target of the saved XML, the image the restored domain runs on (usually a
// flatten() of the received chain, or an overlay on it). Every file-backed disk
// of the saved XML must be named here.
struct CheckpointFiles {
  std::filesystem::path memory_file;
  std::map<std::string, DiskLayer> disks;  // target -> image
};

struct RestoreOptions {
  // Other absolute paths of the saved XML to replace, exact match on the whole
  // attribute or element text: serial/console unix sockets, kernel, initrd, ...
  std::map<std::string, std::string> path_rewrites;
  // Use this XML instead of the one saved in the memory image (e.g. from the
  // manifest); disks and path_rewrites still apply to it.
  std::optional<std::string> domain_xml;
  bool start_paused = false;
};

struct RestoreResult {
  std::string domain;
  std::string domain_xml;  // the XML handed to the hypervisor
  double wall_ms = 0;
};

enum class CommitMode {
  // blockcommit --active --pivot --shallow: the active overlay is merged into
  // the layer below it and the domain pivots back onto that layer. Afterwards the
  // chain is one layer shorter and the last checkpoint's frozen layer has been
  // written to: ship (chunk) a checkpoint before committing.
  active_pivot,
  // blockcommit of every layer under the active overlay into the base (no
  // pivot): the chain becomes [base, active]. The last checkpoint's frozen layer
  // file is left as it was, and the next checkpoint's frozen layer holds exactly
  // the writes since this one.
  into_base,
};

struct CommitResult {
  std::vector<DiskChain> chains;  // after the commit
  double wall_ms = 0;
  int disks_committed = 0;  // disks that had something to commit
};

// What the connected hypervisor can do; decided once per connection from the
// driver, never guessed per call.
struct Capabilities {
  std::string driver;             // "QEMU", "Xen", "TEST", ...
  bool live_checkpoint = false;   // external snapshot with memory + disks
  bool block_commit = false;      // commit_chain()
  bool restore_with_xml = false;  // restore() may change paths in the saved XML
  bool downtime_stats = false;    // CheckpointResult::downtime_ms is filled
};

struct DomainEvent {
  enum class Kind {
    defined, undefined, started, suspended, resumed, stopped, shutdown, crashed, pm_suspended,
    block_job_completed, block_job_failed, block_job_canceled, block_job_ready,
    connection_lost, connection_restored, other,
  };
  std::string domain;  // empty for connection events
  Kind kind = Kind::other;
  std::string detail;  // "destroyed", "crashed", "from-snapshot", disk path, reason, ...
};
std::string_view to_string(DomainEvent::Kind kind);

using EventCallback = std::function<void(const DomainEvent&)>;

class VmAdapter {
 public:
  virtual ~VmAdapter() = default;

  virtual Capabilities capabilities() = 0;

  // Throws VmError with kind not_found for a domain the hypervisor does not know.
  virtual DomainState state(const std::string& domain) = 0;
  virtual bool exists(const std::string& domain) = 0;
  virtual std::vector<std::string> list_domains() = 0;  // active and defined, sorted
  virtual std::string domain_xml(const std::string& domain) = 0;  // live XML

  virtual std::string define(const std::string& xml) = 0;  // returns the name
  virtual std::string create(const std::string& xml) = 0;  // start a transient domain
  virtual void start(const std::string& domain) = 0;
  virtual void stop(const std::string& domain) = 0;     // ask the guest to shut down; returns at once
  virtual void destroy(const std::string& domain) = 0;  // pull the plug
  virtual void undefine(const std::string& domain) = 0;
  // Freeze / thaw the vCPUs (the guest keeps its memory and devices): a
  // planned switchover pauses the guest so nothing happens after its final
  // checkpoint.
  virtual void suspend(const std::string& domain) = 0;
  virtual void resume(const std::string& domain) = 0;

  // A live checkpoint into dir (created if missing; must hold no earlier
  // checkpoint): the memory image dir/memory.img and one new overlay
  // dir/<target>.qcow2 per disk onto which the domain pivots.
  virtual CheckpointResult checkpoint(const std::string& domain, const std::filesystem::path& dir) = 0;

  // Brings a domain back from a checkpoint's files on this host, running unless
  // options.start_paused. On failure nothing was started or defined.
  virtual RestoreResult restore(const CheckpointFiles& files, const RestoreOptions& options = {}) = 0;

  // Keeps the domain's disk chains short (see CommitMode); waits for the block
  // jobs to finish.
  virtual CommitResult commit_chain(const std::string& domain, CommitMode mode = CommitMode::active_pivot) = 0;
  virtual std::vector<DiskChain> disk_chains(const std::string& domain) = 0;

  // Writes the disk given by chain (base first) as one standalone qcow2 image at
  // output (replaced atomically); the chain's files are only read, whatever
  // backing paths their headers name. The backup's way to materialize a disk.
  virtual void flatten(const std::vector<DiskLayer>& chain, const std::filesystem::path& output) = 0;
};

}  // namespace vmrep::vmadapters

#pragma once
// The blocking half of one protected service on this host: a live checkpoint
// of its VM into the snapshot store, a restore from a stored version, and
// taking the VM down. Binds vmadapters (libvirt) to snapshots (chunks,
// manifests); holds no policy (the ServiceAgent decides when).
//
// Files of a version (manifest file names):
//   memory                      the saved memory image (with the domain XML)
//   disk.TARGET.I.FORMAT        layer I of disk TARGET at the checkpoint, base
//                               first (I = 0); FORMAT qcow2 or raw
// With the chain kept at [base, active] by commit_chain(into_base) after each
// checkpoint, a version has two layers per disk: the base as of the previous
// checkpoint and the layer this checkpoint froze. Unchanged regions of the
// base are the same chunks as last time, so only what changed is new.
//
// Work files live under WORK/ (the service's directory in data_dir):
//   ck-TERM.SEQ/     a checkpoint's overlays (the memory image is removed
//                    once ingested)
//   restore-TERM.SEQ/ a restored version's flattened disks
//   standby/          on a backup: the newest version's files, kept current
//                     incrementally (snapshots/standby.hpp), so a promotion
//                     restores without rebuilding
// After each checkpoint and restore, every WORK entry no current disk layer
// lives in is removed, so WORK holds only what the running domain needs.
//
// Who calls it: a worker thread, one operation of a service at a time (the
// ServiceAgent serializes them).
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "snapshots/chunker.hpp"
#include "snapshots/store.hpp"
#include "vmadapters/vm_adapter.hpp"

namespace vmrep::agents {

struct CheckpointOutcome {
  snapshots::Version version;
  std::uint64_t plain_bytes = 0;  // the version's files
  std::uint64_t new_bytes = 0;    // plain bytes of chunks the store did not hold
  std::uint64_t new_chunks = 0;
  std::optional<std::uint64_t> downtime_ms;  // QEMU's figure
  double checkpoint_ms = 0, ingest_ms = 0, commit_ms = 0;
};

struct RestoreOutcome {
  snapshots::Version version;
  bool from_standby = false;
  double rebuild_ms = 0, flatten_ms = 0, restore_ms = 0;
};

class VmHost {
 public:
  VmHost(vmadapters::VmAdapter& vm, snapshots::Store& store, std::string service, std::string domain,
         std::filesystem::path work_dir);

  const std::string& domain() const { return domain_; }
  // The domain is active (running or paused).
  bool running();
  // Defined (persistent) and shut off: can be started as it is.
  bool startable();
  void start();

  // Live checkpoint -> version `v` in the store (parent `parent`), then
  // shortens the disk chains unless !shorten_chain (a switchover's final
  // checkpoint of a paused guest: QEMU refuses block-commit on it, and the
  // VM stops here anyway). created_unix_ms comes from the caller's clock.
  CheckpointOutcome checkpoint(snapshots::Version v, std::optional<snapshots::Version> parent,
                               std::int64_t created_unix_ms, bool shorten_chain = true);

  // Rebuilds version `v` from the store (or takes the standby when it holds
  // `v`), flattens each disk and restores the domain from it, running (or
  // paused: a restore prepared ahead of a promotion, resume() serves it).
  // Throws when the domain is already running.
  RestoreOutcome restore(snapshots::Version v, bool paused = false);

  // Backup side: brings WORK/standby to version `v`. Returns the bytes written.
  std::uint64_t prepare_standby(snapshots::Version v);
  std::optional<snapshots::Version> standby_version() const;

  // Pulls the plug (destroy) when running. The definition and the store stay.
  void power_off();
  // Freeze / thaw the guest's vCPUs (planned switchover).
  void suspend();
  void resume();

 private:
  void prune_work();

  vmadapters::VmAdapter& vm_;
  snapshots::Store& store_;
  snapshots::Chunker chunker_;
  std::string service_;
  std::string domain_;
  std::filesystem::path work_;
  // What WORK/standby holds; empty while it is being changed or unknown.
  // Guarded: status reads it from the loop thread.
  mutable std::mutex standby_mutex_;
  std::optional<snapshots::Manifest> standby_;
};

}  // namespace vmrep::agents

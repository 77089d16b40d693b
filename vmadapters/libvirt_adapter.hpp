// VmAdapter over libvirt's C API: qemu:///system (KVM or TCG), xen:///system
// (libxl) and test:///default.
//
// Threads (see also the contract in vm_adapter.hpp):
// - One process-wide thread runs libvirt's default event loop
//   (virEventRunDefaultImpl); it carries keepalive pings and delivers domain
//   events. Its callbacks only copy the event and post it into the io_context;
//   they never run agent code and never block.
// - Each adapter has a reconnect thread: when the connection closes (libvirtd
//   restarted or died, keepalive timed out) it reopens the URI with capped
//   exponential backoff, registers the event callbacks again and reports
//   DomainEvent::Kind::connection_restored. Until then operations try one
//   reconnect themselves and throw VmError(connection) if it fails.
// - All public operations block and are meant for a worker pool.
// The io_context must outlive the adapter. Destroy the adapter on a thread that
// is not running its callbacks (or after the io_context stopped): events still
// queued are then dropped, never delivered to a destroyed receiver.
//
// Drivers (Capabilities is decided from virConnectGetType when connecting):
// - QEMU: live checkpoint = external snapshot of memory and every disk
//   (VIR_DOMAIN_SNAPSHOT_CREATE_LIVE|ATOMIC|NO_METADATA), downtime from the
//   completed job's stats, block commit, restore with a rewritten XML.
// - Xen (libxl): no external snapshots and no block commit in libvirt's libxl
//   driver, and its restore takes no replacement XML. checkpoint() therefore
//   falls back to save_and_resume: virDomainSaveFlags (the guest stops), each
//   disk copied into the checkpoint dir with qemu-img, then the guest resumed
//   from the image just saved; restore() refuses disk paths that differ from the
//   saved ones; commit_chain() throws unsupported. Not tested here (no Xen).
// - TEST (test:///default): in-process, no daemon, no keepalive; the same
//   save_and_resume fallback, for fast error-path tests.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "vmadapters/vm_adapter.hpp"

namespace boost::asio {
class io_context;
}

namespace vmrep::vmadapters {

struct LibvirtOptions {
  std::string uri = "qemu:///system";
  // virConnectSetKeepAlive: a ping every interval; the connection is closed
  // after count unanswered pings. Not available on test:///default.
  int keepalive_interval_s = 5;
  unsigned keepalive_count = 3;
  std::chrono::milliseconds reconnect_backoff_min{250};
  std::chrono::milliseconds reconnect_backoff_max{5000};
  // Bound on waiting for one block commit to be ready / to finish.
  std::chrono::milliseconds block_job_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds qemu_img_timeout{std::chrono::minutes(30)};
  // false: construct even when libvirtd is down; the reconnect thread keeps trying.
  bool fail_if_unreachable = true;
};

namespace detail {
class EventLoop;
class Connection;
struct Shared;
}  // namespace detail

class LibvirtAdapter final : public VmAdapter {
 public:
  // Opens the connection (blocking). on_event runs on io's threads.
  LibvirtAdapter(LibvirtOptions options, boost::asio::io_context& io, EventCallback on_event);
  ~LibvirtAdapter() override;
  LibvirtAdapter(const LibvirtAdapter&) = delete;
  LibvirtAdapter& operator=(const LibvirtAdapter&) = delete;

  bool connected() const;
  const LibvirtOptions& options() const { return options_; }

  Capabilities capabilities() override;
  DomainState state(const std::string& domain) override;
  bool exists(const std::string& domain) override;
  std::vector<std::string> list_domains() override;
  std::string domain_xml(const std::string& domain) override;
  std::string define(const std::string& xml) override;
  std::string create(const std::string& xml) override;
  void start(const std::string& domain) override;
  void stop(const std::string& domain) override;
  void destroy(const std::string& domain) override;
  void undefine(const std::string& domain) override;
  void suspend(const std::string& domain) override;
  void resume(const std::string& domain) override;
  CheckpointResult checkpoint(const std::string& domain, const std::filesystem::path& dir) override;
  RestoreResult restore(const CheckpointFiles& files, const RestoreOptions& options = {}) override;
  CommitResult commit_chain(const std::string& domain, CommitMode mode = CommitMode::active_pivot) override;
  std::vector<DiskChain> disk_chains(const std::string& domain) override;
  void flatten(const std::vector<DiskLayer>& chain, const std::filesystem::path& output) override;

 private:
  // The live connection, reopened once if it was lost; throws VmError(connection).
  std::shared_ptr<detail::Connection> connection(const std::string& operation, const std::string& domain);
  void reconnect_loop();

  CheckpointResult checkpoint_live(const std::shared_ptr<detail::Connection>& conn, const std::string& domain,
                                   const std::filesystem::path& dir);
  CheckpointResult checkpoint_by_save(const std::shared_ptr<detail::Connection>& conn, const std::string& domain,
                                      const std::filesystem::path& dir);
  void commit_disk(const std::shared_ptr<detail::Connection>& conn, const std::string& domain,
                   const DiskChain& chain, CommitMode mode);

  LibvirtOptions options_;
  std::shared_ptr<detail::EventLoop> loop_;
  std::shared_ptr<detail::Shared> shared_;
  std::thread reconnector_;
};

}  // namespace vmrep::vmadapters

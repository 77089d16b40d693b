// Connection, event loop thread, libvirt callbacks and reconnect.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <system_error>

#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_internal.hpp"

namespace vmrep::vmadapters {
namespace detail {
namespace {

constexpr int event_tick_ms = 200;  // how soon the event thread notices stop

void noop_timeout(int /*timer*/, void* /*opaque*/) {}

std::once_flag event_impl_once;

std::mutex loop_mutex;
std::weak_ptr<EventLoop> loop_instance;

using WeakShared = std::weak_ptr<Shared>;
void free_weak(void* opaque) { delete static_cast<WeakShared*>(opaque); }

const char* lifecycle_detail(int event, int detail) {
  switch (event) {
    case VIR_DOMAIN_EVENT_STOPPED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "shutdown";
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "destroyed";
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "crashed";
        case VIR_DOMAIN_EVENT_STOPPED_MIGRATED: return "migrated";
        case VIR_DOMAIN_EVENT_STOPPED_SAVED: return "saved";
        case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "failed";
        case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: return "from-snapshot";
        default: return "";
      }
    case VIR_DOMAIN_EVENT_STARTED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_STARTED_BOOTED: return "booted";
        case VIR_DOMAIN_EVENT_STARTED_RESTORED: return "restored";
        case VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT: return "from-snapshot";
        default: return "";
      }
    case VIR_DOMAIN_EVENT_SUSPENDED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_SUSPENDED_PAUSED: return "paused";
        case VIR_DOMAIN_EVENT_SUSPENDED_IOERROR: return "io-error";
        case VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT: return "from-snapshot";
        default: return "";
      }
    case VIR_DOMAIN_EVENT_CRASHED: return detail == VIR_DOMAIN_EVENT_CRASHED_PANICKED ? "panicked" : "";
    default: return "";
  }
}

DomainEvent::Kind lifecycle_kind(int event) {
  using K = DomainEvent::Kind;
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return K::defined;
    case VIR_DOMAIN_EVENT_UNDEFINED: return K::undefined;
    case VIR_DOMAIN_EVENT_STARTED: return K::started;
    case VIR_DOMAIN_EVENT_SUSPENDED: return K::suspended;
    case VIR_DOMAIN_EVENT_RESUMED: return K::resumed;
    case VIR_DOMAIN_EVENT_STOPPED: return K::stopped;
    case VIR_DOMAIN_EVENT_SHUTDOWN: return K::shutdown;
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return K::pm_suspended;
    case VIR_DOMAIN_EVENT_CRASHED: return K::crashed;
    default: return K::other;
  }
}

// Runs on libvirt's event thread: copy, post, return.
int on_lifecycle(virConnectPtr /*conn*/, virDomainPtr dom, int event, int detail, void* opaque) {
  if (auto shared = static_cast<WeakShared*>(opaque)->lock()) {
    const char* name = virDomainGetName(dom);
    shared->post({name != nullptr ? name : "", lifecycle_kind(event), lifecycle_detail(event, detail)});
  }
  return 0;
}

void on_block_job(virConnectPtr /*conn*/, virDomainPtr dom, const char* disk, int /*type*/, int status,
                  void* opaque) {
  using K = DomainEvent::Kind;
  auto shared = static_cast<WeakShared*>(opaque)->lock();
  if (!shared) return;
  K kind = K::other;
  switch (status) {
    case VIR_DOMAIN_BLOCK_JOB_COMPLETED: kind = K::block_job_completed; break;
    case VIR_DOMAIN_BLOCK_JOB_FAILED: kind = K::block_job_failed; break;
    case VIR_DOMAIN_BLOCK_JOB_CANCELED: kind = K::block_job_canceled; break;
    case VIR_DOMAIN_BLOCK_JOB_READY: kind = K::block_job_ready; break;
    default: break;
  }
  const char* name = virDomainGetName(dom);
  shared->post({name != nullptr ? name : "", kind, disk != nullptr ? disk : ""});
}

void on_close(virConnectPtr conn, int reason, void* opaque) {
  auto shared = static_cast<WeakShared*>(opaque)->lock();
  if (!shared) return;
  const char* why = reason == VIR_CONNECT_CLOSE_REASON_EOF         ? "eof"
                    : reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? "keepalive"
                    : reason == VIR_CONNECT_CLOSE_REASON_ERROR     ? "error"
                                                                   : "client";
  {
    std::lock_guard lock(shared->mutex);
    if (!shared->conn || shared->conn->get() != conn || shared->lost) return;
    shared->lost = true;
  }
  shared->wake.notify_all();
  shared->post({"", DomainEvent::Kind::connection_lost, why});
}

}  // namespace

std::shared_ptr<EventLoop> EventLoop::acquire() {
  std::lock_guard lock(loop_mutex);
  if (auto loop = loop_instance.lock()) return loop;
  std::shared_ptr<EventLoop> loop(new EventLoop());
  loop_instance = loop;
  return loop;
}

EventLoop::EventLoop() {
  std::call_once(event_impl_once, [] {
    silence_libvirt_stderr();
    virEventRegisterDefaultImpl();
    // A periodic no-op timer: virEventRunDefaultImpl returns at least this often,
    // so the thread sees stop_ without a wakeup call.
    virEventAddTimeout(event_tick_ms, noop_timeout, nullptr, nullptr);
  });
  thread_ = std::thread([this] { run(); });
}

EventLoop::~EventLoop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EventLoop::run() {
  while (!stop_) {
    if (virEventRunDefaultImpl() < 0) {
      virResetLastError();
      std::this_thread::sleep_for(std::chrono::milliseconds(event_tick_ms));
    }
  }
}

void Shared::post(DomainEvent event) {
  boost::asio::post(io, [event = std::move(event), alive = weak_from_this()]() {
    if (auto me = alive.lock(); me && !me->stopping) me->on_event(event);
  });
}

Capabilities capabilities_for_driver(const std::string& driver_type) {
  Capabilities caps;
  caps.driver = driver_type;
  if (driver_type == "QEMU") {
    caps.live_checkpoint = true;
    caps.block_commit = true;
    caps.restore_with_xml = true;
    caps.downtime_stats = true;
  } else if (driver_type == "TEST") {
    caps.restore_with_xml = false;  // the test driver refuses a replacement XML
  }
  // Xen (libxl) and anything else: no external snapshots, no block commit, restore
  // takes no replacement XML; see libvirt_adapter.hpp.
  return caps;
}

unsigned restore_flags(const Capabilities& caps, bool paused) {
  if (paused) return VIR_DOMAIN_SAVE_PAUSED;
  // The test and libxl drivers accept only PAUSED and resume running otherwise.
  return caps.driver == "QEMU" ? static_cast<unsigned>(VIR_DOMAIN_SAVE_RUNNING) : 0u;
}

Connection::Connection(const LibvirtOptions& options, const std::shared_ptr<Shared>& shared) {
  conn_ = virConnectOpen(options.uri.c_str());
  if (conn_ == nullptr) {
    VmError error = libvirt_error("connect to " + options.uri, "");
    throw VmError(VmError::Kind::connection, error.operation(), "", error.reason(), error.libvirt_code());
  }
  const char* type = virConnectGetType(conn_);
  caps_ = capabilities_for_driver(type != nullptr ? type : "");
  // Keepalive: 0 ok; 1 the other side cannot do it; -1 local drivers (test:///).
  if (virConnectSetKeepAlive(conn_, options.keepalive_interval_s, options.keepalive_count) < 0) virResetLastError();
  register_callbacks(shared);
}

void Connection::register_callbacks(const std::shared_ptr<Shared>& shared) {
  auto* weak = new WeakShared(shared);
  int id = virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), weak, free_weak);
  if (id < 0) {
    delete weak;
    VmError error = libvirt_error("register lifecycle events", "");
    virConnectClose(conn_);
    throw error;
  }
  callback_ids_.push_back(id);
  weak = new WeakShared(shared);
  id = virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                        VIR_DOMAIN_EVENT_CALLBACK(on_block_job), weak, free_weak);
  if (id < 0) {
    delete weak;
    virResetLastError();  // drivers without block jobs (test) refuse; lifecycle events still work
  } else {
    callback_ids_.push_back(id);
  }
  // Owned here, not by libvirt: for local drivers (test:///) registration is a
  // silent no-op that would never call a free function. libvirt runs the close
  // callback under the same lock that unregistering takes, so it is safe to
  // free after virConnectUnregisterCloseCallback.
  close_opaque_ = std::make_unique<WeakShared>(shared);
  if (virConnectRegisterCloseCallback(conn_, on_close, close_opaque_.get(), nullptr) < 0) {
    virResetLastError();
  } else {
    close_callback_ = true;
  }
}

Connection::~Connection() {
  for (int id : callback_ids_) virConnectDomainEventDeregisterAny(conn_, id);
  if (close_callback_) virConnectUnregisterCloseCallback(conn_, on_close);
  virResetLastError();
  virConnectClose(conn_);
}

bool Connection::alive() const { return virConnectIsAlive(conn_) == 1; }

DomainHandle lookup(const Connection& conn, const std::string& operation, const std::string& domain) {
  DomainHandle dom(virDomainLookupByName(conn.get(), domain.c_str()));
  if (!dom) throw libvirt_error(operation, domain);
  return dom;
}

std::uint64_t file_bytes(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  return ec ? 0 : static_cast<std::uint64_t>(size);
}

}  // namespace detail

using detail::Connection;
using detail::Shared;

LibvirtAdapter::LibvirtAdapter(LibvirtOptions options, boost::asio::io_context& io, EventCallback on_event)
    : options_(std::move(options)),
      loop_(detail::EventLoop::acquire()),
      shared_(std::make_shared<Shared>(io, std::move(on_event))) {
  try {
    auto conn = std::make_shared<Connection>(options_, shared_);
    std::lock_guard lock(shared_->mutex);
    shared_->conn = std::move(conn);
    shared_->ever_connected = true;
  } catch (const VmError&) {
    if (options_.fail_if_unreachable) throw;
    std::lock_guard lock(shared_->mutex);
    shared_->lost = true;
  }
  reconnector_ = std::thread([this] { reconnect_loop(); });
}

LibvirtAdapter::~LibvirtAdapter() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->wake.notify_all();
  if (reconnector_.joinable()) reconnector_.join();
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(shared_->mutex);
    conn = std::move(shared_->conn);
  }
  conn.reset();  // deregisters callbacks, closes
}

bool LibvirtAdapter::connected() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->conn && !shared_->lost;
}

Capabilities LibvirtAdapter::capabilities() { return connection("capabilities", "")->capabilities(); }

std::shared_ptr<Connection> LibvirtAdapter::connection(const std::string& operation, const std::string& domain) {
  std::shared_ptr<Connection> stale;
  std::unique_lock lock(shared_->mutex);
  if (shared_->conn && !shared_->lost) return shared_->conn;
  stale = std::move(shared_->conn);
  try {
    shared_->conn = std::make_shared<Connection>(options_, shared_);
  } catch (const VmError& error) {
    throw VmError(VmError::Kind::connection, operation, domain,
                  "libvirt connection to " + options_.uri + " is down (" + error.reason() + ")");
  }
  shared_->lost = false;
  const bool restored = shared_->ever_connected;
  shared_->ever_connected = true;
  lock.unlock();
  if (restored) shared_->post({"", DomainEvent::Kind::connection_restored, options_.uri});
  return shared_->conn;
}

void LibvirtAdapter::reconnect_loop() {
  auto backoff = options_.reconnect_backoff_min;
  std::unique_lock lock(shared_->mutex);
  while (!shared_->stopping) {
    shared_->wake.wait(lock, [&] { return shared_->stopping || shared_->lost; });
    if (shared_->stopping) break;
    std::shared_ptr<Connection> stale = std::move(shared_->conn);
    lock.unlock();
    stale.reset();  // closes the dead connection outside the lock
    std::shared_ptr<Connection> fresh;
    try {
      fresh = std::make_shared<Connection>(options_, shared_);
    } catch (const VmError&) {
    }
    lock.lock();
    if (fresh && !shared_->lost) {
      // an operation reconnected meanwhile (connection()); keep its connection
      lock.unlock();
      fresh.reset();
      lock.lock();
      continue;
    }
    if (fresh) {
      shared_->conn = std::move(fresh);
      shared_->lost = false;
      shared_->ever_connected = true;
      backoff = options_.reconnect_backoff_min;
      shared_->post({"", DomainEvent::Kind::connection_restored, options_.uri});
      continue;
    }
    shared_->wake.wait_for(lock, backoff, [&] { return shared_->stopping.load(); });
    backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  }
}

}  // namespace vmrep::vmadapters

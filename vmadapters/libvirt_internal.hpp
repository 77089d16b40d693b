// Internal to the libvirt adapter (not installed, not for other modules).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmadapters/libvirt_adapter.hpp"
#include "vmadapters/libvirt_handles.hpp"

namespace vmrep::vmadapters::detail {

// libvirt's default event loop, run by one thread per process while at least one
// adapter holds it. virEventRegisterDefaultImpl is called once, before the first
// virConnectOpen, as libvirt requires for keepalive and events.
class EventLoop {
 public:
  static std::shared_ptr<EventLoop> acquire();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

 private:
  EventLoop();
  void run();
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// What the libvirt callbacks (event thread) and the adapter share. Callbacks hold
// a weak_ptr to it, so a late callback after the adapter is gone does nothing.
struct Shared : std::enable_shared_from_this<Shared> {
  Shared(boost::asio::io_context& io_context, EventCallback callback)
      : io(io_context), on_event(std::move(callback)) {}
  // Posts event into io; on_event runs there unless the adapter stopped first.
  void post(DomainEvent event);

  boost::asio::io_context& io;
  EventCallback on_event;
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // guards conn, lost, ever_connected
  std::condition_variable wake;
  std::shared_ptr<Connection> conn;
  bool lost = false;
  bool ever_connected = false;
};

// One open virConnectPtr with its event and close callbacks registered.
// Destroying it deregisters them and closes the connection.
class Connection {
 public:
  // Opens uri and registers callbacks that report into shared. Throws VmError.
  Connection(const LibvirtOptions& options, const std::shared_ptr<Shared>& shared);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  virConnectPtr get() const { return conn_; }
  const Capabilities& capabilities() const { return caps_; }
  bool alive() const;

 private:
  void register_callbacks(const std::shared_ptr<Shared>& shared);
  virConnectPtr conn_ = nullptr;
  Capabilities caps_;
  std::vector<int> callback_ids_;
  bool close_callback_ = false;
  std::unique_ptr<std::weak_ptr<Shared>> close_opaque_;
};

Capabilities capabilities_for_driver(const std::string& driver_type);

// Flags for virDomainRestoreFlags: QEMU gets SAVE_RUNNING (overrides the saved
// state); the test and libxl drivers refuse it and resume running by default.
unsigned restore_flags(const Capabilities& caps, bool paused);

// virDomainLookupByName, or VmError (not_found names the domain).
DomainHandle lookup(const Connection& conn, const std::string& operation, const std::string& domain);

inline double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

std::uint64_t file_bytes(const std::filesystem::path& file);

}  // namespace vmrep::vmadapters::detail

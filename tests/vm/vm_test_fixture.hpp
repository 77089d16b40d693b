// GoogleTest fixture for tests on a real libvirtd and the real tiny guest: skips
// only when libvirtd/QEMU cannot run here at all, runs an io_context thread for
// the adapter's events, and destroys every domain it made, even on failure.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "tests/vm/vm_support.hpp"
#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_adapter.hpp"

namespace vmrep::vmtest {

using vmadapters::DomainEvent;

class RealGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = ensure_libvirtd()) GTEST_SKIP() << *why;
    auto guest = find_guest();
    ASSERT_TRUE(guest) << "the guest is not built: run scripts/build-guest BUILD_DIR/guest (ctest's vm_build_guest "
                          "does) or set VMREP_GUEST_DIR";
    guest_ = *guest;
    type_ = domain_type(guest_);
    io_thread_ = std::thread([this] { io_.run(); });
    adapter_ = std::make_unique<vmadapters::LibvirtAdapter>(vmadapters::LibvirtOptions{}, io_,
                                                            [this](const DomainEvent& e) { record(e); });
  }

  void TearDown() override {
    board_.close();
    for (const std::string& name : created_) {
      try {
        if (adapter_ && adapter_->exists(name) && adapter_->state(name) != vmadapters::DomainState::shut_off) {
          adapter_->destroy(name);
        }
      } catch (const vmadapters::VmError& e) {
        ADD_FAILURE() << "cleanup: " << e.what();
      }
    }
    adapter_.reset();
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  // Copies the data disk template into dir and starts a transient guest on it
  // with its board socket in dir; returns once the board answers.
  std::string boot(const fs::path& dir, int memory_mib = 128) {
    GuestSpec spec;
    spec.name = unique_domain_name("board");
    spec.type = type_;
    spec.memory_mib = memory_mib;
    spec.disk = dir / "disk.qcow2";
    spec.socket = dir / "board.sock";
    fs::copy_file(guest_.data_disk, spec.disk, fs::copy_options::overwrite_existing);
    created_.push_back(spec.name);
    adapter_->create(guest_domain_xml(guest_, spec));
    board_.connect(spec.socket, boot_timeout());
    return spec.name;
  }

  static std::chrono::milliseconds boot_timeout() { return std::chrono::seconds(120); }

  // Waits until an event of kind (for domain, when not empty) was delivered.
  bool await_event(DomainEvent::Kind kind, const std::string& domain, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const DomainEvent& e : events_) {
        if (e.kind == kind && (domain.empty() || e.domain == domain)) return true;
      }
      return false;
    });
  }

  std::vector<DomainEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

  // Every event so far ran on the io_context's thread (never libvirt's).
  bool events_on_io_thread() {
    std::lock_guard lock(mutex_);
    return event_threads_ok_;
  }

  GuestImages guest_;
  std::string type_;
  std::unique_ptr<vmadapters::LibvirtAdapter> adapter_;
  BoardClient board_;
  std::vector<std::string> created_;

 private:
  void record(const DomainEvent& e) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
      event_threads_ok_ = event_threads_ok_ && std::this_thread::get_id() == io_thread_.get_id();
    }
    cv_.notify_all();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<DomainEvent> events_;
  bool event_threads_ok_ = true;
};

}  // namespace vmrep::vmtest

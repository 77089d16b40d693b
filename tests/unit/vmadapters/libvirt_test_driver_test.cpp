// LibvirtAdapter against libvirt's in-process test:///default driver: the error
// paths (missing domain, bad restore input) and the event plumbing, fast and
// without a daemon. Each test runs a defined domain "vmrep-unit" of its own
// (test:///default's built-in dom domain names a disk file that does not exist).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_adapter.hpp"
#include "tests/support/temp_dir.hpp"

namespace vmrep::vmadapters {
namespace {

namespace fs = std::filesystem;

using TempDir = vmrep::test::TempDir;

class TestDriver : public ::testing::Test {
 protected:
  TestDriver() : adapter_(LibvirtOptions{.uri = "test:///default"}, io_, [this](const DomainEvent& e) {
                   events_.push_back(e);
                   event_threads_.push_back(std::this_thread::get_id());
                 }) {
    adapter_.define(domain_xml_for(""));
    adapter_.start(dom);
  }
  ~TestDriver() override {
    try {
      if (adapter_.exists(dom) && adapter_.state(dom) != DomainState::shut_off) adapter_.destroy(dom);
      if (adapter_.exists(dom)) adapter_.undefine(dom);
    } catch (const VmError&) {
    }
  }

  // A test-driver domain; with a disk when disk is not empty.
  static std::string domain_xml_for(const std::string& disk) {
    std::string xml = "<domain type='test'><name>" + std::string(dom) +
                      "</name><memory unit='MiB'>64</memory><os><type>hvm</type></os><devices>";
    if (!disk.empty()) {
      xml += "<disk type='file' device='disk'><source file='" + disk + "'/><target dev='vda'/></disk>";
    }
    return xml + "</devices></domain>";
  }

  static constexpr const char* dom = "vmrep-unit";

  // Runs the io_context until an event of kind for domain arrived or 5 s passed.
  bool await_event(DomainEvent::Kind kind, const std::string& domain) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(50));
      for (const DomainEvent& e : events_) {
        if (e.kind == kind && e.domain == domain) return true;
      }
    }
    return false;
  }

  // The error thrown by f, or a test failure.
  template <typename F>
  VmError error_of(F&& f) {
    try {
      f();
    } catch (const VmError& e) {
      return e;
    }
    ADD_FAILURE() << "expected a VmError";
    return VmError(VmError::Kind::failed, "", "", "");
  }

  static void expect_names(const VmError& e, const std::string& operation, const std::string& domain,
                           const std::string& libvirt_text) {
    const std::string what = e.what();
    EXPECT_NE(what.find(operation), std::string::npos) << what;
    EXPECT_NE(what.find("'" + domain + "'"), std::string::npos) << what;
    EXPECT_NE(what.find(libvirt_text), std::string::npos) << what;
  }

  boost::asio::io_context io_;
  std::vector<DomainEvent> events_;
  std::vector<std::thread::id> event_threads_;
  LibvirtAdapter adapter_;
};

TEST_F(TestDriver, CapabilitiesAreExplicitForTheTestDriver) {
  const Capabilities caps = adapter_.capabilities();
  EXPECT_EQ(caps.driver, "TEST");
  EXPECT_FALSE(caps.live_checkpoint);
  EXPECT_FALSE(caps.block_commit);
  EXPECT_FALSE(caps.restore_with_xml);
}

TEST_F(TestDriver, MissingDomainErrorsNameOperationDomainAndLibvirtText) {
  const std::string nope = "vmrep-no-such-domain";
  const VmError state = error_of([&] { adapter_.state(nope); });
  EXPECT_EQ(state.kind(), VmError::Kind::not_found);
  expect_names(state, "get state", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.start(nope); }), "start", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.destroy(nope); }), "destroy", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.stop(nope); }), "shut down", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.undefine(nope); }), "undefine", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.suspend(nope); }), "suspend", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.resume(nope); }), "resume", nope, "Domain not found");
  expect_names(error_of([&] { adapter_.domain_xml(nope); }), "get XML", nope, "Domain not found");
  TempDir dir;
  expect_names(error_of([&] { adapter_.checkpoint(nope, dir.path() / "ck"); }), "checkpoint", nope, "Domain not found");
  EXPECT_FALSE(fs::exists(dir.path() / "ck" / "memory.img"));
  EXPECT_FALSE(adapter_.exists(nope));
  EXPECT_TRUE(adapter_.exists(dom));
  EXPECT_TRUE(adapter_.exists("test"));
}

TEST_F(TestDriver, SuspendPausesAndResumeRuns) {
  adapter_.suspend(dom);
  EXPECT_EQ(adapter_.state(dom), DomainState::paused);
  adapter_.resume(dom);
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
}

TEST_F(TestDriver, CommitChainIsUnsupportedWithoutBlockCommit) {
  const VmError e = error_of([&] { adapter_.commit_chain(dom); });
  EXPECT_EQ(e.kind(), VmError::Kind::unsupported);
  expect_names(e, "commit disk chain", dom, "no block commit");
}

TEST_F(TestDriver, LifecycleEventsArePostedIntoTheIoContext) {
  adapter_.destroy(dom);
  ASSERT_TRUE(await_event(DomainEvent::Kind::stopped, dom));
  for (const auto& id : event_threads_) EXPECT_EQ(id, std::this_thread::get_id()) << "callback ran off the io_context";
  const auto stopped = std::find_if(events_.begin(), events_.end(), [](const auto& e) { return e.kind == DomainEvent::Kind::stopped; });
  EXPECT_EQ(stopped->detail, "destroyed");
  EXPECT_EQ(adapter_.state(dom), DomainState::shut_off);
  adapter_.start(dom);
  EXPECT_TRUE(await_event(DomainEvent::Kind::started, dom));
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
}

TEST_F(TestDriver, CheckpointFallsBackToSaveAndResume) {
  TempDir dir;
  const CheckpointResult ck = adapter_.checkpoint(dom, dir.path() / "ck1");
  EXPECT_EQ(ck.method, CheckpointMethod::save_and_resume);
  EXPECT_TRUE(fs::is_regular_file(ck.memory_file));
  EXPECT_GT(ck.bytes_written, 0u);
  EXPECT_NE(ck.domain_xml.find("<name>vmrep-unit</name>"), std::string::npos);
  EXPECT_EQ(adapter_.state(dom), DomainState::running) << "the guest must run again after the save";

  adapter_.destroy(dom);
  const RestoreResult restored = adapter_.restore({ck.memory_file, {}});
  EXPECT_EQ(restored.domain, dom);
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
}

TEST_F(TestDriver, SaveAndResumeCopiesTheDisksWhileTheGuestIsStopped) {
  TempDir dir;
  const fs::path disk = dir.path() / "disk.img";
  std::ofstream(disk) << std::string(64 * 1024, 'd');
  adapter_.destroy(dom);
  adapter_.undefine(dom);
  adapter_.define(domain_xml_for(disk.string()));
  adapter_.start(dom);
  CheckpointResult ck;
  try {
    ck = adapter_.checkpoint(dom, dir.path() / "ck");
  } catch (const VmError& e) {
    if (std::string(e.what()).find("run qemu-img") != std::string::npos) GTEST_SKIP() << "qemu-img not installed";
    throw;
  }
  ASSERT_EQ(ck.disks.size(), 1u);
  EXPECT_EQ(ck.disks[0].target, "vda");
  EXPECT_EQ(ck.disks[0].frozen().file, dir.path() / "ck" / "vda.qcow2");
  EXPECT_TRUE(fs::is_regular_file(ck.disks[0].frozen().file));
  EXPECT_EQ(ck.disks[0].active_overlay, disk) << "the guest goes on writing its own disk";
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
  // Drivers without XML replacement restore only onto the saved paths.
  adapter_.destroy(dom);
  const VmError moved = error_of([&] { adapter_.restore({ck.memory_file, {{"vda", ck.disks[0].frozen()}}}); });
  EXPECT_EQ(moved.kind(), VmError::Kind::unsupported);
  expect_names(moved, "restore", dom, "must be " + disk.string());
  adapter_.restore({ck.memory_file, {{"vda", {disk, "raw"}}}});
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
}

TEST_F(TestDriver, CheckpointDirectoryIsUsedOnce) {
  TempDir dir;
  adapter_.checkpoint(dom, dir.path() / "ck");
  const VmError e = error_of([&] { adapter_.checkpoint(dom, dir.path() / "ck"); });
  EXPECT_EQ(e.kind(), VmError::Kind::invalid_argument);
  expect_names(e, "checkpoint", dom, "exists");
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
}

TEST_F(TestDriver, CheckpointOfAStoppedDomainIsRefused) {
  adapter_.destroy(dom);
  TempDir dir;
  const VmError e = error_of([&] { adapter_.checkpoint(dom, dir.path() / "ck"); });
  expect_names(e, "checkpoint", dom, "not running");
  EXPECT_FALSE(fs::exists(dir.path() / "ck" / "memory.img"));
}

TEST_F(TestDriver, RestoreOfAMissingFileIsClearAndChangesNothing) {
  adapter_.destroy(dom);
  const auto before = adapter_.list_domains();
  TempDir dir;
  const fs::path missing = dir.path() / "no-such-checkpoint" / "memory.img";
  const VmError e = error_of([&] { adapter_.restore({missing, {}}); });
  EXPECT_EQ(e.kind(), VmError::Kind::invalid_argument);
  EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  EXPECT_EQ(adapter_.list_domains(), before);
  EXPECT_EQ(adapter_.state(dom), DomainState::shut_off);
}

TEST_F(TestDriver, RestoreOfATruncatedFileIsClearAndChangesNothing) {
  TempDir dir;
  const CheckpointResult ck = adapter_.checkpoint(dom, dir.path() / "ck");
  adapter_.destroy(dom);
  const auto before = adapter_.list_domains();
  const auto size = fs::file_size(ck.memory_file);
  for (const auto cut : {size / 2, std::uintmax_t{10}}) {
    fs::resize_file(ck.memory_file, cut);
    const VmError e = error_of([&] { adapter_.restore({ck.memory_file, {}}); });
    EXPECT_NE(std::string(e.what()).find("restore from " + ck.memory_file.string()), std::string::npos) << e.what();
    EXPECT_EQ(adapter_.list_domains(), before);
    EXPECT_EQ(adapter_.state(dom), DomainState::shut_off);
  }
  fs::resize_file(ck.memory_file, 0);
  const VmError empty = error_of([&] { adapter_.restore({ck.memory_file, {}}); });
  EXPECT_NE(std::string(empty.what()).find("empty"), std::string::npos) << empty.what();
  EXPECT_EQ(adapter_.state(dom), DomainState::shut_off);
}

TEST_F(TestDriver, RestoreOfGarbageIsClearAndChangesNothing) {
  adapter_.destroy(dom);
  TempDir dir;
  const fs::path junk = dir.path() / "memory.img";
  std::ofstream(junk) << std::string(4096, 'x');
  const VmError e = error_of([&] { adapter_.restore({junk, {}}); });
  EXPECT_NE(std::string(e.what()).find("restore from " + junk.string()), std::string::npos) << e.what();
  EXPECT_EQ(adapter_.state(dom), DomainState::shut_off);
}

TEST_F(TestDriver, RestoreOverARunningDomainIsRefused) {
  TempDir dir;
  const CheckpointResult ck = adapter_.checkpoint(dom, dir.path() / "ck");
  const VmError e = error_of([&] { adapter_.restore({ck.memory_file, {}}); });
  expect_names(e, "restore", dom, "already running");
  EXPECT_EQ(adapter_.state(dom), DomainState::running);
}

TEST_F(TestDriver, RestoreWithRewrittenPathsIsUnsupportedWhereTheDriverIgnoresXml) {
  TempDir dir;
  const CheckpointResult ck = adapter_.checkpoint(dom, dir.path() / "ck");
  adapter_.destroy(dom);
  RestoreOptions options;
  options.path_rewrites["/old"] = "/new";
  const VmError e = error_of([&] { adapter_.restore({ck.memory_file, {}}, options); });
  EXPECT_EQ(e.kind(), VmError::Kind::unsupported);
  EXPECT_EQ(adapter_.state(dom), DomainState::shut_off);
}

TEST(LibvirtAdapter, UnreachableDaemonIsAClearConnectionError) {
  boost::asio::io_context io;
  const std::string uri = "qemu:///system?socket=/nonexistent/vmrep/libvirt-sock";
  try {
    LibvirtAdapter adapter(LibvirtOptions{.uri = uri}, io, [](const DomainEvent&) {});
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_EQ(e.kind(), VmError::Kind::connection);
    EXPECT_NE(std::string(e.what()).find("connect to " + uri), std::string::npos) << e.what();
  }
  LibvirtAdapter lazy(LibvirtOptions{.uri = uri, .fail_if_unreachable = false}, io, [](const DomainEvent&) {});
  EXPECT_FALSE(lazy.connected());
  try {
    lazy.state("x");
    FAIL() << "expected VmError";
  } catch (const VmError& e) {
    EXPECT_EQ(e.kind(), VmError::Kind::connection);
    EXPECT_NE(std::string(e.what()).find("is down"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vmrep::vmadapters

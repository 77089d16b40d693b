// VmHost::resume() against a scripted adapter: the race the lab showed (a
// domain being started shows as paused until libvirt resumes it itself, and
// our resume then fails with "already running") is not a failure; a resume
// that fails and leaves the guest paused is. Every other VM call is covered
// for real by tests/vm against libvirtd + QEMU.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <unistd.h>

#include "agents/vm_host.hpp"
#include "snapshots/store.hpp"
#include "vmadapters/errors.hpp"

namespace vmrep::agents {
namespace {

namespace fs = std::filesystem;
using vmadapters::DomainState;
using vmadapters::VmError;

// Only state/exists/resume are scripted; anything else is a test bug.
class ScriptedAdapter : public vmadapters::VmAdapter {
 public:
  DomainState state_now = DomainState::paused;
  DomainState state_after_failed_resume = DomainState::running;
  bool resume_fails = false;
  int resumes = 0;

  DomainState state(const std::string&) override { return state_now; }
  bool exists(const std::string&) override { return true; }
  void resume(const std::string& d) override {
    ++resumes;
    if (!resume_fails) {
      state_now = DomainState::running;
      return;
    }
    state_now = state_after_failed_resume;
    throw VmError(VmError::Kind::invalid_argument, "resume", d, "Requested operation is not valid: domain is already running");
  }

  vmadapters::Capabilities capabilities() override { throw std::logic_error("unused"); }
  std::vector<std::string> list_domains() override { throw std::logic_error("unused"); }
  std::string domain_xml(const std::string&) override { throw std::logic_error("unused"); }
  std::string define(const std::string&) override { throw std::logic_error("unused"); }
  std::string create(const std::string&) override { throw std::logic_error("unused"); }
  void start(const std::string&) override { throw std::logic_error("unused"); }
  void stop(const std::string&) override { throw std::logic_error("unused"); }
  void destroy(const std::string&) override { throw std::logic_error("unused"); }
  void undefine(const std::string&) override { throw std::logic_error("unused"); }
  void suspend(const std::string&) override { throw std::logic_error("unused"); }
  vmadapters::CheckpointResult checkpoint(const std::string&, const fs::path&) override {
    throw std::logic_error("unused");
  }
  vmadapters::RestoreResult restore(const vmadapters::CheckpointFiles&, const vmadapters::RestoreOptions&) override {
    throw std::logic_error("unused");
  }
  vmadapters::CommitResult commit_chain(const std::string&, vmadapters::CommitMode) override {
    throw std::logic_error("unused");
  }
  std::vector<vmadapters::DiskChain> disk_chains(const std::string&) override { throw std::logic_error("unused"); }
  void flatten(const std::vector<vmadapters::DiskLayer>&, const fs::path&) override {
    throw std::logic_error("unused");
  }
};

class VmHostResume : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("vmrep-resume-" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
};

TEST_F(VmHostResume, AGuestThatLibvirtResumedFirstIsRunningNotAFailure) {
  ScriptedAdapter vm;
  vm.resume_fails = true;  // libvirt's own start resumed it between our look and our resume
  snapshots::Store store(dir / "store", snapshots::MacKey(snapshots::Bytes(32, 7)));
  VmHost host(vm, store, "board", "board", dir / "work");
  EXPECT_NO_THROW(host.resume());
  EXPECT_EQ(vm.resumes, 1);
}

TEST_F(VmHostResume, AFailedResumeThatLeavesTheGuestPausedIsAFailure) {
  ScriptedAdapter vm;
  vm.resume_fails = true;
  vm.state_after_failed_resume = DomainState::paused;
  snapshots::Store store(dir / "store", snapshots::MacKey(snapshots::Bytes(32, 7)));
  VmHost host(vm, store, "board", "board", dir / "work");
  EXPECT_THROW(host.resume(), VmError);
}

TEST_F(VmHostResume, ARunningGuestIsNotResumed) {
  ScriptedAdapter vm;
  vm.state_now = DomainState::running;
  snapshots::Store store(dir / "store", snapshots::MacKey(snapshots::Bytes(32, 7)));
  VmHost host(vm, store, "board", "board", dir / "work");
  host.resume();
  EXPECT_EQ(vm.resumes, 0);
}

}  // namespace
}  // namespace vmrep::agents

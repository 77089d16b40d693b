// A failed job reaches the policy with its kind.
#include "agents/job_failure.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>

#include "snapshots/errors.hpp"
#include "vmadapters/errors.hpp"

namespace vmrep::agents {
namespace {

using replication::FailureKind;

template <class E>
replication::Failure failure_of(E e) {
  return classify(std::make_exception_ptr(std::move(e)));
}

TEST(JobFailure, VmErrorKindsMapOneToOne) {
  using K = vmadapters::VmError::Kind;
  EXPECT_EQ(failure_of(vmadapters::VmError(K::not_found, "lookup", "web", "no domain")).kind, FailureKind::not_found);
  EXPECT_EQ(failure_of(vmadapters::VmError(K::connection, "open", "web", "gone")).kind, FailureKind::connection);
  EXPECT_EQ(failure_of(vmadapters::VmError(K::timeout, "save", "web", "slow")).kind, FailureKind::timeout);
  EXPECT_EQ(failure_of(vmadapters::VmError(K::unsupported, "snapshot", "web", "no")).kind, FailureKind::unsupported);
  EXPECT_EQ(failure_of(vmadapters::VmError(K::invalid_argument, "define", "web", "xml")).kind, FailureKind::invalid);
  EXPECT_EQ(failure_of(vmadapters::VmError(K::failed, "start", "web", "refused")).kind, FailureKind::failed);
}

TEST(JobFailure, FullDiskIsNoSpaceWhereverItComesFrom) {
  using K = vmadapters::VmError::Kind;
  const auto vm = failure_of(vmadapters::VmError(K::failed, "snapshot", "web",
                                                  "unable to write '/var/lib/x.mem': No space left on device"));
  EXPECT_EQ(vm.kind, FailureKind::no_space);
  EXPECT_NE(vm.detail.find("snapshot of domain 'web' failed"), std::string::npos) << vm.detail;
  EXPECT_EQ(failure_of(snapshots::IoError(ENOSPC, "write /s/x: No space left on device")).kind, FailureKind::no_space);
  EXPECT_EQ(failure_of(snapshots::IoError(EDQUOT, "write /s/x: Disk quota exceeded")).kind, FailureKind::no_space);
  EXPECT_EQ(failure_of(std::filesystem::filesystem_error("copy", std::make_error_code(std::errc::no_space_on_device)))
                .kind,
            FailureKind::no_space);
}

TEST(JobFailure, StoreErrorsAreTyped) {
  snapshots::ChunkId id{};
  EXPECT_EQ(failure_of(snapshots::ChunkMissing(id, "chunk 00.. missing")).kind, FailureKind::not_found);
  EXPECT_EQ(failure_of(snapshots::ChunkCorrupt(id, "chunk 00.. does not hash to its id")).kind, FailureKind::corrupt);
  EXPECT_EQ(failure_of(snapshots::ManifestError("m.json", "mac", "does not verify")).kind, FailureKind::corrupt);
  EXPECT_EQ(failure_of(snapshots::IoError(ENOENT, "open /s/x: No such file")).kind, FailureKind::not_found);
  EXPECT_EQ(failure_of(snapshots::IoError(EACCES, "open /s/x: Permission denied")).kind, FailureKind::failed);
}

TEST(JobFailure, throw_errnoThrowsItsErrno) {
  try {
    snapshots::throw_errno("write", "/s/x", ENOSPC);
  } catch (...) {
    const auto f = classify(std::current_exception());
    EXPECT_EQ(f.kind, FailureKind::no_space);
    EXPECT_EQ(f.detail, "write /s/x: No space left on device");
  }
}

TEST(JobFailure, AnythingElseFailedWithItsText) {
  const auto f = failure_of(std::runtime_error("qemu-img convert: exit 1"));
  EXPECT_EQ(f.kind, FailureKind::failed);
  EXPECT_EQ(f.detail, "qemu-img convert: exit 1");
  EXPECT_EQ(failure_of(std::runtime_error("")).detail, "unknown error");
  EXPECT_EQ(classify(std::make_exception_ptr(42)).kind, FailureKind::failed);
}

}  // namespace
}  // namespace vmrep::agents

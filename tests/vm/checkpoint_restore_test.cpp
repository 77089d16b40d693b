// Live checkpoints and restores of the real tiny guest through a real libvirtd.
// The bulletin board keeps its posts in guest memory (LIST) and on the data disk
// (DISK, read back with the page cache dropped), so "memory and disk agree"
// is checked from inside the guest.
#include <algorithm>
#include <fstream>

#include "tests/vm/vm_test_fixture.hpp"

namespace vmrep::vmtest {
namespace {

using vmadapters::CheckpointFiles;
using vmadapters::CheckpointMethod;
using vmadapters::CheckpointResult;
using vmadapters::CommitMode;
using vmadapters::DiskLayer;
using vmadapters::DomainState;
using vmadapters::RestoreOptions;
using Posts = std::vector<std::string>;

class Checkpoint : public RealGuestTest {};

void expect_board_holds(BoardClient& board, const Posts& posts) {
  EXPECT_EQ(board.list(), posts) << "posts in guest memory";
  EXPECT_EQ(board.disk(), posts) << "posts on the guest's data disk";
}

TEST_F(Checkpoint, RestoreHoldsExactlyThePostsUpToTheCheckpoint) {
  TempDir dir;
  const std::string name = boot(dir.path());
  EXPECT_EQ(board_.post("first post"), 1);
  EXPECT_EQ(board_.post("second post"), 2);

  const CheckpointResult ck = adapter_->checkpoint(name, dir.path() / "ck1");
  EXPECT_EQ(ck.method, CheckpointMethod::live_external_snapshot);
  EXPECT_TRUE(ck.downtime_ms.has_value()) << "QEMU reports the downtime of a live snapshot";
  EXPECT_EQ(adapter_->state(name), DomainState::running);
  ASSERT_EQ(ck.disks.size(), 1u);
  EXPECT_EQ(ck.disks[0].frozen().file, dir.path() / "disk.qcow2");
  EXPECT_EQ(ck.disks[0].active_overlay, dir.path() / "ck1" / "vda.qcow2");
  EXPECT_GE(ck.memory_bytes, 1u << 20);
  EXPECT_NE(ck.domain_xml.find((dir.path() / "disk.qcow2").string()), std::string::npos)
      << "the saved XML names the frozen layer";
  RecordProperty("downtime_ms", std::to_string(ck.downtime_ms.value_or(0)));
  RecordProperty("checkpoint_wall_ms", std::to_string(static_cast<long>(ck.wall_ms)));

  EXPECT_EQ(board_.post("after the checkpoint"), 3);
  expect_board_holds(board_, {"first post", "second post", "after the checkpoint"});
  board_.close();
  adapter_->destroy(name);

  // Back on the frozen layer itself, on this host, with the saved XML's paths.
  const auto restored = adapter_->restore(CheckpointFiles{ck.memory_file, {{"vda", ck.disks[0].frozen()}}});
  EXPECT_EQ(restored.domain, name);
  EXPECT_EQ(adapter_->state(name), DomainState::running);
  board_.connect(dir.path() / "board.sock", std::chrono::seconds(30));
  expect_board_holds(board_, {"first post", "second post"});
  EXPECT_EQ(board_.post("after the restore"), 3);
  expect_board_holds(board_, {"first post", "second post", "after the restore"});
}

TEST_F(Checkpoint, RestoreInADifferentDirectoryAsABackupWould) {
  TempDir backup("vm-backup");
  CheckpointFiles files{backup.path() / "memory.img", {{"vda", {backup.path() / "vda.qcow2", "qcow2"}}}};
  std::string name;
  std::string primary_dir;
  {
    TempDir primary("vm-primary");
    primary_dir = primary.path().string();
    name = boot(primary.path());
    board_.post("kept 1");
    board_.post("kept 2");
    const CheckpointResult ck = adapter_->checkpoint(name, primary.path() / "ck");
    board_.post("lost");
    // Ship: the memory image as it is, the disk flattened from its frozen chain.
    fs::copy_file(ck.memory_file, files.memory_file);
    adapter_->flatten(ck.disks[0].chain, files.disks["vda"].file);
    board_.close();
    adapter_->destroy(name);
  }  // the primary's directory is gone from here on
  ASSERT_FALSE(fs::exists(primary_dir));

  RestoreOptions options;
  options.path_rewrites[primary_dir + "/board.sock"] = (backup.path() / "board.sock").string();
  const auto restored = adapter_->restore(files, options);
  EXPECT_EQ(restored.domain_xml.find(primary_dir), std::string::npos) << restored.domain_xml;
  EXPECT_EQ(adapter_->domain_xml(name).find(primary_dir), std::string::npos);
  board_.connect(backup.path() / "board.sock", std::chrono::seconds(30));
  expect_board_holds(board_, {"kept 1", "kept 2"});
  EXPECT_EQ(board_.post("on the backup"), 3);
  expect_board_holds(board_, {"kept 1", "kept 2", "on the backup"});
}

// Ten checkpoints in a row with a commit after each keep the chain bounded; the
// last checkpoint, shipped (flattened) before its commit, restores exactly.
void ten_checkpoints(BoardClient& board, vmadapters::LibvirtAdapter& adapter,
                     const std::string& name, const fs::path& dir, CommitMode mode, std::size_t chain_max) {
  Posts posts;
  CheckpointResult last;
  const fs::path shipped = dir / "shipped-vda.qcow2";
  for (int i = 1; i <= 10; ++i) {
    posts.push_back("post " + std::to_string(i));
    ASSERT_EQ(board.post(posts.back()), i);
    last = adapter.checkpoint(name, dir / ("ck" + std::to_string(i)));
    ASSERT_EQ(last.disks.size(), 1u);
    EXPECT_LE(last.disks[0].chain.size(), chain_max) << "checkpoint " << i;
    if (i == 10) adapter.flatten(last.disks[0].chain, shipped);
    const auto committed = adapter.commit_chain(name, mode);
    ASSERT_EQ(committed.chains.size(), 1u);
    EXPECT_LE(committed.chains[0].layers.size(), chain_max) << "after the commit of checkpoint " << i;
    EXPECT_EQ(committed.chains[0].layers.back().file,
              mode == CommitMode::into_base ? last.disks[0].active_overlay : last.disks[0].frozen().file);
  }
  expect_board_holds(board, posts);
  board.post("after the last checkpoint");
  board.close();
  adapter.destroy(name);
  adapter.restore(CheckpointFiles{last.memory_file, {{"vda", {shipped, "qcow2"}}}});
  board.connect(dir / "board.sock", std::chrono::seconds(30));
  expect_board_holds(board, posts);
}

TEST_F(Checkpoint, TenInARowKeepTheChainBoundedWithActiveCommit) {
  TempDir dir;
  const std::string name = boot(dir.path());
  // --active --pivot --shallow after each: the domain is back on its base each time.
  ten_checkpoints(board_, *adapter_, name, dir.path(), CommitMode::active_pivot, 1);
}

TEST_F(Checkpoint, TenInARowKeepTheChainBoundedWithCommitIntoBase) {
  TempDir dir;
  const std::string name = boot(dir.path());
  // [base, frozen delta, active] at a checkpoint, [base, active] after the commit.
  ten_checkpoints(board_, *adapter_, name, dir.path(), CommitMode::into_base, 2);
}

TEST_F(Checkpoint, IntoBaseFrozenLayerHoldsOnlyTheWritesSinceThePreviousCheckpoint) {
  TempDir dir;
  const std::string name = boot(dir.path());
  board_.post("one");
  adapter_->checkpoint(name, dir.path() / "ck1");
  adapter_->commit_chain(name, CommitMode::into_base);
  board_.post("two");
  const CheckpointResult ck2 = adapter_->checkpoint(name, dir.path() / "ck2");
  ASSERT_EQ(ck2.disks[0].chain.size(), 2u);
  EXPECT_EQ(ck2.disks[0].frozen().file, dir.path() / "ck1" / "vda.qcow2");
  // The delta is small: the qcow2 overlay holds a few clusters, not the disk.
  EXPECT_LT(fs::file_size(ck2.disks[0].frozen().file), 4u << 20);
  // And the chain still reads as the whole disk at checkpoint 2.
  const fs::path flat = dir.path() / "flat.qcow2";
  adapter_->flatten(ck2.disks[0].chain, flat);
  board_.close();
  adapter_->destroy(name);
  adapter_->restore(CheckpointFiles{ck2.memory_file, {{"vda", {flat, "qcow2"}}}});
  board_.connect(dir.path() / "board.sock", std::chrono::seconds(30));
  expect_board_holds(board_, {"one", "two"});
}

TEST_F(Checkpoint, RestoreOfATruncatedImageFailsCleanlyOnQemu) {
  TempDir dir;
  const std::string name = boot(dir.path());
  board_.post("x");
  const CheckpointResult ck = adapter_->checkpoint(name, dir.path() / "ck");
  const fs::path copy = dir.path() / "truncated.img";
  fs::copy_file(ck.memory_file, copy);
  fs::resize_file(copy, fs::file_size(copy) / 2);
  const fs::path flat = dir.path() / "flat.qcow2";
  adapter_->flatten(ck.disks[0].chain, flat);
  board_.close();
  adapter_->destroy(name);
  const auto before = adapter_->list_domains();
  try {
    adapter_->restore(CheckpointFiles{copy, {{"vda", {flat, "qcow2"}}}});
    ADD_FAILURE() << "restore of a truncated memory image succeeded";
  } catch (const vmadapters::VmError& e) {
    EXPECT_NE(std::string(e.what()).find("restore from " + copy.string()), std::string::npos) << e.what();
    RecordProperty("error", e.what());
  }
  EXPECT_EQ(adapter_->list_domains(), before);
  EXPECT_FALSE(adapter_->exists(name));
}

class Events : public RealGuestTest {};

TEST_F(Events, DomainStoppedReachesTheEventLoop) {
  TempDir dir;
  const std::string name = boot(dir.path());
  EXPECT_TRUE(await_event(DomainEvent::Kind::started, name, std::chrono::seconds(10)));
  board_.close();
  adapter_->destroy(name);
  ASSERT_TRUE(await_event(DomainEvent::Kind::stopped, name, std::chrono::seconds(10)));
  const auto all = events();
  const auto stopped = std::find_if(all.begin(), all.end(), [&](const DomainEvent& e) {
    return e.kind == DomainEvent::Kind::stopped && e.domain == name;
  });
  EXPECT_EQ(stopped->detail, "destroyed");
  EXPECT_TRUE(events_on_io_thread());
}

TEST_F(Events, LibvirtdRestartIsSurvivedByReconnecting) {
  TempDir dir;
  const std::string name = boot(dir.path());
  board_.post("before the restart");
  if (!restart_libvirtd()) GTEST_SKIP() << "libvirtd was not started by scripts/libvirt-fixture: not restarting it";
  ASSERT_TRUE(await_event(DomainEvent::Kind::connection_lost, "", std::chrono::seconds(30)));
  ASSERT_TRUE(await_event(DomainEvent::Kind::connection_restored, "", std::chrono::seconds(60)));
  EXPECT_TRUE(adapter_->connected());
  EXPECT_EQ(adapter_->state(name), DomainState::running) << "the guest runs on through the restart";
  expect_board_holds(board_, {"before the restart"});
  // Events flow on the new connection, and checkpoints work through it.
  const CheckpointResult ck = adapter_->checkpoint(name, dir.path() / "ck");
  EXPECT_TRUE(ck.downtime_ms.has_value());
  board_.close();
  adapter_->destroy(name);
  EXPECT_TRUE(await_event(DomainEvent::Kind::stopped, name, std::chrono::seconds(10)));
  EXPECT_TRUE(events_on_io_thread());
}

}  // namespace
}  // namespace vmrep::vmtest

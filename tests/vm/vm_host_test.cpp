// agents::VmHost on a real libvirtd and the real guest: a checkpoint becomes
// a verified version in the snapshot store, the next one adds only what
// changed, and a restore from the store (rebuild, flatten, restore) brings
// back exactly the posts up to that version, after which checkpoints go on.
#include <chrono>

#include "agents/vm_host.hpp"
#include "snapshots/store.hpp"
#include "tests/vm/vm_test_fixture.hpp"

namespace vmrep::vmtest {
namespace {

using snapshots::Version;
using Posts = std::vector<std::string>;

class VmHostTest : public RealGuestTest {
 protected:
  snapshots::Store make_store(const fs::path& root) {
    return snapshots::Store(root, snapshots::MacKey(snapshots::Bytes(32, 7)), snapshots::StoreOptions{{}, std::chrono::seconds(0)});
  }
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// Every file under `dir` that a checkpoint or a restore made holds guest
// memory or disk: none may be readable by group or others, nor may a
// directory be listable by them (search alone is left to libvirt's choice:
// qemu may run as another user and must reach its disks).
void expect_private(const fs::path& dir) {
  std::size_t seen = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const fs::perms p = fs::symlink_status(e.path()).permissions();
    const fs::perms forbidden = fs::perms::group_read | fs::perms::others_read | fs::perms::group_write |
                                fs::perms::others_write;
    EXPECT_EQ(p & forbidden, fs::perms::none) << e.path() << " is readable or writable by group or others";
    ++seen;
  }
  EXPECT_GT(seen, 0u) << dir;
}

TEST_F(VmHostTest, CheckpointsAreVersionsAndARestoreHoldsThePostsUpToOne) {
  TempDir dir;
  const std::string name = boot(dir.path());
  snapshots::Store store = make_store(dir.path() / "store");
  agents::VmHost host(*adapter_, store, "board", name, dir.path() / "work");
  EXPECT_TRUE(host.running());

  board_.post("one");
  const agents::CheckpointOutcome first = host.checkpoint({1, 1}, std::nullopt, now_ms());
  EXPECT_EQ(first.version, (Version{1, 1}));
  EXPECT_GT(first.plain_bytes, 0u);
  EXPECT_GT(first.new_bytes, 0u) << "an empty store holds none of it";
  board_.post("two");
  const agents::CheckpointOutcome second = host.checkpoint({1, 2}, Version{1, 1}, now_ms());
  EXPECT_LT(second.new_bytes * 4, second.plain_bytes) << "most chunks of the second version are the first's";
  EXPECT_EQ(store.versions("board"), (std::vector<Version>{{1, 1}, {1, 2}}));
  const snapshots::Manifest m = store.load("board", {1, 2});
  ASSERT_EQ(m.parent, (Version{1, 1}));
  std::vector<std::string> files;
  for (const auto& f : m.files) files.push_back(f.name);
  EXPECT_EQ(files, (std::vector<std::string>{"memory", "disk.vda.0.qcow2", "disk.vda.1.qcow2"}))
      << "memory, then the base and the layer this checkpoint froze";
  EXPECT_NO_THROW(store.verify("board", {1, 2}));
  EXPECT_EQ(entries(dir.path() / "work"), 1u) << "only the active overlay's directory stays";
  EXPECT_EQ(adapter_->disk_chains(name).at(0).layers.size(), 2u) << "the chain stays [base, active]";
  expect_private(dir.path() / "work");
  expect_private(dir.path() / "store");

  board_.post("three, after the last checkpoint");
  board_.close();
  adapter_->destroy(name);
  EXPECT_FALSE(host.running());

  const agents::RestoreOutcome restored = host.restore({1, 2});
  EXPECT_EQ(restored.version, (Version{1, 2}));
  EXPECT_TRUE(host.running());
  expect_private(dir.path() / "work");
  board_.connect(dir.path() / "board.sock", boot_timeout());
  EXPECT_EQ(board_.list(), (Posts{"one", "two"})) << "memory as of version 1.2";
  EXPECT_EQ(board_.disk(), (Posts{"one", "two"})) << "disk as of version 1.2";

  board_.post("four");
  const agents::CheckpointOutcome after = host.checkpoint({2, 1}, Version{1, 2}, now_ms());
  EXPECT_NO_THROW(store.verify("board", {2, 1}));
  EXPECT_GT(after.plain_bytes, 0u);
  EXPECT_THROW(host.restore({2, 1}), std::runtime_error) << "refuses to restore over a running domain";
  host.power_off();
  EXPECT_FALSE(host.running());
}

}  // namespace
}  // namespace vmrep::vmtest

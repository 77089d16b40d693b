// Issue 15, hostile input: what the store creates is private (0700 / 0600
// whatever the umask), and what a peer's SFTP account left under
// ROOT/incoming (symlinks, fifos) is refused, never followed, read or deleted
// through, and never quoted in an error.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshots/errors.hpp"
#include "snapshots/incoming.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/owner.hpp"
#include "snapshots/pack.hpp"
#include "snapshots/rebuild.hpp"
#include "snapshots/standby.hpp"
#include "tests/unit/snapshots/test_util.hpp"

namespace vmrep::snapshots {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Sets the process umask for one test and restores it.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }
  UmaskGuard(const UmaskGuard&) = delete;
  UmaskGuard& operator=(const UmaskGuard&) = delete;

 private:
  mode_t old_;
};

StoreOptions no_grace() {
  StoreOptions o;
  o.gc_grace = std::chrono::seconds(0);
  return o;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode;
}

bool exists_nofollow(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

void mkdir_private(const fs::path& p) { ASSERT_EQ(::mkdir(p.c_str(), 0700), 0) << p; }

void age(const fs::path& p) { fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(2)); }

// Version (1, seq) of "web" in `source`: the file "memory" made from `data`.
Manifest make_version(Store& source, std::uint64_t seq, const Bytes& data, const fs::path& scratch) {
  testing::write_file(scratch, data);
  return write_version(source, Chunker{}, {"web", {1, seq}, std::nullopt, 0, "<domain/>", {{"memory", scratch}}});
}

// What a pusher leaves for (1, seq) in `in` (an incoming service directory):
// the pack of every chunk, then the manifest.
void deliver(Store& source, const Manifest& m, const fs::path& in) {
  std::vector<ChunkId> ids;
  for (const ChunkRef& c : m.files[0].chunks) ids.push_back(c.id);
  const std::string base = to_string(m.version);
  write_pack(source.chunks(), ids, in / (base + ".pack"));
  fs::copy_file(source.manifest_path("web", m.version), in / (base + ".manifest"));
}

bool any_contains(const std::vector<std::string>& lines, const std::string& what) {
  for (const std::string& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// Every directory under `root` (and `root`) is 0700 and every file 0600.
void expect_private_tree(const fs::path& root) {
  EXPECT_EQ(mode_of(root) & 07777, 0700u) << root;
  std::size_t files = 0;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
    const mode_t mode = mode_of(e.path());
    if (S_ISDIR(mode)) {
      EXPECT_EQ(mode & 07777, 0700u) << e.path();
    } else {
      EXPECT_TRUE(S_ISREG(mode)) << e.path();
      EXPECT_EQ(mode & 07777, 0600u) << e.path();
      ++files;
    }
  }
  EXPECT_GT(files, 0u) << root << " holds no file: nothing was checked";
}

TEST(HostileFiles, Rule_UnderUmask0_EverythingCreatedIsOwnerOnly) {
  const UmaskGuard umask0(0);
  const TempDir dir;
  const fs::path stores = dir / "stores";  // parents the stores create too
  Store source(stores / "source", testing::test_key(), no_grace());
  const Manifest m = make_version(source, 1, testing::random_bytes(1 << 20, 3), dir / "scratch");
  source.mark_committed("web", {1, 1});

  Store backup(stores / "backup", testing::test_key(), no_grace());
  mkdir_private(backup.root() / "incoming");  // as a pusher must (transport/sftp makes them)
  mkdir_private(backup.root() / "incoming" / "web");
  deliver(source, m, backup.root() / "incoming" / "web");
  const AcceptStats accepted = accept_incoming(backup);
  ASSERT_TRUE(accepted.errors.empty()) << joined(accepted.errors);
  ASSERT_TRUE(backup.has_version("web", {1, 1}));
  backup.gc();

  rebuild_version(backup, "web", {1, 1}, dir / "restore" / "web" / "1.1");
  update_standby(backup.chunks(), m, nullptr, dir / "standby" / "web");
  EXPECT_TRUE(source.chunks().quarantine(m.files[0].chunks[0].id));  // ROOT/chunks/quarantine

  expect_private_tree(stores);
  expect_private_tree(dir / "restore");
  expect_private_tree(dir / "standby");
}

// Sets a store owner for one test and clears it.
class OwnerGuard {
 public:
  explicit OwnerGuard(StoreOwner owner) { set_store_owner(std::move(owner)); }
  ~OwnerGuard() { set_store_owner(std::nullopt); }
  OwnerGuard(const OwnerGuard&) = delete;
  OwnerGuard& operator=(const OwnerGuard&) = delete;
};

// Every entry under `root` (and `root`) belongs to uid/gid.
void expect_owned_tree(const fs::path& root, uid_t uid, gid_t gid) {
  std::size_t n = 0;
  auto check = [&](const fs::path& p) {
    struct stat st {};
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, uid) << p;
    EXPECT_EQ(st.st_gid, gid) << p;
    ++n;
  };
  check(root);
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) check(e.path());
  EXPECT_GT(n, 3u) << root << ": too little was checked";
}

// replication.store_owner: the SFTP-only account peers push as owns the
// store (so no root login is needed) and nothing else; modes stay private.
TEST(HostileFiles, Rule_StoreOwner_OwnsEverythingInTheStoreAndNothingElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root (CI runs as root)";
  constexpr uid_t kUid = 65534;  // nobody
  constexpr gid_t kGid = 65534;
  const TempDir dir;
  const OwnerGuard owner(StoreOwner{kUid, kGid, dir / "backup"});
  Store source(dir / "source", testing::test_key(), no_grace());
  const Manifest m = make_version(source, 1, testing::random_bytes(1 << 20, 5), dir / "scratch");
  Store backup(dir / "backup", testing::test_key(), no_grace());
  mkdir_private(backup.root() / "incoming");
  mkdir_private(backup.root() / "incoming" / "web");
  deliver(source, m, backup.root() / "incoming" / "web");
  ASSERT_EQ(::chown((backup.root() / "incoming").c_str(), kUid, kGid), 0);  // as the account's mkdir would
  ASSERT_EQ(::chown((backup.root() / "incoming" / "web").c_str(), kUid, kGid), 0);
  for (const fs::directory_entry& e : fs::directory_iterator(backup.root() / "incoming" / "web"))
    ASSERT_EQ(::chown(e.path().c_str(), kUid, kGid), 0);
  const AcceptStats accepted = accept_incoming(backup);
  ASSERT_TRUE(accepted.errors.empty()) << joined(accepted.errors);
  backup.mark_committed("web", {1, 1});
  rebuild_version(backup, "web", {1, 1}, dir / "restore" / "web" / "1.1");

  expect_owned_tree(backup.root(), kUid, kGid);
  expect_private_tree(backup.root());
  expect_owned_tree(dir / "source", 0, 0);   // another root: not given away
  expect_owned_tree(dir / "restore", 0, 0);  // restore files stay root's

  // A store made before the owner was configured is given to it whole.
  const OwnerGuard later(StoreOwner{kUid, kGid, dir / "source"});
  EXPECT_GT(adopt_store_tree(), 5u);
  expect_owned_tree(dir / "source", kUid, kGid);
  EXPECT_EQ(adopt_store_tree(), 0u);
}

TEST(HostileFiles, Rule_LooseStoreRoot_IsTightenedOnOpen) {
  const TempDir dir;
  const fs::path root = dir / "old-store";
  { Store made(root, testing::test_key()); }
  ASSERT_EQ(::chmod(root.c_str(), 0755), 0);
  Store reopened(root, testing::test_key());
  EXPECT_EQ(mode_of(root) & 07777, 0700u);
}

TEST(HostileFiles, Rule_SymlinkedServiceDir_IsRefusedAndUnlinked_TargetUntouched) {
  const TempDir dir;
  const TempDir elsewhere;  // what the link points to: not the store's
  Store source(dir / "source", testing::test_key());
  Store backup(dir / "backup", testing::test_key());
  const Manifest m = make_version(source, 1, testing::random_bytes(200000, 4), dir / "scratch");
  deliver(source, m, elsewhere.path());  // a complete, valid version behind the link
  fs::create_directories(backup.root() / "incoming");
  fs::create_directory_symlink(elsewhere.path(), backup.root() / "incoming" / "web");

  const AcceptStats st = accept_incoming(backup);
  EXPECT_TRUE(st.published.empty());
  ASSERT_EQ(st.errors.size(), 1u) << joined(st.errors);
  EXPECT_NE(st.errors[0].find("incoming/web: not a directory (symlink); refused"), std::string::npos) << st.errors[0];
  EXPECT_FALSE(backup.has_version("web", {1, 1})) << "read through the link";
  EXPECT_TRUE(fs::exists(elsewhere / "1.1.manifest"));
  EXPECT_TRUE(fs::exists(elsewhere / "1.1.pack"));
  EXPECT_FALSE(exists_nofollow(backup.root() / "incoming" / "web")) << "the link itself is removed";
}

TEST(HostileFiles, Rule_ManifestSymlinkToASecret_IsRefusedAndNeverQuoted) {
  const TempDir dir;
  const TempDir elsewhere;
  const std::string secret_text = "{\"format\": \"hunter2-root-password\"}\n";
  testing::write_file(elsewhere / "secret", testing::view(secret_text));
  Store backup(dir / "backup", testing::test_key());
  const fs::path in = backup.root() / "incoming" / "web";
  fs::create_directories(in);
  fs::create_symlink(elsewhere / "secret", in / "1.1.manifest");
  // The same bytes as a regular file of the peer's own: refused too, unquoted.
  testing::write_file(in / "1.2.manifest", testing::view(secret_text));

  const AcceptStats st = accept_incoming(backup);
  EXPECT_TRUE(st.published.empty());
  ASSERT_EQ(st.errors.size(), 2u) << joined(st.errors);
  EXPECT_TRUE(any_contains(st.errors, "incoming/web/1.1.manifest: not a regular file (symlink); refused"))
      << joined(st.errors);
  EXPECT_TRUE(any_contains(st.errors, "incoming/web/1.2.manifest: not a valid version manifest")) << joined(st.errors);
  EXPECT_FALSE(any_contains(st.errors, "hunter2")) << joined(st.errors);
  EXPECT_EQ(testing::read_file(elsewhere / "secret"), Bytes(secret_text.begin(), secret_text.end()));
  EXPECT_FALSE(exists_nofollow(in / "1.1.manifest")) << "the link is removed, not its target";
}

// Opens every fifo in `fifos` for writing (and closes it) when `done` is not
// set within `limit`: a reader blocked on one gets EOF, so a regression makes
// the test fail on its clock instead of hanging.
class FifoWatchdog {
 public:
  FifoWatchdog(std::vector<fs::path> fifos, std::chrono::seconds limit)
      : thread_([this, fifos = std::move(fifos), limit] {
          std::unique_lock lock(mutex_);
          if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
          for (const fs::path& f : fifos) {
            const int fd = ::open(f.c_str(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0) ::close(fd);
          }
        }) {}
  ~FifoWatchdog() {
    {
      const std::lock_guard guard(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: started once the rest exists
};

TEST(HostileFiles, Rule_FifoNamedLikeManifestOrPack_IsRefusedWithoutBlocking) {
  const TempDir dir;
  Store source(dir / "source", testing::test_key());
  Store backup(dir / "backup", testing::test_key());
  const fs::path in = backup.root() / "incoming" / "web";
  fs::create_directories(in);
  ASSERT_EQ(::mkfifo((in / "1.1.manifest").c_str(), 0600), 0);
  make_version(source, 2, testing::random_bytes(100000, 5), dir / "scratch");
  fs::copy_file(source.manifest_path("web", {1, 2}), in / "1.2.manifest");  // valid
  ASSERT_EQ(::mkfifo((in / "1.2.pack").c_str(), 0600), 0);                  // its pack: a fifo

  const auto t0 = std::chrono::steady_clock::now();
  AcceptStats st;
  {
    const FifoWatchdog watchdog({in / "1.1.manifest", in / "1.2.pack"}, std::chrono::seconds(10));
    st = accept_incoming(backup);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "blocked on a fifo";
  ASSERT_EQ(st.errors.size(), 2u) << joined(st.errors);
  EXPECT_TRUE(any_contains(st.errors, "incoming/web/1.1.manifest: not a regular file (fifo); refused"))
      << joined(st.errors);
  EXPECT_TRUE(any_contains(st.errors, "incoming/web/1.2.pack: not a regular file (fifo); refused"))
      << joined(st.errors);
  EXPECT_FALSE(backup.has_version("web", {1, 2}));
  EXPECT_FALSE(exists_nofollow(in / "1.1.manifest"));
  EXPECT_FALSE(exists_nofollow(in / "1.2.pack"));
}

TEST(HostileFiles, Rule_Gc_NeverDeletesThroughASymlink) {
  const TempDir dir;
  const TempDir elsewhere;
  // Files GC would delete, were they in the store: old temp files, an old
  // abandoned pack part, an old unreferenced chunk-named file.
  const std::string chunk_name = "ab" + std::string(62, '0');
  for (const std::string name : {".tmp-victim", "1.1.pack.part", chunk_name.c_str()}) {
    testing::write_file(elsewhere / name, testing::view("keep me"));
    age(elsewhere / name);
  }
  Store store(dir / "s", testing::test_key(), no_grace());
  fs::create_directories(store.root() / "incoming" / "db");
  fs::create_directory_symlink(elsewhere.path(), store.root() / "incoming" / "web");     // a service dir
  fs::create_symlink(elsewhere / "1.1.pack.part", store.root() / "incoming" / "db" / "1.1.pack.part");
  fs::create_directory_symlink(elsewhere.path(), store.root() / "chunks" / "ab");      // a chunk shard
  fs::create_directory_symlink(elsewhere.path(), store.root() / "services" / "evil");  // a service
  fs::create_directories(store.root() / "services" / "web");
  fs::create_symlink(elsewhere / ".tmp-victim", store.root() / "services" / "web" / "1.1.manifest");  // a version

  const GcStats gc = store.gc();
  for (const std::string name : {".tmp-victim", "1.1.pack.part", chunk_name.c_str()}) {
    EXPECT_TRUE(fs::exists(elsewhere / name)) << name << " deleted through a link";
  }
  EXPECT_TRUE(any_contains(gc.refused, "incoming/web: not a directory (symlink); refused"))
      << joined(gc.refused);
  EXPECT_TRUE(any_contains(gc.refused, "incoming/db/1.1.pack.part: not a regular file (symlink); refused"))
      << joined(gc.refused);
  EXPECT_TRUE(any_contains(gc.refused, "services/web/1.1.manifest: not a regular file (symlink); refused"))
      << joined(gc.refused);
  EXPECT_FALSE(exists_nofollow(store.root() / "incoming" / "web")) << "the link itself is removed";
  EXPECT_FALSE(exists_nofollow(store.root() / "services" / "web" / "1.1.manifest"));
  EXPECT_EQ(gc.incoming_deleted, 0u);
  EXPECT_EQ(store.usage().services.at("web").versions, 0u);
}

TEST(HostileFiles, Rule_ChunkFileThatIsASymlink_IsNotReadThrough) {
  const TempDir dir;
  const TempDir elsewhere;
  Store store(dir / "s", testing::test_key());
  const Bytes plain = testing::random_bytes(5000, 6);
  const ChunkId id = store.chunks().put(plain);
  const fs::path file = store.chunks().path_of(id);
  fs::rename(file, elsewhere / "chunk");  // the right bytes, but behind a link
  fs::create_symlink(elsewhere / "chunk", file);
  try {
    store.chunks().read(id);
    FAIL() << "read through a symlink";
  } catch (const ChunkCorrupt& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file (symlink); refused"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vmrep::snapshots

#include "snapshots/chunk_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "snapshots/chunk_writer.hpp"
#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {
namespace fs = std::filesystem;
namespace {

// The largest stored form a chunk can have; a bigger file is corrupt.
constexpr std::uint64_t stored_bytes_max = ZSTD_COMPRESSBOUND(chunk_bytes_limit);

bool is_shard_name(const std::string& s) {
  return s.size() == 2 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

ChunkStore::ChunkStore(fs::path dir, ChunkStoreOptions options) : dir_(std::move(dir)), options_(options) {
  if (detail::make_dirs(dir_)) {
    // A new store (ROOT/chunks, and ROOT itself perhaps): make the names durable once.
    detail::fsync_dir(dir_.parent_path());
    if (dir_.parent_path().has_parent_path()) detail::fsync_dir(dir_.parent_path().parent_path());
  }
}

fs::path ChunkStore::path_of(const ChunkId& id) const {
  const std::string hex = id.hex();
  return dir_ / hex.substr(0, 2) / hex;
}

bool ChunkStore::contains(const ChunkId& id) const {
  struct stat st {};
  return ::stat(path_of(id).c_str(), &st) == 0;
}

std::vector<ChunkId> ChunkStore::missing(std::span<const ChunkId> ids) {
  const auto shared = lock_shared();  // no GC sweep between the answer and the refresh
  std::vector<ChunkId> absent;
  std::set<ChunkId> seen;
  for (const ChunkId& id : ids) {
    if (seen.insert(id).second && !present_and_fresh(id)) absent.push_back(id);
  }
  return absent;
}

bool ChunkStore::present_and_fresh(const ChunkId& id) const {
  const fs::path p = path_of(id);
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    if (errno != ENOENT) throw_errno("cannot stat", p.string(), errno);
    return false;
  }
  const auto mtime = std::chrono::system_clock::from_time_t(st.st_mtime);
  if (std::chrono::system_clock::now() - mtime > chunk_refresh_after &&
      ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0) != 0) {
    if (errno == ENOENT) return false;  // deleted meanwhile
    throw_errno("cannot refresh mtime of", p.string(), errno);
  }
  return true;
}

fs::path ChunkStore::ensure_shard(const ChunkId& id) {
  const std::string shard = id.hex().substr(0, 2);
  const fs::path dir = dir_ / shard;
  const std::lock_guard guard(dirty_mutex_);
  if (!known_shards_.contains(shard)) {
    if (detail::make_dir(dir)) dir_dirty_ = true;
    known_shards_.insert(shard);
  }
  return dir;
}

void ChunkStore::note_renamed(const std::string& shard) {
  const std::lock_guard guard(dirty_mutex_);
  dirty_shards_.insert(shard);
}

ChunkId ChunkStore::put(ByteView plain, bool* written) {
  ChunkWriter writer(*this, 1);
  const ChunkId id = writer.put(plain, written);
  writer.commit();
  return id;
}

void ChunkStore::put_plain(const ChunkId& id, ByteView plain) {
  ChunkWriter writer(*this, 1);
  writer.put_plain(id, plain);
  writer.commit();
}

void ChunkStore::put_encoded(const ChunkId& id, ByteView stored) {
  ChunkWriter writer(*this, 1);
  writer.put_encoded(id, stored);
  writer.commit();
}

Bytes ChunkStore::read_encoded(const ChunkId& id) const {
  const fs::path p = path_of(id);
  std::optional<Bytes> stored;
  try {
    stored = detail::read_file(p, stored_bytes_max);
  } catch (const SnapshotError& e) {
    throw ChunkCorrupt(id, "chunk " + id.hex() + ": " + e.what());
  }
  if (!stored) throw ChunkMissing(id, "chunk " + id.hex() + ": not in the store (" + printable(p.string(), 300) + ")");
  return std::move(*stored);
}

void ChunkStore::read(const ChunkId& id, Bytes& plain) const { decode_chunk(id, read_encoded(id), plain); }

Bytes ChunkStore::read(const ChunkId& id) const {
  Bytes plain;
  read(id, plain);
  return plain;
}

std::optional<std::uint64_t> ChunkStore::stored_bytes(const ChunkId& id) const {
  struct stat st {};
  if (::stat(path_of(id).c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

bool ChunkStore::quarantine(const ChunkId& id) {
  static std::atomic<std::uint64_t> counter{0};
  const auto shared = lock_shared();
  const fs::path from = path_of(id);
  const fs::path qdir = dir_ / "quarantine";
  detail::make_dir(qdir);
  const fs::path to = qdir / (id.hex() + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  if (::rename(from.c_str(), to.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("cannot quarantine", from.string(), errno);
  }
  detail::fsync_dir(from.parent_path());
  detail::fsync_dir(qdir);
  return true;
}

void ChunkStore::sync() {
  std::set<std::string> shards;
  bool dir_dirty = false;
  {
    const std::lock_guard guard(dirty_mutex_);
    shards.swap(dirty_shards_);
    std::swap(dir_dirty, dir_dirty_);
  }
  try {
    std::vector<fs::path> dirs;
    for (const std::string& shard : shards) dirs.push_back(dir_ / shard);
    if (dir_dirty) dirs.push_back(dir_);
    detail::fsync_dirs(dirs);
  } catch (...) {
    const std::lock_guard guard(dirty_mutex_);  // still dirty: the next sync() retries
    dirty_shards_.insert(shards.begin(), shards.end());
    dir_dirty_ = dir_dirty_ || dir_dirty;
    throw;
  }
}

SweepStats ChunkStore::sweep(const std::vector<ChunkId>& keep_sorted, std::chrono::seconds grace,
                             const std::unique_lock<std::shared_mutex>& held) {
  if (held.mutex() != &lock_ || !held.owns_lock()) throw SnapshotError("ChunkStore::sweep: exclusive lock not held");
  SweepStats stats;
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (const fs::directory_entry& shard : fs::directory_iterator(dir_, ec)) {
    // Not followed: a symlinked "shard" (ROOT/chunks may be written by a
    // peer's sftp-server) would have us delete in the directory it names.
    std::error_code tec;
    if (!shard.is_directory(tec) || shard.is_symlink(tec) || !is_shard_name(shard.path().filename().string())) continue;
    bool changed = false;
    std::error_code sec;
    for (const fs::directory_entry& entry : fs::directory_iterator(shard.path(), sec)) {
      const std::string name = entry.path().filename().string();
      std::error_code fec;
      const auto mtime = entry.last_write_time(fec);
      if (fec) continue;  // vanished meanwhile
      const bool old = now - mtime >= grace;
      const bool temp = name.starts_with(detail::temp_prefix);
      const std::optional<ChunkId> id = ChunkId::from_hex(name);
      if (!temp && (!id || name.substr(0, 2) != shard.path().filename().string())) continue;  // not ours
      if (!temp && std::binary_search(keep_sorted.begin(), keep_sorted.end(), *id)) {
        ++stats.chunks_kept;
        continue;
      }
      if (!old) {
        stats.chunks_young += temp ? 0 : 1;
        continue;
      }
      const std::uint64_t size = entry.file_size(fec);
      if (::unlink(entry.path().c_str()) != 0) {
        if (errno == ENOENT) continue;
        throw_errno("cannot delete", entry.path().string(), errno);
      }
      changed = true;
      if (temp) {
        ++stats.temps_deleted;
      } else {
        ++stats.chunks_deleted;
        stats.bytes_deleted += fec ? 0 : size;
      }
    }
    if (sec) throw SnapshotError("cannot list " + printable(shard.path().string(), 300) + ": " + sec.message());
    if (changed) detail::fsync_dir(shard.path());
  }
  if (ec) throw SnapshotError("cannot list " + printable(dir_.string(), 300) + ": " + ec.message());
  return stats;
}

}  // namespace vmrep::snapshots

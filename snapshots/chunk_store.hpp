#pragma once
// Content-addressed chunk files: DIR/ab/abcdef... (the full 64-hex id, under
// its first two digits), each holding the chunk's stored form (chunk_codec).
//
// Contracts:
//  - A chunk file is whole or absent: written to a temp name, fsynced,
//    renamed. sync() then makes the renames durable (fsync of the touched
//    directories); Store::publish() calls it before a manifest appears.
//    Many chunks are written through a ChunkWriter (chunk_writer.hpp), which
//    fsyncs them as a group: one journal commit for a batch, not one each.
//    A received pack's chunks go through a BulkWriter (bulk_writer.hpp): one
//    syncfs() for all of them, still before any is renamed into place.
//  - Every read re-hashes: read() throws ChunkCorrupt naming the chunk when
//    the file does not decode to bytes with its id, ChunkMissing when absent.
//  - Anything received from outside (put_plain, put_encoded) is verified
//    before it is written; a mismatch is ChunkCorrupt and writes nothing.
//  - A present chunk is not rewritten. A corrupt one stays corrupt until
//    quarantine() moves it aside; then missing() lists it and a push can
//    resend it.
//
// Garbage collection (Store::gc) deletes unreferenced chunks older than a
// grace period. Chunks a transfer relies on before its manifest is published
// are protected by that grace: new chunks are young, and missing() refreshes
// the mtime of present chunks it reports as not missing.
//
// Thread safety: all members may be called concurrently. Whatever makes a
// chunk name appear or vouches for one (renames into place, missing(),
// Store::publish) holds the store lock shared; a GC sweep holds it
// exclusively.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "snapshots/chunk_codec.hpp"
#include "snapshots/hash.hpp"

namespace vmrep::snapshots {

// missing() and ChunkWriter refresh a present chunk's mtime only when it is
// older than this, so repeated pushes do not rewrite every inode at every
// checkpoint. A GC grace period must be well above it (Store checks).
inline constexpr std::chrono::seconds chunk_refresh_after{60};

struct ChunkStoreOptions {
  int compression_level = compression_level_default;  // zstd level for put()/put_plain()
};

struct SweepStats {
  std::uint64_t chunks_kept = 0;   // referenced
  std::uint64_t chunks_young = 0;  // unreferenced but inside the grace period
  std::uint64_t chunks_deleted = 0;
  std::uint64_t bytes_deleted = 0;  // stored (compressed) bytes
  std::uint64_t temps_deleted = 0;  // left by writers that died
  friend bool operator==(const SweepStats&, const SweepStats&) = default;
};

class ChunkStore {
 public:
  // `dir` is created when missing.
  explicit ChunkStore(std::filesystem::path dir, ChunkStoreOptions options = {});

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(const ChunkId& id) const;

  // The file exists (its content is not checked).
  bool contains(const ChunkId& id) const;
  // For a pusher: the ids not in the store, in first-seen order without
  // duplicates. Present ones get their mtime refreshed (see GC above).
  std::vector<ChunkId> missing(std::span<const ChunkId> ids);

  // One chunk, durable on return (a ChunkWriter of one). Stores plain bytes
  // (1..chunk_bytes_limit) and returns their id; `*written` (when given)
  // tells whether the chunk was new.
  ChunkId put(ByteView plain, bool* written = nullptr);
  // Plain bytes received for `id`: verified, then stored.
  void put_plain(const ChunkId& id, ByteView plain);
  // A chunk's stored form received for `id` (a peer's chunk file, as is):
  // decoded and verified, then written unchanged.
  void put_encoded(const ChunkId& id, ByteView stored);

  // The plain bytes of `id`, re-hashed. `plain` keeps its capacity between
  // calls, so a loop reading chunks allocates once.
  void read(const ChunkId& id, Bytes& plain) const;
  Bytes read(const ChunkId& id) const;
  // The stored form, NOT verified (the receiver verifies): for sending.
  Bytes read_encoded(const ChunkId& id) const;
  // Bytes the chunk occupies on disk; nullopt when absent.
  std::optional<std::uint64_t> stored_bytes(const ChunkId& id) const;

  // Moves the chunk's file to DIR/quarantine/ (kept for inspection); false
  // when it was absent.
  bool quarantine(const ChunkId& id);

  // Makes every chunk written so far durable (fsyncs the directories that
  // got new names). Cheap when nothing was written.
  void sync();

  // GC support (Store::gc). The exclusive lock keeps writers out while the
  // caller decides what is referenced and sweeps.
  std::unique_lock<std::shared_mutex> lock_exclusive() const { return std::unique_lock(lock_); }
  std::shared_lock<std::shared_mutex> lock_shared() const { return std::shared_lock(lock_); }
  // Deletes every chunk not in `keep_sorted` (sorted ascending) whose mtime
  // is older than `grace`, and temp files older than `grace`. Requires the
  // exclusive lock.
  SweepStats sweep(const std::vector<ChunkId>& keep_sorted, std::chrono::seconds grace,
                   const std::unique_lock<std::shared_mutex>& held);

 private:
  friend class ChunkWriter;
  friend class BulkWriter;
  // True when `id` is present; refreshes its mtime when old (so a writer that
  // relies on it is covered by the GC grace period).
  bool present_and_fresh(const ChunkId& id) const;
  // The shard directory of `id`, created when missing.
  std::filesystem::path ensure_shard(const ChunkId& id);
  void note_renamed(const std::string& shard);

  std::filesystem::path dir_;
  ChunkStoreOptions options_;
  mutable std::shared_mutex lock_;
  std::mutex dirty_mutex_;
  std::set<std::string> dirty_shards_;  // guarded by dirty_mutex_
  bool dir_dirty_ = false;              // a shard directory was created; guarded by dirty_mutex_
  // Which shards exist (so a put does not stat its directory); guarded by dirty_mutex_.
  std::set<std::string> known_shards_;
};

}  // namespace vmrep::snapshots

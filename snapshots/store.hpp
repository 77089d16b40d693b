#pragma once
// The snapshot store of one host: versions of every service, and the chunks
// they are made of.
//
//   ROOT/chunks/ab/abcdef...                 chunk files (chunk_store.hpp)
//   ROOT/services/SERVICE/TERM.SEQ.manifest  one file per version
//   ROOT/services/SERVICE/committed          "TERM.SEQ": the commit watermark
//
// Contracts:
//  - A version exists exactly when its manifest file does. publish() makes
//    every chunk durable first, then writes the manifest to a temp name,
//    fsyncs it, links it into place and fsyncs the directory: whatever
//    crashes when, a visible version has all its chunks, and a half-written
//    manifest is never visible.
//  - Versions are immutable: publishing an existing version again is a no-op
//    when the bytes are the same, an error when they differ.
//  - versions() lists manifest files by name (cheap); load() verifies the
//    MAC, and the chunk reads of verify()/rebuild re-hash every byte.
//  - Retention keeps, per service: every pinned version, the K newest
//    committed versions (at or below the watermark), and the K newest above
//    it (not yet committed: in flight, or a backup that is never told).
//    So a service holds at most 2K + pinned versions.
//  - GC deletes chunk files no manifest references, once older than the
//    grace period (see chunk_store.hpp for what the grace protects). A
//    manifest GC cannot verify still protects every chunk id written in it.
//  - Modes: the files hold guest memory and disks, so everything the store
//    creates is 0700 (directories) or 0600 (files), whatever the umask. A
//    store root with a looser mode (made before this was enforced) is
//    chmod-ed to 0700 when the Store is constructed, silently.
//  - ROOT/incoming is written by a peer's SFTP account: nothing under it is
//    followed (symlinks), opened when it is not a regular file or directory
//    (fifos, sockets, devices) or deleted through. incoming.hpp, gc().
//
// Thread safety: every member may be called from any thread. publish() and
// the chunk writers hold the chunk lock shared; gc() holds it exclusively.
// Pins and the store are independent objects: a Pin may outlive the Store.
// Several processes may share one ROOT for reading; one vmrepd writes it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshots/chunk_store.hpp"
#include "snapshots/manifest.hpp"
#include "snapshots/pins.hpp"

namespace vmrep::snapshots {

struct StoreOptions {
  ChunkStoreOptions chunks;
  // Unreferenced chunks and temp files younger than this survive gc().
  // Must exceed the longest transfer, and be at least 2 * chunk_refresh_after;
  // 0 only where no transfer can run concurrently (tests, offline tools).
  std::chrono::seconds gc_grace{3600};
};

struct GcStats {
  SweepStats sweep;
  std::uint64_t manifests = 0;                    // read to find references
  std::vector<std::string> unverified_manifests;  // failed to parse/verify: their ids were kept anyway
  std::uint64_t incoming_deleted = 0;             // abandoned push files under ROOT/incoming (see gc())
  // One line each naming the path and its type: entries under ROOT/incoming
  // that are neither a directory (for a service) nor a regular file, and
  // manifest names under services/ that are not regular files; removed (the
  // link itself, never its target). Also a directory under ROOT/incoming it
  // could not list.
  std::vector<std::string> refused;
};

struct RetentionResult {
  std::vector<Version> kept;     // ascending
  std::vector<Version> removed;  // ascending
};

struct ServiceUsage {
  std::uint64_t versions = 0;
  std::uint64_t newest_bytes = 0;  // plain size of the newest version's files
  std::uint64_t chunks = 0;        // distinct chunks its versions reference
  std::uint64_t stored_bytes = 0;  // those chunks on disk (compressed) + its manifests
};

struct StoreUsage {
  std::map<std::string, ServiceUsage> services;  // a chunk shared by services counts in each
  std::uint64_t chunk_files = 0;                 // every chunk file, referenced or not
  std::uint64_t chunk_bytes = 0;
};

struct VerifyStats {
  std::uint64_t chunks = 0;
  std::uint64_t bytes = 0;  // plain
};

class Store {
 public:
  // Opens (creating when missing) the store at `root`.
  Store(std::filesystem::path root, MacKey key, StoreOptions options = {});

  const std::filesystem::path& root() const { return root_; }
  ChunkStore& chunks() { return chunks_; }
  const ChunkStore& chunks() const { return chunks_; }
  const MacKey& key() const { return key_; }

  std::filesystem::path manifest_path(std::string_view service, Version v) const;

  // --- versions -------------------------------------------------------
  std::vector<std::string> services() const;                      // sorted
  std::vector<Version> versions(std::string_view service) const;  // ascending
  bool has_version(std::string_view service, Version v) const;
  std::optional<Version> newest(std::string_view service) const;
  // The newest version at or below the watermark.
  std::optional<Version> newest_committed(std::string_view service) const;
  std::optional<Version> committed_watermark(std::string_view service) const;
  // Raises the watermark to `v` (never lowers it); durable on return.
  void mark_committed(std::string_view service, Version v);

  // Reads and verifies (MAC, and that it is the version its name says).
  // SnapshotError when absent, ManifestError when it does not verify.
  Manifest load(std::string_view service, Version v) const;

  // How publish() checks the chunks a manifest names before it appears.
  enum class ChunkCheck {
    presence,  // each file exists: enough for chunks that came through a
               // ChunkWriter/ChunkStore (verified when written)
    rehash,    // each is read and re-hashed (ChunkCorrupt names the first bad
               // one): for chunk files another process wrote into ROOT/chunks
               // directly (e.g. sftp-server), which nothing has verified
  };

  // Publishes `m` as described above. ChunkMissing when a chunk it names is
  // not in the store (nothing is published).
  void publish(const Manifest& m, ChunkCheck check = ChunkCheck::presence);
  // For a receiver, once the chunks are in (missing() -> ChunkWriter ->
  // commit()): manifest bytes from the wire are parsed and verified
  // (ManifestError), then published. `source` names them in errors.
  Manifest publish_received(std::string_view text, const std::string& source, ChunkCheck check = ChunkCheck::presence);

  // Reads every chunk of the version, re-hashing it, and checks the sizes.
  // Throws the first problem (ChunkMissing/ChunkCorrupt name the chunk).
  VerifyStats verify(std::string_view service, Version v) const;

  // --- pins, retention, GC, size ---------------------------------------
  // Pinning a version that does not exist yet is allowed (a transfer pins
  // what it is receiving).
  Pin pin(std::string_view service, Version v);
  std::vector<Version> pinned(std::string_view service) const { return pins_->pinned(std::string(service)); }

  RetentionResult apply_retention(std::string_view service, std::uint32_t keep_committed);
  // Also deletes, under ROOT/incoming/SERVICE/, what pushes that never came
  // back left behind, once older than the grace period: pack parts
  // (*.pack.part), temp files, and packs with no manifest beside them. A
  // pusher that resumes appends to its part, which keeps it young; a
  // delivered version (manifest + pack) is left for accept_incoming().
  // A symlink, fifo, socket or device there is removed at once (the name,
  // not what a link points to) and reported in GcStats::refused.
  GcStats gc();
  StoreUsage usage() const;

 private:
  std::filesystem::path service_dir(std::string_view service) const;

  std::filesystem::path root_;
  MacKey key_;
  StoreOptions options_;
  ChunkStore chunks_;
  std::shared_ptr<PinTable> pins_ = std::make_shared<PinTable>();
  std::mutex watermark_mutex_;  // read-modify-write of the committed files
};

}  // namespace vmrep::snapshots

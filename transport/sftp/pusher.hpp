#pragma once
// Pushes one version of one service from the local snapshots store to a
// backup's store ROOT over SFTP (the remote side is plain OpenSSH: no vmrep
// daemon needs to run there for the bytes to arrive).
//
//   ROOT/chunks/ab/abcdef...                 chunk files, stored form as is
//   ROOT/services/SERVICE/TERM.SEQ.manifest  written last
//
// Order and crash contract:
//  1. Which chunks the backup lacks: list ROOT/chunks/ab/ for every prefix
//     the version uses (see pusher.cpp for why listing, not stat per chunk).
//  2. Each missing chunk file is written to ROOT/chunks/ab/.tmp-... and then
//     renamed to its name, so a killed transfer never leaves a half chunk
//     under a chunk name; leftover temps are swept by the backup's GC (the
//     ".tmp-" prefix of snapshots/fs_util.hpp). Resume is free: the next
//     push's listing skips every chunk that was renamed into place.
//  3. Only when every chunk is in place, the manifest goes to a temp name
//     (fsynced with fsync@openssh.com) and is renamed into place: a version
//     is visible on the backup only once all its chunks are.
// The backup's agent verifies what arrived before acknowledging
// (Store::load checks the MAC, Store::verify/publish_received(rehash) re-hash
// every chunk): the pusher sends stored chunk files unverified, as they are.
//
// Who calls it: a worker thread (blocking; it starts `parallel_sessions - 1`
// more threads, joined before push() returns or throws). Never the event loop.
// The version is pinned in the local store for the duration of push().

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "snapshots/manifest.hpp"
#include "snapshots/store.hpp"
#include "transport/sftp/session.hpp"

namespace vmrep::transport::sftp {

struct PushProgress {
  std::uint64_t bytes_done = 0;  // stored (compressed) chunk bytes sent, then the manifest
  std::uint64_t bytes_total = 0;
  std::uint64_t chunks_done = 0;  // chunk files renamed into place on the backup
  std::uint64_t chunks_total = 0;  // chunks the backup lacked
};

// Called after each chunk is in place and once after the manifest, under a
// lock, from whichever transfer thread finished it (so it must be quick and
// thread-agnostic). Throwing from it aborts the push (the exception comes out
// of push()); chunks already in place stay there for the next push.
using ProgressFn = std::function<void(const PushProgress&)>;

struct PushOptions {
  std::string remote_root;           // absolute, or relative to the login's home
  unsigned parallel_sessions = 3;    // SSH connections uploading at once, 1..16
  bool fsync_chunks = false;         // fsync@openssh.com per chunk file (slow)
  bool fsync_manifest = true;        // before the rename that publishes it
  ProgressFn progress;               // optional
};

struct PushStats {
  std::uint64_t chunks_referenced = 0;  // distinct chunks of the version
  std::uint64_t chunks_present = 0;     // already on the backup
  std::uint64_t chunks_sent = 0;
  std::uint64_t chunk_bytes_sent = 0;  // stored form, as on the wire (before SSH framing)
  std::uint64_t manifest_bytes = 0;
  std::uint64_t plain_bytes = 0;  // the version's files, uncompressed
  bool already_there = false;     // the manifest existed: nothing was sent
  std::uint64_t bytes_sent() const { return chunk_bytes_sent + manifest_bytes; }
};

class Pusher {
 public:
  Pusher(snapshots::Store& store, Endpoint endpoint, PushOptions options);

  // Pushes `service` version `v` (which must be in the local store).
  // std::runtime_error naming host, path and libssh2's message on failure;
  // snapshots errors when the local version does not load.
  PushStats push(std::string_view service, snapshots::Version v);

 private:
  snapshots::Store& store_;
  Endpoint endpoint_;
  PushOptions options_;
};

}  // namespace vmrep::transport::sftp

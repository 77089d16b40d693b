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
// Pack path (when the backup lacks more than pack_threshold_chunks chunks,
// e.g. a first full push): instead of one remote file per chunk (4 round
// trips each), the missing chunks go as ONE pack (snapshots/pack.hpp), in
// large writes, to
//     ROOT/incoming/SERVICE/TERM.SEQ.pack.part  -> renamed to .pack when whole
//     ROOT/incoming/SERVICE/TERM.SEQ.manifest   (temp + rename) after it
// and the backup's agent makes the version visible with
// snapshots::accept_incoming() (unpack with re-hash, then publish). Nothing
// under services/ or chunks/ changes until then, so a half-sent version never
// exists. Resume: the pack's bytes are a function of the missing list (its
// header carries a digest of it); an existing .part whose header matches is
// appended to at its size, so finished bytes are not sent again.
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
  // More missing chunks than this go as one pack (see above); 0 = always.
  std::uint64_t pack_threshold_chunks = 64;
  std::size_t pack_write_bytes = 8 * 30'000;  // per SFTP write; a multiple of 30,000
};

struct PushStats {
  std::uint64_t chunks_referenced = 0;  // distinct chunks of the version
  std::uint64_t chunks_present = 0;     // already on the backup
  std::uint64_t chunks_sent = 0;
  std::uint64_t chunk_bytes_sent = 0;  // stored form (or pack bytes), as on the wire (before SSH framing)
  std::uint64_t manifest_bytes = 0;
  std::uint64_t plain_bytes = 0;  // the version's files, uncompressed
  bool already_there = false;     // the manifest existed: nothing was sent
  bool packed = false;                 // the pack path was used
  std::uint64_t pack_bytes = 0;        // size of the whole pack
  std::uint64_t pack_resumed_from = 0;  // bytes of it already on the backup
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
  // The pack path: everything after planning. Returns false when another
  // pusher had published the incoming manifest meanwhile.
  bool push_pack(Session& session, std::string_view service, snapshots::Version v, const std::vector<snapshots::ChunkId>& missing,
                 snapshots::ByteView manifest_text, PushStats& stats);

  snapshots::Store& store_;
  Endpoint endpoint_;
  PushOptions options_;
};

}  // namespace vmrep::transport::sftp

#pragma once
// Pushes one version of one service from the local snapshots store to a
// backup's store ROOT over SFTP (the remote side is plain OpenSSH: no vmrep
// daemon needs to run there for the bytes to arrive).
//
//   ROOT/chunks/ab/abcdef...                 chunk files, stored form as is
//   ROOT/services/SERVICE/TERM.SEQ.manifest  written last
//
// What it costs: a push is bound by round trips, not by chunks, when the
// caller says what the backup already holds (BackupKnowledge below). A backup
// that acknowledged version B (or lists it in its inventory) has every chunk
// of B (its GC keeps every chunk a held version references), so the chunks
// version V lacks there are exactly V's minus B's: no listing, one pack with
// pipelined writes. With a session kept from the previous push that is about
// eight round trips (open, the windows of the stream, close, rename, manifest
// open/write/close, rename) whatever the number of chunks and shard
// directories: what a backup on another site needs. Only a backup the caller
// knows nothing about (first contact, or after it refused a version) is
// listed, shard directory by shard directory (hundreds of round trips).
//
// Order and crash contract:
//  1. Which chunks the backup lacks: from the held version's manifest, or by
//     listing ROOT/chunks/ab/ for every prefix the version uses (see
//     pusher.cpp for why listing, not stat per chunk).
//  2. Listed path, few missing chunks: each missing chunk file is written to
//     ROOT/chunks/ab/.tmp-... and then renamed to its name, so a killed
//     transfer never leaves a half chunk under a chunk name; leftover temps
//     are swept by the backup's GC (the ".tmp-" prefix of
//     snapshots/fs_util.hpp). Resume is free: the next push's listing skips
//     every chunk that was renamed into place.
//  3. Only when every chunk is in place, the manifest goes to a temp name
//     (fsynced with fsync@openssh.com) and is renamed into place: a version
//     is visible on the backup only once all its chunks are.
// Pack path (always when the caller knows what the backup holds; on the
// listed path when the backup lacks more than pack_threshold_chunks chunks,
// e.g. a first full push): instead of one remote file per chunk (4 round
// trips each), the missing chunks go as ONE pack (snapshots/pack.hpp), in
// pipelined writes, to
//     ROOT/incoming/SERVICE/TERM.SEQ.pack.part  -> renamed to .pack when whole
//     ROOT/incoming/SERVICE/TERM.SEQ.manifest   (temp + rename) after it
// and the backup's agent makes the version visible with
// snapshots::accept_incoming() (unpack with re-hash, then publish, durable).
// Nothing under services/ or chunks/ changes until then, so a half-sent
// version never exists. Resume: the pack's bytes are a function of the
// record list (its header carries a digest of it); an existing .part whose
// header matches is appended to at its size, so finished bytes are not sent
// again. And a Pusher remembers the pack it was sending when a push failed:
// the next push, of this version or a later one, renames that part to its
// own name, keeps its whole records (they are chunks the backup will have
// once the part is accepted, needed or not), rewrites the header for the
// longer list and appends only what is still missing. So a first sync longer
// than the gap between link failures still finishes.
// The backup's agent verifies what arrived before acknowledging
// (Store::load checks the MAC, Store::verify/publish_received(rehash) re-hash
// every chunk): the pusher sends stored chunk files unverified, as they are.
//
// Who calls it: a worker thread (blocking; on the listed path it starts
// `parallel_sessions - 1` more threads, joined before push() returns or
// throws). Never the event loop. One push() at a time per Pusher (it keeps
// one SSH session between pushes, dropped on any failure). The version is
// pinned in the local store for the duration of push().

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <memory>
#include <optional>
#include <set>
#include <variant>
#include <vector>

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
  std::size_t pack_write_bytes = 8 * 30'000;  // per local read ahead of the stream
  // Bytes of a pack in flight at once (a multiple of 30,000): about one round
  // trip per window, so a larger one suits a longer link. 64 x 30,000 is
  // OpenSSH's channel window (2 MiB) rounded down.
  std::size_t pack_window_bytes = 64 * 30'000;
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
  std::uint64_t pack_reused_records = 0;  // whole records kept from an interrupted pack of another push
  std::optional<snapshots::Version> base;  // the held version the missing chunks were computed against
  bool listed = false;                     // the backup's shard directories were listed
  bool connected = false;                  // a new SSH session was opened for this push
  std::uint64_t round_trips = 0;           // SFTP round trips (Session::round_trips), connecting apart
  std::uint64_t bytes_sent() const { return chunk_bytes_sent + manifest_bytes; }
};

// What the pushing side knows of the backup's store.
struct BackupUnknown {};  // nothing: list its shard directories
struct BackupEmpty {};    // it holds no version: send every chunk, no listing
struct BackupHolds {      // it holds these versions (and so every chunk they name)
  std::vector<snapshots::Version> versions;  // any order; the newest one held locally too is used
};
using BackupKnowledge = std::variant<BackupUnknown, BackupEmpty, BackupHolds>;

class Pusher {
 public:
  Pusher(snapshots::Store& store, Endpoint endpoint, PushOptions options);

  // Pushes `service` version `v` (which must be in the local store).
  // `known`: what the backup holds (see above); `progress` replaces
  // options.progress for this push when set.
  // std::runtime_error naming host, path and libssh2's message on failure;
  // snapshots errors when the local version does not load. When a kept
  // session fails before the first byte is acknowledged (the backup's sshd
  // restarted meanwhile), the push is tried once more on a new session.
  PushStats push(std::string_view service, snapshots::Version v, const BackupKnowledge& known = BackupUnknown{},
                 const ProgressFn& progress = {});

 private:
  struct Plan;
  struct Attempt;
  struct PartialPack {  // the pack a failed push was writing
    std::string service;
    std::string path;
    std::vector<snapshots::ChunkId> ids;
  };
  PushStats push_once(Attempt& attempt);
  Session& session(PushStats& stats);
  void ensure_dirs(Session& session, std::initializer_list<std::string> dirs);
  bool plan_from_knowledge(Attempt& attempt, const std::vector<snapshots::ChunkId>& distinct, Plan& plan);
  // The listed path's per-chunk upload (few missing chunks).
  void push_chunk_files(Session& first, Attempt& attempt, const Plan& plan);
  // The pack path: everything after planning. Returns false when another
  // pusher had published the incoming manifest meanwhile. `discover`: look
  // at what the backup holds under incoming/ (the listed path) rather than
  // trusting what this Pusher remembers.
  bool push_pack(Session& session, Attempt& attempt, const std::vector<snapshots::ChunkId>& missing, bool discover);

  snapshots::Store& store_;
  Endpoint endpoint_;
  PushOptions options_;
  std::unique_ptr<Session> session_;  // kept between pushes
  std::set<std::string> made_dirs_;   // known to exist on the backup, for session_'s life
  std::optional<PartialPack> partial_;
};

}  // namespace vmrep::transport::sftp

#pragma once
// The receiving end of a pack push (transport/sftp/pusher.hpp):
//
//   ROOT/incoming/SERVICE/TERM.SEQ.pack        the version's missing chunks (pack.hpp)
//   ROOT/incoming/SERVICE/TERM.SEQ.manifest    written after the pack is whole
//
// accept_incoming() takes every complete incoming manifest (a pusher renames
// it into place only after the pack was renamed from .part), and for each:
// unpacks the pack (every chunk re-hashed by a BulkWriter, data made durable
// by one syncfs before any chunk name appears: bulk_writer.hpp), re-hashes
// every other chunk the manifest names that did NOT come from the pack
// (sftp-server may have written them into ROOT/chunks directly), publishes the
// version with Store::publish_received (MAC checked, then the usual crash-safe
// publish), and only then removes the incoming files. A version that fails is
// reported and its incoming files are removed (so the next push sends it
// again instead of finding it "delivered"); the others go on. Chunks verified
// before the failure stay in the store (valid, unreferenced until a version
// names them; GC removes them after its grace period otherwise).
//
// Hostile input: everything under ROOT/incoming was written by a peer's SFTP
// account (perhaps not root), and this runs as root. So nothing there is
// followed: ROOT/incoming and each SERVICE directory must be real
// directories, each manifest and pack a regular file, checked by lstat and
// again by fstat of the fd opened O_NOFOLLOW|O_NONBLOCK (a swap in between is
// caught, a fifo never blocks, a device is never opened). Anything else is
// refused with one line in AcceptStats::errors, "PATH: not a regular file
// (symlink); refused", and its name removed (the link, never its target;
// ROOT/incoming itself is only reported).
// No error quotes a peer's file: a manifest that does not parse is reported
// by path only (chunk ids, 64 hex digits, are named).
//
// Who calls it: the backup's replica agent (a worker thread), when a push
// ends; tests call it on the remote root directly. One caller per ROOT at a
// time.

#include <set>
#include <string>
#include <vector>

#include "snapshots/store.hpp"

namespace vmrep::snapshots {

struct AcceptedVersion {
  std::string service;
  Version version;
  std::uint64_t chunks_unpacked = 0;  // records taken from its pack
  std::uint64_t chunks_rehashed = 0;  // other chunks it names, re-hashed here
};

struct AcceptStats {
  std::vector<AcceptedVersion> published;
  std::vector<std::string> errors;  // one line each, naming the file
};

// `verified` (optional, in and out): chunks this process re-hashed before;
// those a manifest names are only checked for presence, so a small pack that
// names a 100 MB image costs its own chunks, not the image's. Every chunk
// verified here is added.
AcceptStats accept_incoming(Store& store, std::set<ChunkId>* verified = nullptr);

}  // namespace vmrep::snapshots

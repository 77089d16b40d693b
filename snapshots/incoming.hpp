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
// Who calls it: the backup's replica agent (a worker thread), when a push
// ends; tests call it on the remote root directly. One caller per ROOT at a
// time.

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

AcceptStats accept_incoming(Store& store);

}  // namespace vmrep::snapshots

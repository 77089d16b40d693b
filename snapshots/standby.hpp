#pragma once
// A standby copy of one version's files on a backup, kept current in place:
// when the next version arrives only the chunks that differ at their file
// offset are written (about what changed: ~1 MB of a 90 MB memory image), so
// a promotion finds the files ready instead of rebuilding them (the failover's
// longest step after the suspicion timeout).
//
// Not crash-safe and not meant to be: during an update the directory is a
// mix of two versions. The caller forgets the standby before updating and
// records it after success; after a crash or error it rebuilds from scratch
// (snapshots/rebuild.hpp). Every chunk written is re-hashed on read.
//
// Who calls it: a worker thread (blocking file I/O), one update per dir at a time.
#include <cstdint>
#include <filesystem>

#include "snapshots/chunk_store.hpp"
#include "snapshots/manifest.hpp"

namespace vmrep::snapshots {

struct StandbyStats {
  std::uint64_t files = 0;
  std::uint64_t chunks_written = 0;
  std::uint64_t chunks_kept = 0;  // same chunk at the same offset: untouched
  std::uint64_t bytes_written = 0;
};

// Makes `dir` hold exactly the files of `m` (`dir` created 0700 when missing,
// files created 0600). `previous` is what `dir` holds
// now (nullptr: nothing trustworthy; every file is written whole). Files of
// `dir` that `m` does not name are removed.
StandbyStats update_standby(const ChunkStore& chunks, const Manifest& m, const Manifest* previous,
                            const std::filesystem::path& dir);

}  // namespace vmrep::snapshots

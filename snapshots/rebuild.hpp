#pragma once
// Rebuilding a version's files from chunks into a directory (restore on a
// backup that becomes primary). Streaming with bounded memory: one chunk and
// a 1 MiB write buffer at a time, whatever the file sizes. Every chunk is
// re-hashed and its size checked against the manifest, and each file's total
// size too. All-zero chunks become holes (sparse files, as disk images are).
//
// Each file is written to a temp name in the target directory, fsynced and
// renamed over TARGET/NAME, then the directory is fsynced: after a failure or
// a crash a target file is the old one or the complete new one, never a mix.
// On failure the temp file is removed and the error names the chunk and file.
//
// Who calls it: the failover/restore path, on a worker thread.

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "snapshots/chunk_store.hpp"
#include "snapshots/manifest.hpp"
#include "snapshots/store.hpp"

namespace vmrep::snapshots {

struct RebuildStats {
  std::uint64_t files = 0;
  std::uint64_t chunks = 0;
  std::uint64_t bytes = 0;       // plain bytes of the files
  std::uint64_t hole_bytes = 0;  // of those, left as holes
};

// `target_dir` is created when missing (0700, and any missing parent too);
// the files are 0600: they hold guest memory. `m` must already be verified (it
// came from Store::load or parse_manifest).
// durable = false skips the fsyncs (the rename still makes each file appear
// whole): for a restore that starts a VM from the files at once, where a crash
// simply means restoring again.
RebuildStats rebuild(const ChunkStore& chunks, const Manifest& m, const std::filesystem::path& target_dir,
                     bool durable = true);

// Pins the version for the duration, loads (verifies) its manifest and
// rebuilds it.
RebuildStats rebuild_version(Store& store, std::string_view service, Version v,
                             const std::filesystem::path& target_dir, bool durable = true);

}  // namespace vmrep::snapshots

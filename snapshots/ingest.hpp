#pragma once
// Writing a new version from files on disk (the primary's side of a
// checkpoint): each file is streamed through the chunker, new chunks go to
// the store, and the manifest is published last. Memory stays bounded by the
// FileChunker buffer (about 1 MiB), whatever the file sizes.
//
// Who calls it: the checkpoint agent, on a worker thread (it blocks on disk
// I/O). Time comes from the caller (created_unix_ms): nothing here reads a
// clock.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "snapshots/chunk_writer.hpp"
#include "snapshots/chunker.hpp"
#include "snapshots/manifest.hpp"
#include "snapshots/store.hpp"

namespace vmrep::snapshots {

struct NewFile {
  std::string name;            // the name in the manifest (and in a rebuild)
  std::filesystem::path path;  // where its bytes are now
};

struct NewVersion {
  std::string service;
  Version version;
  std::optional<Version> parent;
  std::int64_t created_unix_ms = 0;
  std::string domain_xml;
  std::vector<NewFile> files;
};

struct IngestStats {
  std::uint64_t bytes = 0;  // plain bytes read
  std::uint64_t chunks = 0;
  std::uint64_t new_chunks = 0;  // not in the store before
  std::uint64_t new_bytes = 0;   // plain bytes of the new chunks
  friend bool operator==(const IngestStats&, const IngestStats&) = default;
};

// Chunks one file into `writer`; returns its chunk list. The chunks are in
// the store once writer.commit() returns.
std::vector<ChunkRef> ingest_file(ChunkWriter& writer, const Chunker& chunker, const std::filesystem::path& file,
                                  IngestStats& stats);
// The same for bytes already in memory.
std::vector<ChunkRef> ingest_bytes(ChunkWriter& writer, const Chunker& chunker, ByteView data, IngestStats& stats);

// Ingests every file, commits the chunks, then publishes the manifest.
// Returns the manifest.
Manifest write_version(Store& store, const Chunker& chunker, const NewVersion& request, IngestStats* stats = nullptr);

}  // namespace vmrep::snapshots

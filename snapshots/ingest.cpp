#include "snapshots/ingest.hpp"

#include "snapshots/errors.hpp"

namespace vmrep::snapshots {
namespace {

ChunkRef store_chunk(ChunkWriter& writer, ByteView chunk, IngestStats& stats) {
  bool written = false;
  const ChunkId id = writer.put(chunk, &written);
  ++stats.chunks;
  stats.bytes += chunk.size();
  if (written) {
    ++stats.new_chunks;
    stats.new_bytes += chunk.size();
  }
  return ChunkRef{id, static_cast<std::uint32_t>(chunk.size())};
}

}  // namespace

std::vector<ChunkRef> ingest_file(ChunkWriter& writer, const Chunker& chunker, const std::filesystem::path& file,
                                  IngestStats& stats) {
  std::vector<ChunkRef> refs;
  FileChunker reader(chunker, file);
  while (const auto chunk = reader.next()) refs.push_back(store_chunk(writer, *chunk, stats));
  return refs;
}

std::vector<ChunkRef> ingest_bytes(ChunkWriter& writer, const Chunker& chunker, ByteView data, IngestStats& stats) {
  std::vector<ChunkRef> refs;
  while (!data.empty()) {
    const std::size_t len = chunker.next_chunk_bytes(data);
    refs.push_back(store_chunk(writer, data.first(len), stats));
    data = data.subspan(len);
  }
  return refs;
}

Manifest write_version(Store& store, const Chunker& chunker, const NewVersion& request, IngestStats* stats) {
  IngestStats local;
  Manifest m;
  m.service = request.service;
  m.version = request.version;
  m.parent = request.parent;
  m.created_unix_ms = request.created_unix_ms;
  m.domain_xml = request.domain_xml;
  // Refuse a bad name or version before reading gigabytes (m.files is still
  // empty, which check_manifest reports as a "files" problem: publish checks those).
  if (const auto problem = check_manifest(m); problem && problem->field != "files") {
    throw SnapshotError("write_version: field " + problem->field + ": " + problem->problem);
  }
  ChunkWriter writer(store.chunks());
  for (const NewFile& f : request.files) {
    m.files.push_back(FileEntry{f.name, ingest_file(writer, chunker, f.path, local)});
  }
  writer.commit();
  store.publish(m);
  if (stats) *stats = local;
  return m;
}

}  // namespace vmrep::snapshots

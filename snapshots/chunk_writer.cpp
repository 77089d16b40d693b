#include "snapshots/chunk_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"

namespace vmrep::snapshots {

void ChunkWriter::sync_all() {
  std::vector<int> fds;
  std::vector<std::string> names;
  for (const Pending& p : pending_) {
    fds.push_back(p.fd.get());
    names.push_back(p.temp_path.string());
  }
  detail::fsync_many(fds, names, true);
}

ChunkWriter::ChunkWriter(ChunkStore& store, std::size_t batch_files, std::size_t batch_bytes)
    : store_(store), batch_files_(std::max<std::size_t>(batch_files, 1)), batch_bytes_(batch_bytes) {}

ChunkWriter::~ChunkWriter() {
  for (const Pending& p : pending_) ::unlink(p.temp_path.c_str());
}

ChunkId ChunkWriter::put(ByteView plain, bool* written) {
  const ChunkId id = sha256(plain);
  const bool fresh = !pending_ids_.contains(id) && !store_.present_and_fresh(id) &&
                     stage(id, encode_chunk(plain, store_.options_.compression_level));
  if (written) *written = fresh;
  return id;
}

void ChunkWriter::put_plain(const ChunkId& id, ByteView plain, bool* written) {
  if (plain.empty() || plain.size() > chunk_bytes_limit) {
    throw ChunkCorrupt(id,
                       "chunk " + id.hex() + ": received " + std::to_string(plain.size()) + " bytes, not a chunk size");
  }
  const ChunkId actual = sha256(plain);
  if (actual != id) throw ChunkCorrupt(id, "chunk " + id.hex() + ": received bytes hash to " + actual.hex());
  const bool fresh = !pending_ids_.contains(id) && !store_.present_and_fresh(id) &&
                     stage(id, encode_chunk(plain, store_.options_.compression_level));
  if (written) *written = fresh;
}

void ChunkWriter::put_encoded(const ChunkId& id, ByteView stored, bool* written) {
  Bytes plain;
  decode_chunk(id, stored, plain);  // verifies before anything is written
  const bool fresh = !pending_ids_.contains(id) && !store_.present_and_fresh(id) && stage(id, stored);
  if (written) *written = fresh;
}

bool ChunkWriter::stage(const ChunkId& id, ByteView stored) {
  const std::filesystem::path final_path = store_.ensure_shard(id) / id.hex();
  std::filesystem::path temp;
  detail::Fd fd = detail::create_temp_beside(final_path, temp);
  try {
    detail::write_all(fd.get(), stored, temp.string());
    // Start writeback now; commit()'s fsync then mostly waits for the journal.
    ::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  pending_.push_back(Pending{id, final_path, std::move(temp), std::move(fd)});
  pending_ids_.insert(id);
  pending_bytes_ += stored.size();
  if (pending_.size() >= batch_files_ || pending_bytes_ >= batch_bytes_) commit();
  return true;
}

void ChunkWriter::commit() {
  sync_all();
  {
    const auto shared = store_.lock_shared();  // no GC sweep while names appear
    while (!pending_.empty()) {
      const Pending& p = pending_.back();
      if (::rename(p.temp_path.c_str(), p.final_path.c_str()) != 0) {
        throw_errno("cannot rename into place", p.final_path.string(), errno);
      }
      store_.note_renamed(p.final_path.parent_path().filename().string());
      pending_ids_.erase(p.id);
      pending_.pop_back();
    }
  }
  pending_bytes_ = 0;
}

}  // namespace vmrep::snapshots

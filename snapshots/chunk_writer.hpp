#pragma once
// Writes many chunks into a ChunkStore with group durability: each chunk goes
// to a temp file whose writeback starts at once; commit() fsyncs the batch
// (concurrently, so the journal commits them together), and only then
// renames each into place. So a chunk file is still whole or absent, at a
// fraction of the cost of one fsync per chunk. commit() briefly starts a few
// threads for the fsyncs (joined before it returns).
//
// A chunk put here becomes visible (contains(), read(), missing()) at the
// next commit(), which happens by itself whenever the batch reaches
// batch_files or batch_bytes, and must be called before publishing a
// manifest that names the chunks. Memory and open files stay bounded by the
// batch. The destructor abandons (deletes) what was not committed.
//
// Who uses it: ingest (the primary writing a checkpoint) and a receiver
// storing chunks from the wire. One writer per thread; several writers on
// one store may run concurrently.

#include <cstddef>
#include <filesystem>
#include <set>
#include <vector>

#include "snapshots/chunk_store.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {

class ChunkWriter {
 public:
  static constexpr std::size_t batch_files_default = 128;
  static constexpr std::size_t batch_bytes_default = std::size_t{16} << 20;

  explicit ChunkWriter(ChunkStore& store, std::size_t batch_files = batch_files_default,
                       std::size_t batch_bytes = batch_bytes_default);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // As ChunkStore::put/put_plain/put_encoded (same verification), batched.
  // `*written` tells whether the chunk was new to the store and the batch.
  ChunkId put(ByteView plain, bool* written = nullptr);
  void put_plain(const ChunkId& id, ByteView plain, bool* written = nullptr);
  void put_encoded(const ChunkId& id, ByteView stored, bool* written = nullptr);

  // Every chunk put so far is in the store, whole and fsynced, on return.
  // (Directory entries become durable at ChunkStore::sync(), which
  // Store::publish calls.)
  void commit();

  std::size_t pending() const { return pending_.size(); }
  ChunkStore& store() { return store_; }

 private:
  struct Pending {
    ChunkId id;
    std::filesystem::path final_path;
    std::filesystem::path temp_path;
    detail::Fd fd;
  };

  bool stage(const ChunkId& id, ByteView stored);
  // fdatasync of every pending temp file (detail::fsync_many).
  void sync_all();

  ChunkStore& store_;
  std::size_t batch_files_;
  std::size_t batch_bytes_;
  std::vector<Pending> pending_;
  std::set<ChunkId> pending_ids_;
  std::size_t pending_bytes_ = 0;
};

}  // namespace vmrep::snapshots

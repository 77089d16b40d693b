#pragma once
// Stores many chunks received in one go (the pack of a first push: about
// 11,500 chunk files for a 90 MB memory image) with ONE flush of the
// filesystem instead of an fsync per chunk file or per batch.
//
//   add()     queues a chunk's stored form; a full queue is flushed
//   flush     up to bulk_threads_max threads decode and re-hash each queued
//             chunk and write each verified, new one to a temp file beside
//             its final name, without fsync
//   commit()  syncfs() of the store's filesystem, so every temp file's data is
//             durable, and only THEN renames each temp to its chunk name
//
// Why this keeps the store's crash contracts (chunk_store.hpp, store.hpp):
//  - A chunk file is whole or absent: a chunk name appears only through a
//    rename done after the syncfs() that made that temp file's data durable.
//    A crash before leaves temp files only, which GC sweeps after its grace.
//  - A visible version has all its chunks durable: the renames are noted as
//    dirty directories, and Store::publish() fsyncs them (ChunkStore::sync())
//    before it writes the manifest, exactly as after a ChunkWriter.
// The order differs from ChunkWriter's (fdatasync of each temp in batches):
// the data of all temps is made durable at once, by syncfs(). That also
// flushes other writers' dirty data on the same filesystem: the price of one
// flush instead of 11,000 (figures in BENCHMARKS.md). Since Linux 5.8 syncfs()
// reports writeback errors of the filesystem, which commit() throws.
//
// Rejection: the first queued chunk (in add() order) that fails to verify or
// to be written stops the writer: the chunks added before it are kept (they
// go in at the next commit()), it and every later one are dropped, add()
// returns false from then on and rejection() says which and why.
//
// Memory and open files stay bounded: the queue holds at most
// bulk_queue_records chunks / bulk_queue_bytes; temp files are closed once
// written; commit() runs by itself after bulk_staged_max staged temps.
// The destructor deletes staged temps that were not committed.
//
// Who uses it: unpack_into (pack.hpp), on the receiving backup's worker
// thread. One thread calls a BulkWriter; it starts and joins its own helpers
// inside each flush.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "snapshots/chunk_store.hpp"

namespace vmrep::snapshots {

inline constexpr unsigned bulk_threads_max = 4;
inline constexpr std::size_t bulk_queue_records = 1024;
inline constexpr std::size_t bulk_queue_bytes = std::size_t{16} << 20;
inline constexpr std::size_t bulk_staged_max = 65536;

struct BulkRejection {
  std::uint64_t index = 0;   // of the chunk, counting add() calls from 0
  std::uint64_t tag = 0;     // the caller's (a pack record's offset)
  std::string what;          // the error, one line, naming the chunk
};

class BulkWriter {
 public:
  // `threads` 0 = one per core, at most bulk_threads_max.
  explicit BulkWriter(ChunkStore& store, unsigned threads = 0);
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  // Queues `stored` (a chunk's stored form, unverified) for `id`. False once
  // a chunk was rejected (this one or an earlier one).
  bool add(const ChunkId& id, Bytes stored, std::uint64_t tag);
  // Everything accepted so far is in the store, its data durable, its name
  // visible (directories: at ChunkStore::sync()).
  void commit();

  const std::optional<BulkRejection>& rejection() const { return rejection_; }
  std::uint64_t accepted() const { return accepted_; }  // verified chunks, duplicates included
  std::uint64_t written() const { return written_; }    // of those, new to the store

 private:
  struct Queued {
    ChunkId id;
    Bytes stored;
    std::uint64_t tag;
  };
  struct Staged {
    std::filesystem::path temp;
    std::filesystem::path final_path;
  };

  void flush();

  ChunkStore& store_;
  unsigned threads_;
  std::vector<Queued> queue_;
  std::size_t queued_bytes_ = 0;
  std::vector<Staged> staged_;
  std::set<ChunkId> staged_ids_;
  std::uint64_t added_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t written_ = 0;
  std::optional<BulkRejection> rejection_;
};

}  // namespace vmrep::snapshots

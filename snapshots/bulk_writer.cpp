#include "snapshots/bulk_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "snapshots/chunk_codec.hpp"
#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {

BulkWriter::BulkWriter(ChunkStore& store, unsigned threads) : store_(store) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  threads_ = std::clamp(threads == 0 ? cores : threads, 1u, bulk_threads_max);
  queue_.reserve(bulk_queue_records);
}

BulkWriter::~BulkWriter() {
  for (const Staged& s : staged_) ::unlink(s.temp.c_str());
}

bool BulkWriter::add(const ChunkId& id, Bytes stored, std::uint64_t tag) {
  if (rejection_) return false;
  queued_bytes_ += stored.size();
  queue_.push_back(Queued{id, std::move(stored), tag});
  ++added_;
  if (queue_.size() >= bulk_queue_records || queued_bytes_ >= bulk_queue_bytes) flush();
  return !rejection_;
}

void BulkWriter::flush() {
  const std::size_t n = queue_.size();
  if (n == 0) return;
  std::vector<std::string> errors(n);
  std::vector<std::filesystem::path> temps(n);  // empty: nothing written (present already, or failed)
  const auto work = [&](std::size_t first, std::size_t stride) {
    Bytes plain;
    for (std::size_t i = first; i < n; i += stride) {
      const Queued& q = queue_[i];
      try {
        decode_chunk(q.id, q.stored, plain);  // verified before anything is written
        if (store_.present_and_fresh(q.id)) continue;
        const std::filesystem::path final_path = store_.ensure_shard(q.id) / q.id.hex();
        const detail::Fd fd = detail::create_temp_beside(final_path, temps[i]);
        detail::write_all(fd.get(), q.stored, temps[i].string());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  };
  const std::size_t threads = std::min<std::size_t>(threads_, (n + 63) / 64);
  if (threads <= 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> helpers;
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work, t, threads);
    work(0, threads);
    for (std::thread& t : helpers) t.join();
  }
  const std::size_t cut = static_cast<std::size_t>(
      std::find_if(errors.begin(), errors.end(), [](const std::string& e) { return !e.empty(); }) - errors.begin());
  for (std::size_t i = 0; i < n; ++i) {
    if (temps[i].empty()) continue;
    if (i < cut && staged_ids_.insert(queue_[i].id).second) {
      staged_.push_back(Staged{std::move(temps[i]), store_.path_of(queue_[i].id)});
      ++written_;
    } else {
      ::unlink(temps[i].c_str());  // after the rejected one, or a repeat within the pack
    }
  }
  accepted_ += cut;
  if (cut < n) rejection_ = BulkRejection{added_ - n + cut, queue_[cut].tag, errors[cut]};
  queue_.clear();
  queued_bytes_ = 0;
  if (staged_.size() >= bulk_staged_max) commit();
}

void BulkWriter::commit() {
  flush();
  if (staged_.empty()) return;
  {
    const detail::Fd fd(::open(store_.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open directory", store_.dir().string(), errno);
    if (::syncfs(fd.get()) != 0) throw_errno("cannot syncfs", store_.dir().string(), errno);
  }
  const auto shared = store_.lock_shared();  // no GC sweep while names appear
  while (!staged_.empty()) {
    const Staged& s = staged_.back();
    if (::rename(s.temp.c_str(), s.final_path.c_str()) != 0) {
      throw_errno("cannot rename into place", s.final_path.string(), errno);
    }
    store_.note_renamed(s.final_path.parent_path().filename().string());
    staged_.pop_back();
  }
  staged_ids_.clear();
}

}  // namespace vmrep::snapshots

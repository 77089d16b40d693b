#include "transport/sftp/pusher.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"
#include "snapshots/pack.hpp"

namespace vmrep::transport::sftp {
namespace {

namespace snap = vmrep::snapshots;

constexpr unsigned parallel_sessions_max = 16;

// A token that makes this push's temp names unique among concurrent pushers.
std::string temp_token() {
  std::random_device rd;
  const std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
  return snap::to_hex(snap::ByteView(reinterpret_cast<const std::uint8_t*>(&v), sizeof v));
}

struct Plan {
  std::map<std::string, std::vector<snap::ChunkId>> by_shard;  // "ab" -> distinct ids
  std::vector<snap::ChunkId> missing;                          // what the backup lacks
  std::uint64_t chunk_bytes_total = 0;                         // stored bytes of `missing`
};

// Shared by the transfer threads: a queue of missing chunks and the progress.
class Transfer {
 public:
  Transfer(snap::Store& store, const PushOptions& options, const Plan& plan, std::uint64_t manifest_bytes)
      : store_(store), options_(options), plan_(plan), token_(temp_token()) {
    progress_.chunks_total = plan.missing.size();
    progress_.bytes_total = plan.chunk_bytes_total + manifest_bytes;
  }

  // Uploads chunks from the shared queue until it is empty or a thread failed.
  void run(Session& session, unsigned worker) {
    std::uint64_t n = 0;
    for (;;) {
      if (failed_.load()) return;
      const std::size_t i = next_.fetch_add(1);
      if (i >= plan_.missing.size()) return;
      const snap::ChunkId& id = plan_.missing[i];
      const snap::Bytes stored = store_.chunks().read_encoded(id);
      const std::string hex = id.hex();
      const std::string dir = options_.remote_root + "/chunks/" + hex.substr(0, 2) + "/";
      const std::string temp = dir + std::string(snap::detail::temp_prefix) + hex.substr(0, 16) + "-" + token_ + "-" +
                               std::to_string(worker) + "." + std::to_string(n++);
      session.write_file(temp, stored, options_.fsync_chunks);
      // false: another pusher put the same chunk there first (same bytes by
      // construction: the name is the hash), so ours is garbage.
      if (!session.rename(temp, dir + hex)) session.remove(temp);
      report(stored.size(), 1);
    }
  }

  // Runs `fn` and records the first exception of any thread; stops the others.
  template <class Fn>
  void guarded(Fn&& fn) {
    try {
      fn();
    } catch (...) {
      const std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true);
    }
  }

  void rethrow_first() const {
    if (error_) std::rethrow_exception(error_);
  }

  void report(std::uint64_t bytes, std::uint64_t chunks) {
    const std::lock_guard lock(mutex_);
    progress_.bytes_done += bytes;
    progress_.chunks_done += chunks;
    sent_bytes_ += chunks > 0 ? bytes : 0;
    if (options_.progress) options_.progress(progress_);
  }

  std::uint64_t chunk_bytes_sent() const { return sent_bytes_; }
  const std::string& token() const { return token_; }

 private:
  snap::Store& store_;
  const PushOptions& options_;
  const Plan& plan_;
  std::string token_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;     // guarded by mutex_
  PushProgress progress_;        // guarded by mutex_
  std::uint64_t sent_bytes_ = 0;  // guarded by mutex_
};

// Reads the pack ahead on its own thread (a few buffers, bounded), so the
// local reads of thousands of chunk files overlap the network writes.
// Consumed strictly in order from `offset`, one buffer of `buffer_bytes` per call.
class Prefetch {
 public:
  static constexpr std::size_t depth = 4;

  Prefetch(snap::PackSource& source, std::uint64_t offset, std::size_t buffer_bytes)
      : source_(source), offset_(offset), buffer_bytes_(buffer_bytes), thread_([this] { produce(); }) {}
  ~Prefetch() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;

  std::size_t next(std::span<std::uint8_t> out) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !queue_.empty() || error_ || done_; });
    if (error_) std::rethrow_exception(error_);
    if (queue_.empty()) return 0;
    const snap::Bytes b = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    changed_.notify_all();
    if (b.size() > out.size()) throw std::logic_error("sftp push: prefetch buffer larger than the write");
    std::memcpy(out.data(), b.data(), b.size());
    return b.size();
  }

 private:
  void produce() {
    try {
      for (;;) {
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [this] { return queue_.size() < depth || stop_; });
          if (stop_) return;
        }
        snap::Bytes b(buffer_bytes_);
        b.resize(source_.read_at(offset_, b));
        offset_ += b.size();
        const std::lock_guard lock(mutex_);
        if (b.empty()) {
          done_ = true;
          changed_.notify_all();
          return;
        }
        queue_.push_back(std::move(b));
        changed_.notify_all();
      }
    } catch (...) {
      const std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
    }
  }

  snap::PackSource& source_;
  std::uint64_t offset_;  // producer thread only
  std::size_t buffer_bytes_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<snap::Bytes> queue_;  // guarded by mutex_
  bool stop_ = false;              // guarded by mutex_
  bool done_ = false;              // guarded by mutex_
  std::exception_ptr error_;       // guarded by mutex_
  std::thread thread_;             // last: starts after the members above exist
};

// Which chunks the backup lacks. We LIST each ROOT/chunks/ab/ directory the
// version touches instead of stat-ing every chunk: the backup needs nothing
// but sftp-server (no vmrep daemon, no peer message), and one readdir round
// trip returns ~100 names, so a version costs at most 256 directory listings
// (a few hundred round trips) where per-chunk stat would cost one round trip
// per chunk (16,000 for 128 MiB at 8 KiB). Names that are not 64-hex chunk
// ids (temps left by a killed transfer) are ignored, so they count as missing.
void plan_missing(Session& session, const std::string& root, snap::Store& store, Plan& plan) {
  for (const auto& [shard, ids] : plan.by_shard) {
    const std::string dir = root + "/chunks/" + shard;
    const auto names = session.list_dir(dir);
    std::set<std::string> present;
    if (names) {
      for (const auto& name : *names) {
        if (snap::ChunkId::from_hex(name)) present.insert(name);
      }
    } else {
      session.make_dir(dir);
    }
    for (const auto& id : ids) {
      if (present.contains(id.hex())) continue;
      plan.missing.push_back(id);
      const auto bytes = store.chunks().stored_bytes(id);
      if (!bytes) throw snap::ChunkMissing(id, "sftp push: chunk " + id.hex() + " is not in the local store");
      plan.chunk_bytes_total += *bytes;
    }
  }
}

}  // namespace

Pusher::Pusher(snapshots::Store& store, Endpoint endpoint, PushOptions options)
    : store_(store), endpoint_(std::move(endpoint)), options_(std::move(options)) {
  if (options_.remote_root.empty()) throw std::invalid_argument("sftp push: remote_root is empty");
  while (options_.remote_root.size() > 1 && options_.remote_root.back() == '/') options_.remote_root.pop_back();
  options_.parallel_sessions = std::clamp(options_.parallel_sessions, 1u, parallel_sessions_max);
}

PushStats Pusher::push(std::string_view service, snapshots::Version v) {
  const snap::Pin pin = store_.pin(service, v);
  // Send exactly the bytes we verified: read the manifest file once, check it.
  const auto manifest_file = store_.manifest_path(service, v);
  const auto text = snap::detail::read_file(manifest_file, snap::manifest_bytes_max);
  if (!text) throw snap::SnapshotError("sftp push: no manifest " + manifest_file.string());
  const snap::Manifest m = snap::parse_manifest(
      std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), manifest_file.string(), store_.key());
  if (m.service != service || m.version != v) {
    throw snap::SnapshotError("sftp push: " + manifest_file.string() + " is not version " + snap::to_string(v));
  }

  PushStats stats;
  stats.plain_bytes = m.total_bytes();
  stats.manifest_bytes = text->size();
  Plan plan;
  std::set<snap::ChunkId> seen;
  for (const auto& file : m.files) {
    for (const auto& c : file.chunks) {
      if (seen.insert(c.id).second) plan.by_shard[c.id.hex().substr(0, 2)].push_back(c.id);
    }
  }
  stats.chunks_referenced = seen.size();

  const std::string& root = options_.remote_root;
  const std::string service_dir = root + "/services/" + std::string(service);
  const std::string final_manifest = service_dir + "/" + snap::to_string(v) + ".manifest";
  const std::string incoming_dir = root + "/incoming/" + std::string(service);
  const std::string incoming_manifest = incoming_dir + "/" + snap::to_string(v) + ".manifest";
  Session first(endpoint_);
  // Published, or delivered by a pack push and waiting for accept_incoming().
  if (first.exists(final_manifest) || first.exists(incoming_manifest)) {
    stats.already_there = true;
    stats.chunks_present = stats.chunks_referenced;
    stats.manifest_bytes = 0;
    return stats;
  }
  for (const auto& dir : {root, root + "/chunks", root + "/services", service_dir}) first.make_dir(dir);
  plan_missing(first, root, store_, plan);
  stats.chunks_present = stats.chunks_referenced - plan.missing.size();
  if (plan.missing.size() > options_.pack_threshold_chunks) {
    if (!push_pack(first, service, v, plan.missing, *text, stats)) stats.already_there = true;
    return stats;
  }

  // Upload: this thread with `first`, plus helpers with their own sessions.
  Transfer transfer(store_, options_, plan, stats.manifest_bytes);
  const auto helpers = static_cast<unsigned>(
      std::min<std::size_t>(options_.parallel_sessions - 1, plan.missing.size() / 128));
  std::vector<std::thread> threads;
  threads.reserve(helpers);
  for (unsigned w = 1; w <= helpers; ++w) {
    threads.emplace_back([this, &transfer, w] {
      transfer.guarded([&] {
        Session session(endpoint_);
        transfer.run(session, w);
      });
    });
  }
  transfer.guarded([&] { transfer.run(first, 0); });
  for (auto& t : threads) t.join();
  transfer.rethrow_first();
  stats.chunks_sent = plan.missing.size();
  stats.chunk_bytes_sent = transfer.chunk_bytes_sent();

  // Last: the manifest, so the version appears only with all its chunks.
  const std::string temp = service_dir + "/" + std::string(snap::detail::temp_prefix) + snap::to_string(v) +
                           ".manifest-" + transfer.token();
  first.write_file(temp, *text, options_.fsync_manifest);
  if (!first.rename(temp, final_manifest)) {
    first.remove(temp);  // another pusher published it meanwhile (versions are immutable)
    stats.already_there = true;
  }
  transfer.report(stats.manifest_bytes, 0);
  return stats;
}

bool Pusher::push_pack(Session& session, std::string_view service, snapshots::Version v,
                       const std::vector<snapshots::ChunkId>& missing, snapshots::ByteView manifest_text,
                       PushStats& stats) {
  const std::string& root = options_.remote_root;
  const std::string dir = root + "/incoming/" + std::string(service);
  const std::string base = dir + "/" + snap::to_string(v);
  const std::string pack = base + ".pack";
  const std::string part = pack + ".part";
  session.make_dir(root + "/incoming");
  session.make_dir(dir);
  snap::PackSource source(store_.chunks(), missing);
  const snap::Bytes header = source.header();
  stats.packed = true;
  stats.pack_bytes = source.size();

  PushProgress progress;
  progress.chunks_total = missing.size();
  progress.bytes_total = source.size() + manifest_text.size();
  // A complete pack of another missing list (the backup changed meanwhile) is
  // replaced; one of this list is kept.
  if (session.exists(pack) && session.read_head(pack, header.size()) != header) session.remove(pack);
  if (!session.exists(pack)) {
    std::uint64_t offset = 0;
    if (const auto size = session.file_size(part);
        size && *size >= header.size() && *size <= source.size() && session.read_head(part, header.size()) == header) {
      offset = *size;
    }
    stats.pack_resumed_from = offset;
    progress.bytes_done = offset;
    if (options_.progress) options_.progress(progress);
    if (offset < source.size()) {
      Prefetch prefetch(source, offset, options_.pack_write_bytes);
      stats.chunk_bytes_sent = session.upload_stream(
          part, offset, offset == 0,
          [&prefetch](std::uint64_t, std::span<std::uint8_t> out) { return prefetch.next(out); },
          [&](std::size_t n) {
            progress.bytes_done += n;
            if (options_.progress) options_.progress(progress);
          },
          options_.pack_write_bytes);
    }
    if (!session.rename(part, pack)) throw std::runtime_error("sftp push: " + pack + " appeared during the upload");
  } else {
    stats.pack_resumed_from = source.size();
  }
  stats.chunks_sent = missing.size();
  progress.chunks_done = missing.size();
  progress.bytes_done = source.size();

  const std::string temp = dir + "/" + std::string(snap::detail::temp_prefix) + snap::to_string(v) + ".manifest-" +
                           temp_token();
  session.write_file(temp, manifest_text, options_.fsync_manifest);
  const bool ours = session.rename(temp, base + ".manifest");
  if (!ours) session.remove(temp);
  progress.bytes_done += manifest_text.size();
  if (options_.progress) options_.progress(progress);
  return ours;
}

}  // namespace vmrep::transport::sftp

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

struct ChunkPlan {
  std::map<std::string, std::vector<snap::ChunkId>> by_shard;  // "ab" -> distinct ids
  std::vector<snap::ChunkId> missing;                          // what the backup lacks
  std::uint64_t chunk_bytes_total = 0;                         // stored bytes of `missing`
};

// Shared by the transfer threads: a queue of missing chunks and the progress.
class Transfer {
 public:
  Transfer(snap::Store& store, const PushOptions& options, const ProgressFn& progress, const ChunkPlan& plan,
           std::uint64_t manifest_bytes)
      : store_(store), options_(options), progress_fn_(progress), plan_(plan), token_(temp_token()) {
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
    if (progress_fn_) progress_fn_(progress_);
  }

  std::uint64_t chunk_bytes_sent() const { return sent_bytes_; }
  const std::string& token() const { return token_; }

 private:
  snap::Store& store_;
  const PushOptions& options_;
  const ProgressFn& progress_fn_;
  const ChunkPlan& plan_;
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

  // Copies up to out.size() bytes; the rest of a buffer stays for the next call.
  std::size_t next(std::span<std::uint8_t> out) {
    if (front_used_ == front_.size()) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return !queue_.empty() || error_ || done_; });
      if (error_) std::rethrow_exception(error_);
      if (queue_.empty()) return 0;
      front_ = std::move(queue_.front());
      front_used_ = 0;
      queue_.pop_front();
      lock.unlock();
      changed_.notify_all();
    }
    const std::size_t n = std::min(out.size(), front_.size() - front_used_);
    std::memcpy(out.data(), front_.data() + front_used_, n);
    front_used_ += n;
    return n;
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
  snap::Bytes front_;              // consumer thread only: the buffer being copied out
  std::size_t front_used_ = 0;
  std::thread thread_;             // last: starts after the members above exist
};

// Which chunks the backup lacks. We LIST each ROOT/chunks/ab/ directory the
// version touches instead of stat-ing every chunk: the backup needs nothing
// but sftp-server (no vmrep daemon, no peer message), and one readdir round
// trip returns ~100 names, so a version costs at most 256 directory listings
// (a few hundred round trips) where per-chunk stat would cost one round trip
// per chunk (16,000 for 128 MiB at 8 KiB). Names that are not 64-hex chunk
// ids (temps left by a killed transfer) are ignored, so they count as missing.
void plan_missing(Session& session, const std::string& root, snap::Store& store, ChunkPlan& plan) {
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

// The chunks a manifest names, each once, in order of first use.
std::vector<snap::ChunkId> distinct_ids(const snap::Manifest& m) {
  std::vector<snap::ChunkId> out;
  std::set<snap::ChunkId> seen;
  for (const auto& f : m.files)
    for (const auto& c : f.chunks)
      if (seen.insert(c.id).second) out.push_back(c.id);
  return out;
}

// How many whole records of the pack of `ids` lie in its first `size` bytes,
// and where they end. Stops at a chunk that is not in the local store any more.
std::pair<std::size_t, std::uint64_t> whole_records(const snap::ChunkStore& chunks,
                                                    const std::vector<snap::ChunkId>& ids, std::uint64_t size) {
  std::uint64_t end = snap::pack_header_bytes;
  std::size_t n = 0;
  for (const auto& id : ids) {
    const auto bytes = chunks.stored_bytes(id);
    if (!bytes || end + snap::pack_record_header_bytes + *bytes > size) break;
    end += snap::pack_record_header_bytes + *bytes;
    ++n;
  }
  return {n, end};
}

}  // namespace


struct Pusher::Plan : ChunkPlan {};

// One try of one push: its inputs, and the stats it fills.
struct Pusher::Attempt {
  std::string service;
  snap::Version v;
  const snap::Manifest& manifest;
  const snap::Bytes& text;  // the manifest file, as verified
  const BackupKnowledge& known;
  ProgressFn progress;      // wraps the caller's: counts what the backup acknowledged
  PushStats stats;
  std::uint64_t acked_bytes = 0;
};

Pusher::Pusher(snapshots::Store& store, Endpoint endpoint, PushOptions options)
    : store_(store), endpoint_(std::move(endpoint)), options_(std::move(options)) {
  if (options_.remote_root.empty()) throw std::invalid_argument("sftp push: remote_root is empty");
  while (options_.remote_root.size() > 1 && options_.remote_root.back() == '/') options_.remote_root.pop_back();
  options_.parallel_sessions = std::clamp(options_.parallel_sessions, 1u, parallel_sessions_max);
}

PushStats Pusher::push(std::string_view service, snapshots::Version v, const BackupKnowledge& known,
                       const ProgressFn& progress) {
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
  const ProgressFn& report = progress ? progress : options_.progress;
  for (int tries = 1;; ++tries) {
    const bool kept = session_ != nullptr;
    Attempt attempt{std::string(service), v, m, *text, known, {}, {}, 0};
    attempt.progress = [&attempt, &report](const PushProgress& p) {
      attempt.acked_bytes = std::max(attempt.acked_bytes, p.bytes_done);
      if (report) report(p);
    };
    try {
      return push_once(attempt);
    } catch (...) {
      session_.reset();
      made_dirs_.clear();
      // A kept session that fails before anything was acknowledged most
      // likely died idle (the backup's sshd restarted): once more, anew.
      if (!kept || attempt.acked_bytes > 0 || tries > 1) throw;
    }
  }
}

Session& Pusher::session(PushStats& stats) {
  if (!session_) {
    session_ = std::make_unique<Session>(endpoint_);
    made_dirs_.clear();
    stats.connected = true;
  }
  return *session_;
}

void Pusher::ensure_dirs(Session& session, std::initializer_list<std::string> dirs) {
  for (const auto& d : dirs) {
    if (made_dirs_.contains(d)) continue;
    session.make_dir(d);
    made_dirs_.insert(d);
  }
}

// The chunks the backup lacks from what the caller knows it holds; false
// when that is nothing usable (unknown, or no held version is here any more).
bool Pusher::plan_from_knowledge(Attempt& a, const std::vector<snapshots::ChunkId>& distinct, Plan& plan) {
  std::set<snap::ChunkId> held;
  if (std::holds_alternative<BackupUnknown>(a.known)) return false;
  if (const auto* holds = std::get_if<BackupHolds>(&a.known)) {
    std::vector<snap::Version> newest_first = holds->versions;
    std::sort(newest_first.rbegin(), newest_first.rend());
    bool found = false;
    for (const snap::Version b : newest_first) {
      if (b == a.v) {
        a.stats.already_there = true;
        a.stats.chunks_present = a.stats.chunks_referenced;
        a.stats.manifest_bytes = 0;
        return true;
      }
      try {
        const snap::Manifest base = store_.load(a.service, b);
        for (const auto& f : base.files)
          for (const auto& c : f.chunks) held.insert(c.id);
        a.stats.base = b;
        found = true;
        break;
      } catch (const std::exception&) {
        continue;  // not (or no more) in the local store: try an older one
      }
    }
    if (!found) return false;
  }
  for (const auto& id : distinct)
    if (!held.contains(id)) plan.missing.push_back(id);
  return true;
}

PushStats Pusher::push_once(Attempt& a) {
  PushStats& stats = a.stats;
  stats.plain_bytes = a.manifest.total_bytes();
  stats.manifest_bytes = a.text.size();
  Plan plan;
  const std::vector<snap::ChunkId> distinct = distinct_ids(a.manifest);
  stats.chunks_referenced = distinct.size();
  Session& first = session(stats);
  const std::uint64_t rt0 = first.round_trips();
  const auto done = [&] {
    stats.round_trips = first.round_trips() - rt0;
    return stats;
  };

  if (plan_from_knowledge(a, distinct, plan)) {
    if (stats.already_there) return done();
    stats.chunks_present = stats.chunks_referenced - plan.missing.size();
    if (!push_pack(first, a, plan.missing, false)) stats.already_there = true;
    return done();
  }

  const std::string& root = options_.remote_root;
  const std::string service_dir = root + "/services/" + a.service;
  const std::string final_manifest = service_dir + "/" + snap::to_string(a.v) + ".manifest";
  const std::string incoming_manifest = root + "/incoming/" + a.service + "/" + snap::to_string(a.v) + ".manifest";
  // Published, or delivered by a pack push and waiting for accept_incoming().
  if (first.exists(final_manifest) || first.exists(incoming_manifest)) {
    stats.already_there = true;
    stats.chunks_present = stats.chunks_referenced;
    stats.manifest_bytes = 0;
    return done();
  }
  ensure_dirs(first, {root, root + "/chunks", root + "/services", service_dir});
  stats.listed = true;
  for (const auto& id : distinct) plan.by_shard[id.hex().substr(0, 2)].push_back(id);
  plan_missing(first, root, store_, plan);
  stats.chunks_present = stats.chunks_referenced - plan.missing.size();
  if (plan.missing.size() > options_.pack_threshold_chunks) {
    if (!push_pack(first, a, plan.missing, true)) stats.already_there = true;
    return done();
  }
  push_chunk_files(first, a, plan);
  return done();
}

void Pusher::push_chunk_files(Session& first, Attempt& a, const Plan& plan) {
  PushStats& stats = a.stats;
  // Upload: this thread with `first`, plus helpers with their own sessions.
  Transfer transfer(store_, options_, a.progress, plan, stats.manifest_bytes);
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
  const std::string service_dir = options_.remote_root + "/services/" + a.service;
  const std::string temp = service_dir + "/" + std::string(snap::detail::temp_prefix) + snap::to_string(a.v) +
                           ".manifest-" + transfer.token();
  first.write_file(temp, a.text, options_.fsync_manifest);
  if (!first.rename(temp, service_dir + "/" + snap::to_string(a.v) + ".manifest")) {
    first.remove(temp);  // another pusher published it meanwhile (versions are immutable)
    stats.already_there = true;
  }
  transfer.report(stats.manifest_bytes, 0);
}

bool Pusher::push_pack(Session& session, Attempt& a, const std::vector<snapshots::ChunkId>& missing, bool discover) {
  PushStats& stats = a.stats;
  const std::string& root = options_.remote_root;
  const std::string dir = root + "/incoming/" + a.service;
  const std::string base = dir + "/" + snap::to_string(a.v);
  const std::string pack = base + ".pack";
  const std::string part = pack + ".part";
  ensure_dirs(session, {root, root + "/incoming", dir});

  // What to send, and from where: an interrupted pack of ours is reused
  // (its whole records kept, the rest of `missing` appended behind them).
  std::optional<snap::PackSource> source;
  std::uint64_t offset = 0;
  bool new_head = false;
  if (partial_ && partial_->service == a.service) {
    const PartialPack old = std::move(*partial_);
    partial_.reset();
    const auto size = session.file_size(old.path);
    const auto [whole, end] = size ? whole_records(store_.chunks(), old.ids, *size) : std::pair<std::size_t, std::uint64_t>{0, 0};
    if (whole > 0) {
      std::vector<snap::ChunkId> list(old.ids.begin(), old.ids.begin() + static_cast<std::ptrdiff_t>(whole));
      const std::set<snap::ChunkId> kept(list.begin(), list.end());
      for (const auto& id : missing)
        if (!kept.contains(id)) list.push_back(id);
      new_head = list != old.ids;
      source.emplace(store_.chunks(), std::move(list));
      if (old.path != part && !session.rename(old.path, part)) {
        session.remove(part);  // a stale part of this version: ours has more
        if (!session.rename(old.path, part)) throw std::runtime_error("sftp push: cannot rename " + old.path + " to " + part);
      }
      offset = end;
      stats.pack_reused_records = whole;
    }
  }
  if (!source) source.emplace(store_.chunks(), missing);
  const snap::Bytes header = source->header();
  stats.packed = true;
  stats.pack_bytes = source->size();

  bool complete = false;
  if (discover && offset == 0) {
    // A complete pack of another list (the backup changed meanwhile) is
    // replaced; one of this list is kept; a part of this list is appended to.
    if (session.exists(pack) && session.read_head(pack, header.size()) != header) session.remove(pack);
    complete = session.exists(pack);
    if (const auto size = complete ? std::nullopt : session.file_size(part);
        size && *size >= header.size() && *size <= source->size() && session.read_head(part, header.size()) == header) {
      offset = *size;
    }
  }
  PushProgress progress;
  progress.chunks_total = source->ids().size();
  progress.bytes_total = source->size() + a.text.size();
  if (!complete) {
    stats.pack_resumed_from = offset;
    progress.bytes_done = offset;
    if (a.progress) a.progress(progress);
    partial_ = PartialPack{a.service, part, source->ids()};
    if (offset < source->size()) {
      Prefetch prefetch(*source, offset, options_.pack_write_bytes);
      Session::UploadAt at;
      at.offset = offset;
      at.cut_to_offset = true;  // a torn record past the whole ones goes
      if (new_head) at.head = header;
      stats.chunk_bytes_sent = session.upload_stream(
          part, at, [&prefetch](std::uint64_t, std::span<std::uint8_t> out) { return prefetch.next(out); },
          [&](std::size_t n) {
            progress.bytes_done += n;
            if (a.progress) a.progress(progress);
          },
          options_.pack_window_bytes);
    }
    if (!session.rename(part, pack)) {
      session.remove(pack);  // an earlier try's, whose manifest never came
      if (!session.rename(part, pack)) throw std::runtime_error("sftp push: " + pack + " appeared during the upload");
    }
    partial_.reset();
  } else {
    stats.pack_resumed_from = source->size();
  }
  stats.chunks_sent = source->ids().size();
  progress.chunks_done = progress.chunks_total;
  progress.bytes_done = source->size();

  // The incoming manifest needs no fsync: accept_incoming() publishes the
  // version durably itself, and an incoming manifest lost to a crash only
  // means the next push sends it again.
  const std::string temp = dir + "/" + std::string(snap::detail::temp_prefix) + snap::to_string(a.v) + ".manifest-" +
                           temp_token();
  session.write_file(temp, a.text, false);
  const bool ours = session.rename(temp, base + ".manifest");
  if (!ours) session.remove(temp);
  progress.bytes_done += a.text.size();
  if (a.progress) a.progress(progress);
  return ours;
}

}  // namespace vmrep::transport::sftp

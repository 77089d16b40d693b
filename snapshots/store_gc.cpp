// Store: retention, garbage collection and usage (the parts that delete or
// walk everything). Contracts in store.hpp.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"
#include "snapshots/store.hpp"

namespace vmrep::snapshots {
namespace fs = std::filesystem;
namespace {

std::string_view as_text(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Every run of exactly 64 lowercase hex digits in `text`: the chunk ids a
// manifest we cannot verify may reference (and its MAC, harmlessly).
void scan_ids(std::string_view text, std::vector<ChunkId>& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_hex_digit(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && is_hex_digit(text[j])) ++j;
    if (j - i == 64) out.push_back(*ChunkId::from_hex(text.substr(i, 64)));
    i = j;
  }
}

void append_ids(const Manifest& m, std::vector<ChunkId>& out) {
  for (const FileEntry& f : m.files) {
    for (const ChunkRef& c : f.chunks) out.push_back(c.id);
  }
}

void sort_unique(std::vector<ChunkId>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

// The newest `k` of ascending `all` that satisfy `pred`.
template <class Pred>
std::vector<Version> newest_k(const std::vector<Version>& all, std::uint32_t k, Pred pred) {
  std::vector<Version> out;
  for (auto it = all.rbegin(); it != all.rend() && out.size() < k; ++it) {
    if (pred(*it)) out.push_back(*it);
  }
  return out;
}

// A manifest name that is not a regular file (a symlink or fifo a peer left
// in services/): its refusal line; nullopt for a regular file or none. Such a
// "version" never loads (read_file refuses it), so its ids protect nothing.
std::optional<std::string> not_a_manifest(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return std::nullopt;
  return detail::refusal(path.string(), st.st_mode, false);
}

// lstat of `name` under `dir_fd`; false when it vanished.
bool lstat_at(int dir_fd, const std::string& name, struct stat& st) {
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// Removes `name` (the link or node itself: unlinkat never follows) and
// records why in `refused`.
void refuse_entry(int dir_fd, const std::string& name, const std::string& path, mode_t mode, bool want_directory,
                  std::vector<std::string>& refused) {
  refused.push_back(detail::refusal(path, mode, want_directory));
  ::unlinkat(dir_fd, name.c_str(), 0);
}

// One ROOT/incoming/SERVICE, open as `dir_fd`; returns how many files it deleted.
std::uint64_t sweep_incoming_service(int dir_fd, const std::string& dir, std::chrono::seconds grace,
                                     std::vector<std::string>& refused) {
  std::uint64_t deleted = 0;
  bool changed = false;
  const auto now = std::chrono::system_clock::now();
  for (const std::string& name : detail::list_dir(dir_fd, dir)) {
    struct stat st {};
    if (!lstat_at(dir_fd, name, st) || S_ISDIR(st.st_mode)) continue;
    if (!S_ISREG(st.st_mode)) {
      refuse_entry(dir_fd, name, dir + "/" + name, st.st_mode, false, refused);
      changed = true;
      continue;
    }
    if (now - std::chrono::system_clock::from_time_t(st.st_mtime) < grace) continue;
    bool abandoned = name.starts_with(detail::temp_prefix) || name.ends_with(".pack.part");
    if (name.ends_with(".pack")) {
      struct stat manifest {};
      abandoned = !lstat_at(dir_fd, name.substr(0, name.size() - 5) + ".manifest", manifest);
    }
    if (abandoned && ::unlinkat(dir_fd, name.c_str(), 0) == 0) {
      ++deleted;
      changed = true;
    }
  }
  if (changed) detail::fsync_fd(dir_fd, dir);
  return deleted;
}

// See Store::gc() in store.hpp for what counts as abandoned. Walked through
// directory fds opened O_NOFOLLOW, so a service directory swapped for a
// symlink mid-walk is never deleted in.
std::uint64_t sweep_incoming(const fs::path& incoming, std::chrono::seconds grace, std::vector<std::string>& refused) {
  std::optional<detail::Fd> in;
  try {
    in = detail::open_peer_dir(AT_FDCWD, incoming.string(), incoming.string());
  } catch (const SnapshotError& e) {
    refused.push_back(e.what());  // ROOT/incoming itself is not a directory: left alone
    return 0;
  }
  if (!in) return 0;
  std::vector<std::string> names;
  try {
    names = detail::list_dir(in->get(), incoming.string());
  } catch (const SnapshotError& e) {
    refused.push_back(e.what());  // GC of the rest is done: report, do not fail it
    return 0;
  }
  std::uint64_t deleted = 0;
  for (const std::string& name : names) {
    const std::string path = (incoming / name).string();
    struct stat st {};
    if (!lstat_at(in->get(), name, st) || S_ISREG(st.st_mode)) continue;  // a stray file: not ours to judge
    if (!S_ISDIR(st.st_mode)) {
      refuse_entry(in->get(), name, path, st.st_mode, true, refused);
      continue;
    }
    try {
      if (const auto dir = detail::open_peer_dir(in->get(), name, path)) {
        deleted += sweep_incoming_service(dir->get(), path, grace, refused);
      }
    } catch (const SnapshotError& e) {
      refused.push_back(e.what());  // swapped since the lstat, or unreadable
    }
  }
  return deleted;
}

}  // namespace

RetentionResult Store::apply_retention(std::string_view service, std::uint32_t keep_committed) {
  if (keep_committed == 0) throw SnapshotError("retention of " + std::string(service) + ": keep at least 1 version");
  const std::vector<Version> all = versions(service);
  const std::optional<Version> mark = committed_watermark(service);
  const auto committed = [&](Version v) { return mark && v <= *mark; };
  std::vector<Version> keep = newest_k(all, keep_committed, committed);
  const std::vector<Version> in_flight = newest_k(all, keep_committed, [&](Version v) { return !committed(v); });
  keep.insert(keep.end(), in_flight.begin(), in_flight.end());
  std::sort(keep.begin(), keep.end());

  RetentionResult result;
  const std::string name(service);
  pins_->locked([&] {
    for (const Version v : all) {
      if (std::binary_search(keep.begin(), keep.end(), v) || pins_->pinned_locked(name, v)) {
        result.kept.push_back(v);
        continue;
      }
      const fs::path path = manifest_path(service, v);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("cannot delete", path.string(), errno);
      result.removed.push_back(v);
    }
  });
  if (!result.removed.empty()) detail::fsync_dir(service_dir(service));
  return result;
}

GcStats Store::gc() {
  const auto exclusive = chunks_.lock_exclusive();
  GcStats stats;
  std::vector<ChunkId> referenced;
  const auto now = fs::file_time_type::clock::now();
  for (const std::string& service : services()) {
    for (const Version v : versions(service)) {
      const fs::path path = manifest_path(service, v);
      if (const auto refusal = not_a_manifest(path)) {
        stats.refused.push_back(*refusal);
        ::unlink(path.c_str());  // the link itself, never its target
        continue;
      }
      const auto text = detail::read_file(path, manifest_bytes_max);
      if (!text) continue;  // removed by retention meanwhile
      ++stats.manifests;
      try {
        append_ids(parse_manifest(as_text(*text), path.string(), key_), referenced);
      } catch (const ManifestError&) {
        stats.unverified_manifests.push_back(path.string());
        scan_ids(as_text(*text), referenced);
      }
    }
    // Temp manifests of publishers that died.
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(service_dir(service), ec)) {
      std::error_code fec;
      const auto mtime = e.last_write_time(fec);
      if (e.path().filename().string().starts_with(detail::temp_prefix) && !fec && now - mtime >= options_.gc_grace &&
          ::unlink(e.path().c_str()) == 0) {
        ++stats.sweep.temps_deleted;
      }
    }
  }
  sort_unique(referenced);
  const std::uint64_t manifest_temps = stats.sweep.temps_deleted;
  stats.sweep = chunks_.sweep(referenced, options_.gc_grace, exclusive);
  stats.sweep.temps_deleted += manifest_temps;
  stats.incoming_deleted = sweep_incoming(root_ / "incoming", options_.gc_grace, stats.refused);
  return stats;
}

StoreUsage Store::usage() const {
  StoreUsage usage;
  for (const std::string& service : services()) {
    ServiceUsage& su = usage.services[service];
    std::vector<ChunkId> ids;
    for (const Version v : versions(service)) {
      const fs::path path = manifest_path(service, v);
      if (not_a_manifest(path)) continue;  // not a version (gc() removes it)
      const auto text = detail::read_file(path, manifest_bytes_max);
      if (!text) continue;
      ++su.versions;
      su.stored_bytes += text->size();
      try {
        const Manifest m = parse_manifest(as_text(*text), path.string(), key_);
        append_ids(m, ids);
        su.newest_bytes = m.total_bytes();  // ascending order: the last one wins
      } catch (const ManifestError&) {
        scan_ids(as_text(*text), ids);
      }
    }
    sort_unique(ids);
    for (const ChunkId& id : ids) {
      if (const auto size = chunks_.stored_bytes(id)) {
        ++su.chunks;
        su.stored_bytes += *size;
      }
    }
  }
  std::error_code ec;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(chunks_.dir(), ec)) {
    std::error_code fec;
    if (!e.is_regular_file(fec) || !ChunkId::from_hex(e.path().filename().string())) continue;
    ++usage.chunk_files;
    usage.chunk_bytes += e.file_size(fec);
  }
  return usage;
}

}  // namespace vmrep::snapshots

// Store: retention, garbage collection and usage (the parts that delete or
// walk everything). Contracts in store.hpp.

#include <unistd.h>

#include <algorithm>
#include <cerrno>

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

// See Store::gc() in store.hpp for what counts as abandoned.
std::uint64_t sweep_incoming(const fs::path& incoming, std::chrono::seconds grace) {
  std::uint64_t deleted = 0;
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (const fs::directory_entry& service : fs::directory_iterator(incoming, ec)) {
    if (!service.is_directory(ec)) continue;
    bool changed = false;
    for (const fs::directory_entry& e : fs::directory_iterator(service.path(), ec)) {
      const std::string name = e.path().filename().string();
      std::error_code fec;
      const auto mtime = e.last_write_time(fec);
      if (fec || now - mtime < grace) continue;
      bool abandoned = name.starts_with(detail::temp_prefix) || name.ends_with(".pack.part");
      if (name.ends_with(".pack")) {
        const std::string manifest = name.substr(0, name.size() - 5) + ".manifest";
        abandoned = !fs::exists(service.path() / manifest, fec);
      }
      if (abandoned && ::unlink(e.path().c_str()) == 0) {
        ++deleted;
        changed = true;
      }
    }
    if (changed) detail::fsync_dir(service.path());
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
  stats.incoming_deleted = sweep_incoming(root_ / "incoming", options_.gc_grace);
  return stats;
}

StoreUsage Store::usage() const {
  StoreUsage usage;
  for (const std::string& service : services()) {
    ServiceUsage& su = usage.services[service];
    std::vector<ChunkId> ids;
    for (const Version v : versions(service)) {
      const fs::path path = manifest_path(service, v);
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

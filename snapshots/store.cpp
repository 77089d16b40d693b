#include "snapshots/store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view manifest_suffix = ".manifest";

std::string label(std::string_view service, Version v) { return std::string(service) + " " + to_string(v); }

std::string_view as_text(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

ByteView as_bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

// Creates `dir` (one level, mode 0700) and makes its name durable in the parent.
void ensure_dir(const fs::path& dir) {
  if (detail::make_dir(dir)) detail::fsync_dir(dir.parent_path());
}

}  // namespace

Store::Store(fs::path root, MacKey key, StoreOptions options)
    : root_(std::move(root)), key_(std::move(key)), options_(options), chunks_(root_ / "chunks", options.chunks) {
  const auto grace = options_.gc_grace;
  if (grace.count() < 0 || (grace.count() > 0 && grace < 2 * chunk_refresh_after)) {
    throw SnapshotError("store: gc_grace " + std::to_string(grace.count()) +
                        " s: must be 0 (no concurrent transfers) or at least " +
                        std::to_string(2 * chunk_refresh_after.count()) + " s");
  }
  detail::tighten_dir(root_);  // a store made before modes were enforced: 0755 let anyone read guest memory
  ensure_dir(root_ / "services");
}

fs::path Store::service_dir(std::string_view service) const {
  if (!valid_service_name(service)) {
    throw SnapshotError("'" + printable(service) + "' is not a service name ([A-Za-z0-9][A-Za-z0-9._-]{0,62})");
  }
  return root_ / "services" / std::string(service);
}

fs::path Store::manifest_path(std::string_view service, Version v) const {
  return service_dir(service) / (to_string(v) + std::string(manifest_suffix));
}

std::vector<std::string> Store::services() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root_ / "services", ec)) {
    const std::string name = e.path().filename().string();
    std::error_code tec;
    // A symlink is not a service: GC deletes in service directories.
    if (valid_service_name(name) && e.is_directory(tec) && !e.is_symlink(tec)) out.push_back(name);
  }
  if (ec) throw SnapshotError("cannot list " + printable((root_ / "services").string(), 300) + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Version> Store::versions(std::string_view service) const {
  std::vector<Version> out;
  const fs::path dir = service_dir(service);
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.ends_with(manifest_suffix)) continue;
    if (const auto v = parse_version(std::string_view(name).substr(0, name.size() - manifest_suffix.size()))) {
      out.push_back(*v);
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw SnapshotError("cannot list " + printable(dir.string(), 300) + ": " + ec.message());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Store::has_version(std::string_view service, Version v) const {
  struct stat st {};
  return ::stat(manifest_path(service, v).c_str(), &st) == 0;
}

std::optional<Version> Store::newest(std::string_view service) const {
  const auto all = versions(service);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<Version> Store::committed_watermark(std::string_view service) const {
  const fs::path path = service_dir(service) / "committed";
  const auto text = detail::read_file(path, 64);
  if (!text) return std::nullopt;
  std::string_view s = as_text(*text);
  if (s.ends_with('\n')) s.remove_suffix(1);
  const auto v = parse_version(s);
  if (!v)
    throw SnapshotError("commit watermark " + printable(path.string(), 300) + ": '" + printable(s) +
                        "' is not TERM.SEQ");
  return v;
}

std::optional<Version> Store::newest_committed(std::string_view service) const {
  const auto mark = committed_watermark(service);
  if (!mark) return std::nullopt;
  const auto all = versions(service);
  const auto it = std::upper_bound(all.begin(), all.end(), *mark);
  if (it == all.begin()) return std::nullopt;
  return *std::prev(it);
}

void Store::mark_committed(std::string_view service, Version v) {
  const fs::path dir = service_dir(service);
  const std::lock_guard guard(watermark_mutex_);
  if (const auto current = committed_watermark(service); current && *current >= v) return;
  ensure_dir(dir);
  detail::write_file_atomic(dir / "committed", as_bytes(to_string(v) + "\n"), detail::Replace::allowed);
  detail::fsync_dir(dir);
}

Manifest Store::load(std::string_view service, Version v) const {
  const fs::path path = manifest_path(service, v);
  const auto text = detail::read_file(path, manifest_bytes_max);
  if (!text) throw SnapshotError("version " + label(service, v) + ": no manifest at " + printable(path.string(), 300));
  Manifest m = parse_manifest(as_text(*text), path.string(), key_);
  if (m.service != service) {
    throw ManifestError(path.string(), "service",
                        "says '" + m.service + "' but the file belongs to " + std::string(service));
  }
  if (m.version != v) {
    throw ManifestError(path.string(), "version",
                        "says " + to_string(m.version) + " but the file name says " + to_string(v));
  }
  return m;
}

void Store::publish(const Manifest& m, ChunkCheck check) {
  const std::string text = serialize_manifest(m, key_);  // validates m
  const fs::path dir = service_dir(m.service);
  const fs::path path = manifest_path(m.service, m.version);
  const auto shared = chunks_.lock_shared();  // no GC sweep between the check and the rename
  std::vector<ChunkId> absent;
  std::set<ChunkId> rehashed;
  Bytes plain;
  for (const FileEntry& f : m.files) {
    for (const ChunkRef& c : f.chunks) {
      if (!chunks_.contains(c.id)) {
        absent.push_back(c.id);
      } else if (check == ChunkCheck::rehash && rehashed.insert(c.id).second) {
        chunks_.read(c.id, plain);
        if (plain.size() != c.size) {
          throw ChunkCorrupt(c.id, "cannot publish " + label(m.service, m.version) + ": chunk " + c.id.hex() +
                                       " holds " + std::to_string(plain.size()) + " bytes, the manifest says " +
                                       std::to_string(c.size));
        }
      }
    }
  }
  if (!absent.empty()) {
    throw ChunkMissing(absent.front(),
                       "cannot publish " + label(m.service, m.version) + ": chunk " + absent.front().hex() +
                           " is not in the store" +
                           (absent.size() > 1 ? " (and " + std::to_string(absent.size() - 1) + " more)" : ""));
  }
  chunks_.sync();
  ensure_dir(dir);
  if (!detail::write_file_atomic(path, as_bytes(text), detail::Replace::refused)) {
    const auto existing = detail::read_file(path, manifest_bytes_max);
    if (existing && as_text(*existing) == text) return;
    throw SnapshotError("cannot publish " + label(m.service, m.version) +
                        ": that version already exists with other content (versions are immutable)");
  }
  detail::fsync_dir(dir);
}

Manifest Store::publish_received(std::string_view text, const std::string& source, ChunkCheck check) {
  Manifest m = parse_manifest(text, source, key_);
  publish(m, check);
  return m;
}

VerifyStats Store::verify(std::string_view service, Version v) const {
  const Manifest m = load(service, v);
  VerifyStats stats;
  Bytes plain;
  for (const FileEntry& f : m.files) {
    for (const ChunkRef& c : f.chunks) {
      chunks_.read(c.id, plain);
      if (plain.size() != c.size) {
        throw ChunkCorrupt(c.id, "chunk " + c.id.hex() + ": " + std::to_string(plain.size()) + " bytes, manifest " +
                                     label(service, v) + " says " + std::to_string(c.size));
      }
      ++stats.chunks;
      stats.bytes += plain.size();
    }
  }
  return stats;
}

Pin Store::pin(std::string_view service, Version v) {
  (void)service_dir(service);  // validates the name
  return Pin(pins_, std::string(service), v);
}

}  // namespace vmrep::snapshots

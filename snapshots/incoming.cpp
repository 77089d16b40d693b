#include "snapshots/incoming.hpp"

#include <algorithm>
#include <exception>
#include <set>
#include <thread>
#include <vector>
#include <system_error>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"
#include "snapshots/pack.hpp"

namespace vmrep::snapshots {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view manifest_suffix = ".manifest";

// Reads and re-hashes every chunk of `ids`, on up to 4 threads: after a first
// push almost every chunk of the next version is already there and is
// re-hashed here (11,000 for a 90 MB image), which one thread did in about
// as long as the whole transfer. Throws the problem of the first bad id in
// `ids` order (ChunkMissing / ChunkCorrupt name it), whichever thread saw it.
void rehash_all(const ChunkStore& chunks, const std::vector<ChunkId>& ids) {
  const std::size_t threads =
      std::min<std::size_t>({std::max(1u, std::thread::hardware_concurrency()), 4, (ids.size() + 255) / 256});
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::size_t> error_at(threads, ids.size());
  const auto work = [&](std::size_t t) {
    Bytes plain;
    for (std::size_t i = t; i < ids.size() && i < error_at[t]; i += threads) {
      try {
        chunks.read(ids[i], plain);
      } catch (...) {
        errors[t] = std::current_exception();
        error_at[t] = i;
      }
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work, t);
  if (threads > 0) work(0);
  for (auto& h : helpers) h.join();
  const auto first = std::min_element(error_at.begin(), error_at.end());
  if (first != error_at.end() && *first < ids.size()) std::rethrow_exception(errors[first - error_at.begin()]);
}

// The manifest first: without it the rest is an unfinished push.
void remove_incoming(const fs::path& dir, Version v) {
  std::error_code ec;
  for (const char* suffix : {".manifest", ".pack", ".pack.part"}) fs::remove(dir / (to_string(v) + suffix), ec);
}

AcceptedVersion accept_one(Store& store, const std::string& service, Version v, const fs::path& dir) {
  AcceptedVersion out{service, v, 0, 0};
  const fs::path manifest_file = dir / (to_string(v) + std::string(manifest_suffix));
  const fs::path pack_file = dir / (to_string(v) + ".pack");
  const auto text = detail::read_file(manifest_file, manifest_bytes_max);
  if (!text) throw SnapshotError("incoming " + manifest_file.string() + ": vanished");
  const std::string_view view(reinterpret_cast<const char*>(text->data()), text->size());
  const Manifest m = parse_manifest(view, manifest_file.string(), store.key());
  if (m.service != service || m.version != v) {
    throw SnapshotError("incoming " + manifest_file.string() + ": is not version " + to_string(v) + " of " + service);
  }
  std::set<ChunkId> verified;
  std::error_code ec;
  if (fs::exists(pack_file, ec)) {
    const UnpackStats u = unpack_into(store.chunks(), pack_file);
    if (!u.complete) {
      throw SnapshotError("incoming " + pack_file.string() + ": truncated after " + std::to_string(u.records) + " of " +
                          std::to_string(u.records_declared) + " records");
    }
    verified.insert(u.ids.begin(), u.ids.end());
    out.chunks_unpacked = u.records;
  }
  std::vector<ChunkId> others;
  for (const auto& f : m.files) {
    for (const auto& c : f.chunks) {
      if (verified.insert(c.id).second) others.push_back(c.id);
    }
  }
  rehash_all(store.chunks(), others);
  out.chunks_rehashed = others.size();
  store.publish_received(view, manifest_file.string(), Store::ChunkCheck::presence);
  remove_incoming(dir, v);
  return out;
}

}  // namespace

AcceptStats accept_incoming(Store& store) {
  AcceptStats stats;
  const fs::path incoming = store.root() / "incoming";
  std::error_code ec;
  if (!fs::is_directory(incoming, ec)) return stats;
  std::set<fs::path> service_dirs;  // sorted: deterministic order
  for (const auto& e : fs::directory_iterator(incoming, ec)) {
    if (e.is_directory(ec)) service_dirs.insert(e.path());
  }
  for (const auto& dir : service_dirs) {
    const std::string service = dir.filename().string();
    std::set<Version> versions;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() <= manifest_suffix.size() || !name.ends_with(manifest_suffix)) continue;
      if (const auto v = parse_version(std::string_view(name).substr(0, name.size() - manifest_suffix.size()))) {
        versions.insert(*v);
      }
    }
    for (const Version v : versions) {
      try {
        stats.published.push_back(accept_one(store, service, v, dir));
      } catch (const std::exception& e) {
        stats.errors.emplace_back(e.what());
        // Dropped, so the next push sends it again (a pusher treats an
        // incoming manifest as delivered); the error is the record of it.
        remove_incoming(dir, v);
      }
    }
  }
  return stats;
}

}  // namespace vmrep::snapshots

#include "snapshots/incoming.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"
#include "snapshots/pack.hpp"

namespace vmrep::snapshots {
namespace {

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

// The manifest first: without it the rest is an unfinished push. unlinkat
// never follows: a symlink there is removed, not what it points to.
void remove_incoming(int dir_fd, Version v) {
  for (const char* suffix : {".manifest", ".pack", ".pack.part"}) {
    ::unlinkat(dir_fd, (to_string(v) + suffix).c_str(), 0);
  }
}

// A manifest that does not parse or verify, told without any of its content:
// the file came from a peer and the error goes back to it (ack, event), and
// a parse error may quote what it read.
[[noreturn]] void refuse_manifest(const std::string& path, const ManifestError& e) {
  if (e.field() == "mac") {
    throw SnapshotError("incoming " + printable(path, 300) +
                        ": does not verify with the cluster key (tampered, corrupt, or made with another key)");
  }
  throw SnapshotError("incoming " + printable(path, 300) +
                      ": not a valid version manifest (what is wrong is not quoted: a peer's file)");
}

// Takes version `v` of `service` from its incoming directory, open as `dir_fd`
// (`dir` names it). Every file is opened without following links.
AcceptedVersion accept_one(Store& store, const std::string& service, Version v, int dir_fd, const std::string& dir,
                           std::set<ChunkId>* known_good) {
  AcceptedVersion out{service, v, 0, 0};
  const std::string base = to_string(v);
  const std::string manifest_file = dir + "/" + base + std::string(manifest_suffix);
  const std::string pack_file = dir + "/" + base + ".pack";
  const std::optional<detail::Fd> manifest_fd = detail::open_peer_file(dir_fd, base + ".manifest", manifest_file);
  if (!manifest_fd) throw SnapshotError("incoming " + printable(manifest_file, 300) + ": vanished");
  const Bytes text = detail::read_fd(manifest_fd->get(), manifest_file, manifest_bytes_max);
  const std::string_view view(reinterpret_cast<const char*>(text.data()), text.size());
  Manifest m;
  try {
    m = parse_manifest(view, manifest_file, store.key());
  } catch (const ManifestError& e) {
    refuse_manifest(manifest_file, e);
  }
  if (m.service != service || m.version != v) {
    throw SnapshotError("incoming " + printable(manifest_file, 300) + ": is not version " + base + " of " +
                        printable(service));
  }
  std::set<ChunkId> verified;
  if (const std::optional<detail::Fd> pack_fd = detail::open_peer_file(dir_fd, base + ".pack", pack_file)) {
    const UnpackStats u = unpack_fd_into(store.chunks(), pack_fd->get(), pack_file);
    if (!u.complete) {
      throw SnapshotError("incoming " + printable(pack_file, 300) + ": truncated after " + std::to_string(u.records) +
                          " of " + std::to_string(u.records_declared) + " records");
    }
    verified.insert(u.ids.begin(), u.ids.end());
    out.chunks_unpacked = u.records;
  }
  std::vector<ChunkId> others;
  for (const auto& f : m.files) {
    for (const auto& c : f.chunks) {
      if (verified.insert(c.id).second && !(known_good && known_good->contains(c.id))) others.push_back(c.id);
    }
  }
  rehash_all(store.chunks(), others);
  out.chunks_rehashed = others.size();
  store.publish_received(view, manifest_file, Store::ChunkCheck::presence);
  remove_incoming(dir_fd, v);
  if (known_good) known_good->insert(verified.begin(), verified.end());
  return out;
}

// Every complete version in one service's incoming directory.
void accept_service(Store& store, const std::string& service, int dir_fd, const std::string& dir,
                    std::set<ChunkId>* verified, AcceptStats& stats) {
  std::set<Version> versions;
  for (const std::string& name : detail::list_dir(dir_fd, dir)) {
    if (name.size() <= manifest_suffix.size() || !name.ends_with(manifest_suffix)) continue;
    if (const auto v = parse_version(std::string_view(name).substr(0, name.size() - manifest_suffix.size()))) {
      versions.insert(*v);
    }
  }
  for (const Version v : versions) {
    try {
      stats.published.push_back(accept_one(store, service, v, dir_fd, dir, verified));
    } catch (const std::exception& e) {
      stats.errors.emplace_back(e.what());
      // Dropped, so the next push sends it again (a pusher treats an
      // incoming manifest as delivered); the error is the record of it.
      remove_incoming(dir_fd, v);
    }
  }
}

}  // namespace

AcceptStats accept_incoming(Store& store, std::set<ChunkId>* verified) {
  AcceptStats stats;
  const std::string incoming = (store.root() / "incoming").string();
  try {
    const std::optional<detail::Fd> in = detail::open_peer_dir(AT_FDCWD, incoming, incoming);
    if (!in) return stats;
    for (const std::string& name : detail::list_dir(in->get(), incoming)) {  // sorted: deterministic order
      const std::string dir = incoming + "/" + name;
      struct stat st {};
      if (::fstatat(in->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISREG(st.st_mode)) continue;
      if (!S_ISDIR(st.st_mode)) {
        stats.errors.push_back(detail::refusal(dir, st.st_mode, true));
        ::unlinkat(in->get(), name.c_str(), 0);  // the link or node itself, never a target
        continue;
      }
      try {
        if (const auto dir_fd = detail::open_peer_dir(in->get(), name, dir)) {
          accept_service(store, name, dir_fd->get(), dir, verified, stats);
        }
      } catch (const std::exception& e) {
        stats.errors.emplace_back(e.what());  // swapped for something else since the lstat, or unlistable
      }
    }
  } catch (const SnapshotError& e) {
    stats.errors.emplace_back(e.what());  // ROOT/incoming itself: not a directory, or unlistable
  }
  return stats;
}

}  // namespace vmrep::snapshots

#include "snapshots/standby.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw SnapshotError("standby: " + what + " " + path.string() + ": " + std::strerror(err));
}

void write_at(int fd, const fs::path& path, const Bytes& data, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path, errno);
    done += static_cast<std::size_t>(n);
  }
}

const FileEntry* find_file(const Manifest* m, const std::string& name) {
  if (!m) return nullptr;
  for (const auto& f : m->files)
    if (f.name == name) return &f;
  return nullptr;
}

void update_file(const ChunkStore& chunks, const FileEntry& f, const FileEntry* old, const fs::path& path,
                 StandbyStats& stats) {
  if (old && !fs::exists(path)) old = nullptr;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (old ? 0 : O_TRUNC), detail::file_mode);
  if (fd < 0) fail("cannot open", path, errno);
  try {
    Bytes plain;
    std::uint64_t offset = 0, old_offset = 0;
    std::size_t oi = 0;
    for (const ChunkRef& c : f.chunks) {
      // Both chunk lists are in file order: walk the old one up to `offset`.
      while (old && oi < old->chunks.size() && old_offset < offset) old_offset += old->chunks[oi++].size;
      if (old && oi < old->chunks.size() && old_offset == offset && old->chunks[oi].id == c.id &&
          old->chunks[oi].size == c.size) {
        ++stats.chunks_kept;
      } else {
        chunks.read(c.id, plain);
        if (plain.size() != c.size)
          throw ChunkCorrupt(c.id, "standby: chunk " + c.id.hex() + " has " + std::to_string(plain.size()) +
                                       " bytes, the manifest says " + std::to_string(c.size));
        write_at(fd, path, plain, offset);
        ++stats.chunks_written;
        stats.bytes_written += c.size;
      }
      offset += c.size;
    }
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) fail("cannot set the size of", path, errno);
    ::close(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ++stats.files;
}

}  // namespace

StandbyStats update_standby(const ChunkStore& chunks, const Manifest& m, const Manifest* previous, const fs::path& dir) {
  if (const auto problem = check_manifest(m))
    throw SnapshotError("standby of " + m.service + " " + to_string(m.version) + ": field " + problem->field + ": " +
                        problem->problem);
  detail::make_dirs(dir);  // 0700: the files are guest memory and disks
  StandbyStats stats;
  std::set<std::string> names;
  for (const FileEntry& f : m.files) {
    names.insert(f.name);
    update_file(chunks, f, find_file(previous, f.name), dir / f.name, stats);
  }
  for (const auto& entry : fs::directory_iterator(dir))
    if (!names.count(entry.path().filename().string())) fs::remove_all(entry.path());
  return stats;
}

}  // namespace vmrep::snapshots

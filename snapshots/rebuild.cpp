#include "snapshots/rebuild.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "snapshots/errors.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t write_buffer_bytes = std::size_t{1} << 20;

bool all_zero(ByteView data) {
  return !data.empty() && data[0] == 0 && std::memcmp(data.data(), data.data() + 1, data.size() - 1) == 0;
}

// Appends chunks to one file through a bounded buffer; zero chunks become holes.
class SparseWriter {
 public:
  SparseWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) { buffer_.reserve(write_buffer_bytes); }

  void append(ByteView data, RebuildStats& stats) {
    if (all_zero(data)) {
      flush();
      buffer_start_ += data.size();
      stats.hole_bytes += data.size();
      return;
    }
    if (buffer_.size() + data.size() > write_buffer_bytes) flush();
    buffer_.insert(buffer_.end(), data.begin(), data.end());
  }

  // Flushes, sets the length (trailing holes), fsyncs when durable.
  void finish(bool durable) {
    flush();
    if (::ftruncate(fd_, static_cast<off_t>(buffer_start_)) != 0) throw_errno("cannot set the size of", path_, errno);
    if (durable) detail::fsync_fd(fd_, path_);
  }

 private:
  void flush() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t n =
          ::pwrite(fd_, buffer_.data() + done, buffer_.size() - done, static_cast<off_t>(buffer_start_ + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot write", path_, errno);
      }
      done += static_cast<std::size_t>(n);
    }
    buffer_start_ += buffer_.size();
    buffer_.clear();
  }

  int fd_;
  std::string path_;
  Bytes buffer_;
  std::uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
};

std::string context(const Manifest& m, const FileEntry& f) {
  return " (rebuilding file '" + f.name + "' of " + m.service + " " + to_string(m.version) + ")";
}

void rebuild_file(const ChunkStore& chunks, const Manifest& m, const FileEntry& f, const fs::path& target, Bytes& plain,
                  RebuildStats& stats, bool durable) {
  fs::path temp;
  const detail::Fd fd = detail::create_temp_beside(target, temp);
  try {
    SparseWriter out(fd.get(), temp.string());
    std::uint64_t total = 0;
    for (const ChunkRef& c : f.chunks) {
      try {
        chunks.read(c.id, plain);
      } catch (const ChunkCorrupt& e) {
        throw ChunkCorrupt(c.id, e.what() + context(m, f));
      } catch (const ChunkMissing& e) {
        throw ChunkMissing(c.id, e.what() + context(m, f));
      }
      if (plain.size() != c.size) {
        throw ChunkCorrupt(c.id, "chunk " + c.id.hex() + ": " + std::to_string(plain.size()) +
                                     " bytes, the manifest says " + std::to_string(c.size) + context(m, f));
      }
      out.append(plain, stats);
      total += plain.size();
      ++stats.chunks;
    }
    if (total != f.size()) {
      throw SnapshotError("wrote " + std::to_string(total) + " bytes, the manifest says " + std::to_string(f.size()) +
                          context(m, f));
    }
    out.finish(durable);
    if (::rename(temp.c_str(), target.c_str()) != 0) throw_errno("cannot rename into place", target.string(), errno);
    stats.bytes += total;
    ++stats.files;
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

}  // namespace

RebuildStats rebuild(const ChunkStore& chunks, const Manifest& m, const fs::path& target_dir, bool durable) {
  if (const auto problem = check_manifest(m)) {
    throw SnapshotError("rebuild of " + m.service + " " + to_string(m.version) + ": field " + problem->field + ": " +
                        problem->problem);
  }
  detail::make_dirs(target_dir);  // 0700: the files are guest memory and disks
  RebuildStats stats;
  Bytes plain;  // one chunk at a time; reused
  for (const FileEntry& f : m.files) rebuild_file(chunks, m, f, target_dir / f.name, plain, stats, durable);
  if (durable) detail::fsync_dir(target_dir);
  return stats;
}

RebuildStats rebuild_version(Store& store, std::string_view service, Version v, const fs::path& target_dir,
                             bool durable) {
  const Pin pin = store.pin(service, v);
  if (!store.has_version(service, v)) {
    throw SnapshotError("rebuild: version " + std::string(service) + " " + to_string(v) + " does not exist");
  }
  return rebuild(store.chunks(), store.load(service, v), target_dir, durable);
}

}  // namespace vmrep::snapshots

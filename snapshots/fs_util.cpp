#include "snapshots/fs_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "snapshots/errors.hpp"
#include "snapshots/owner.hpp"

namespace vmrep::snapshots::detail {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

void write_all(int fd, ByteView data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path, errno);
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

void fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw_errno("cannot fsync", path, errno);
}

void fsync_dir(const std::filesystem::path& dir) {
  const Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open directory", dir.string(), errno);
  fsync_fd(fd.get(), dir.string());
}

void fsync_many(std::span<const int> fds, std::span<const std::string> paths, bool data_only) {
  constexpr std::size_t threads_max = 8;
  const std::size_t n = fds.size();
  std::vector<int> errors(n, 0);
  const auto sync_stride = [&](std::size_t first, std::size_t stride) {
    for (std::size_t i = first; i < n; i += stride) {
      if ((data_only ? ::fdatasync(fds[i]) : ::fsync(fds[i])) != 0) errors[i] = errno;
    }
  };
  const std::size_t threads = std::min(n / 4, threads_max);
  if (threads <= 1) {
    sync_stride(0, 1);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(sync_stride, t, threads);
    for (std::thread& t : pool) t.join();
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (errors[i] != 0) throw_errno("cannot fsync", paths[i], errors[i]);
  }
}

void fsync_dirs(const std::vector<std::filesystem::path>& dirs) {
  std::vector<Fd> open_dirs;
  std::vector<int> fds;
  std::vector<std::string> names;
  for (const auto& dir : dirs) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open directory", dir.string(), errno);
    fds.push_back(fd.get());
    names.push_back(dir.string());
    open_dirs.push_back(std::move(fd));
  }
  fsync_many(fds, names, false);
}

bool make_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), dir_mode) == 0) {
    give_to_owner(dir);
    return true;
  }
  if (errno != EEXIST) throw_errno("cannot create directory", dir.string(), errno);
  return false;
}

bool make_dirs(const std::filesystem::path& dir) {
  struct stat st {};
  if (dir.empty() || ::stat(dir.c_str(), &st) == 0) return false;
  const std::filesystem::path parent = dir.parent_path();
  const bool created_parent = parent != dir && make_dirs(parent);
  return make_dir(dir) || created_parent;
}

void tighten_dir(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw_errno("cannot stat", dir.string(), errno);
  if ((st.st_mode & 077) == 0 || ::chmod(dir.c_str(), dir_mode) == 0) return;
  // Not the owner (a reader sharing the root) or a read-only mount: the
  // owner's writer tightens it; this process cannot and need not.
  if (errno != EPERM && errno != EROFS) throw_errno("cannot chmod 700", dir.string(), errno);
}

const char* file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symlink";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  return "unknown type";
}

std::string refusal(const std::string& path, mode_t mode, bool want_directory) {
  return printable(path, 300) + (want_directory ? ": not a directory (" : ": not a regular file (") +
         file_type_name(mode) + "); refused";
}

namespace {

// Opens `name` under `dir_fd` without following it; see open_peer_file().
// `want_directory` selects the type required.
std::optional<Fd> open_nofollow(int dir_fd, const std::string& name, const std::string& path, bool want_directory) {
  const auto is_wanted = [&](mode_t m) { return want_directory ? S_ISDIR(m) : S_ISREG(m); };
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("cannot stat", path, errno);
  }
  if (!is_wanted(st.st_mode)) throw SnapshotError(refusal(path, st.st_mode, want_directory));
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (want_directory ? O_DIRECTORY : 0);
  Fd fd(::openat(dir_fd, name.c_str(), flags));
  if (!fd) {
    const int e = errno;
    if (e == ENOENT) return std::nullopt;
    // Swapped since the lstat: name what is there now.
    if ((e == ELOOP || e == ENOTDIR) && ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      throw SnapshotError(refusal(path, st.st_mode, want_directory));
    }
    throw_errno("cannot open", path, e);
  }
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat", path, errno);
  if (!is_wanted(st.st_mode)) throw SnapshotError(refusal(path, st.st_mode, want_directory));
  return fd;
}

}  // namespace

std::optional<Fd> open_peer_dir(int dir_fd, const std::string& name, const std::string& path) {
  return open_nofollow(dir_fd, name, path, true);
}

std::optional<Fd> open_peer_file(int dir_fd, const std::string& name, const std::string& path) {
  return open_nofollow(dir_fd, name, path, false);
}

std::vector<std::string> list_dir(int dir_fd, const std::string& path) {
  const int copy = ::dup(dir_fd);  // closedir() closes it; the caller keeps dir_fd
  if (copy < 0) throw_errno("cannot list", path, errno);
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    const int e = errno;
    ::close(copy);
    throw_errno("cannot list", path, e);
  }
  ::rewinddir(dir);  // the dup shares its offset with dir_fd
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int e = errno;
  ::closedir(dir);
  if (e != 0) throw_errno("cannot list", path, e);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<Bytes> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  const std::string name = path.string();
  std::optional<Fd> fd = open_nofollow(AT_FDCWD, name, name, false);
  if (!fd) return std::nullopt;
  return read_fd(fd->get(), name, max_bytes);
}

Bytes read_fd(int fd, const std::string& path, std::uint64_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("cannot stat", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw SnapshotError("file " + printable(path, 300) + " is " + std::to_string(st.st_size) +
                        " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  }
  Bytes data(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path, errno);
    }
    if (n == 0) break;  // shrank while we read: return what is there
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  return data;
}

Fd create_temp_beside(const std::filesystem::path& final_path, std::filesystem::path& temp_path) {
  static std::atomic<std::uint64_t> counter{0};
  for (int attempt = 0; attempt < 16; ++attempt) {
    temp_path = final_path.parent_path() / (std::string(temp_prefix) + final_path.filename().string() + "-" +
                                            std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
    Fd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file_mode));
    if (fd) {
      try {
        give_to_owner(temp_path, fd.get());
      } catch (...) {
        ::unlink(temp_path.c_str());
        throw;
      }
      return fd;
    }
    if (errno != EEXIST) throw_errno("cannot create", temp_path.string(), errno);
  }
  throw SnapshotError("cannot create a temp file beside " + printable(final_path.string(), 300));
}

bool write_file_atomic(const std::filesystem::path& path, ByteView data, Replace replace) {
  std::filesystem::path temp;
  {
    const Fd fd = create_temp_beside(path, temp);
    try {
      write_all(fd.get(), data, temp.string());
      fsync_fd(fd.get(), temp.string());
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
  }
  if (replace == Replace::allowed) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int e = errno;
      ::unlink(temp.c_str());
      throw_errno("cannot rename into place", path.string(), e);
    }
    return true;
  }
  // link() never replaces: it fails with EEXIST, atomically.
  const int rc = ::link(temp.c_str(), path.c_str());
  const int e = errno;
  ::unlink(temp.c_str());
  if (rc == 0) return true;
  if (e == EEXIST) return false;
  throw_errno("cannot link into place", path.string(), e);
}

}  // namespace vmrep::snapshots::detail

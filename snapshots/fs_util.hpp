#pragma once
// Internal to snapshots/: the few POSIX file operations the store is built
// on, each with the durability contract it needs. Errors are SnapshotError
// naming the path and errno. Thread-safe (no shared state but a counter).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snapshots/hash.hpp"

namespace vmrep::snapshots::detail {

// Temporary files start with this; anything so named is garbage once older
// than the GC grace period (a writer that died left it).
inline constexpr std::string_view temp_prefix = ".tmp-";

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

void write_all(int fd, ByteView data, const std::string& path);
void fsync_fd(int fd, const std::string& path);
// fsync of a directory, so renames and unlinks in it survive a power loss.
void fsync_dir(const std::filesystem::path& dir);

// fsync (fdatasync when `data_only`) of every fd, from up to 8 threads at
// once: fsyncs that wait together share one journal commit, so a batch costs
// about one commit, not one each (measured here: 256 new files in 35-70 ms
// against 1-2 s one after another). `paths[i]` names fds[i] in errors; the
// first failure is thrown after all have been tried.
void fsync_many(std::span<const int> fds, std::span<const std::string> paths, bool data_only);

// fsync_many() over directories (opened and closed here).
void fsync_dirs(const std::vector<std::filesystem::path>& dirs);

// The whole file, or nullopt when it does not exist. A file larger than
// max_bytes is a SnapshotError (never read into memory).
std::optional<Bytes> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// A new, empty file next to `final_path` with a unique temp name, opened for
// writing (O_EXCL). Returns the fd and sets `temp_path`.
Fd create_temp_beside(const std::filesystem::path& final_path, std::filesystem::path& temp_path);

enum class Replace { allowed, refused };

// Writes `data` to a temp file beside `path`, fsyncs it and renames it to
// `path`: a crash at any point leaves `path` absent or whole. The directory
// is NOT fsynced (callers batch that). With Replace::refused an existing
// `path` is left alone and the call returns false.
bool write_file_atomic(const std::filesystem::path& path, ByteView data, Replace replace);

}  // namespace vmrep::snapshots::detail

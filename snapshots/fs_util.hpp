#pragma once
// Internal to snapshots/: the few POSIX file operations the store is built
// on, each with the durability contract it needs. Errors are SnapshotError
// naming the path and errno. Thread-safe (no shared state but a counter).
//
// Modes: guest memory and disks must not be readable by other local users,
// so every directory made here is created dir_mode (0700) and every file
// file_mode (0600). The mode is passed to mkdir/open explicitly: a umask can
// only remove bits, so whatever the umask nothing is created looser.
//
// Peer-written files (ROOT/incoming, filled by a remote SFTP account that may
// not be root) are opened only through open_peer_dir()/open_peer_file(): never
// through a symlink, never a fifo, socket or device.

#include <sys/types.h>

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

inline constexpr mode_t dir_mode = 0700;
inline constexpr mode_t file_mode = 0600;

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

// Creates `dir` (one level) with dir_mode: true when created, false when it
// existed already. Not made durable (callers fsync the parent).
bool make_dir(const std::filesystem::path& dir);
// Creates `dir` and every missing parent, each with dir_mode; true when any
// was created. Not made durable.
bool make_dirs(const std::filesystem::path& dir);
// chmod `dir` to dir_mode when group or others have any access to it (left
// as is when this process may not: EPERM, EROFS).
void tighten_dir(const std::filesystem::path& dir);

// "symlink", "fifo", "socket", "character device", "block device",
// "directory", "regular file" or "unknown type": for one-line refusals.
const char* file_type_name(mode_t mode);
// "PATH: not a regular file (TYPE); refused" (or "not a directory").
std::string refusal(const std::string& path, mode_t mode, bool want_directory);

// The whole file, or nullopt when it does not exist. A file larger than
// max_bytes is a SnapshotError (never read into memory). The last component
// is never followed and must be a regular file (opened O_NOFOLLOW|O_NONBLOCK
// and checked with fstat, so a fifo does not block and a symlink is not read
// through): anything else is a SnapshotError naming the path and its type.
std::optional<Bytes> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);
// The rest of an open file, as read_file(); `path` names it in errors.
Bytes read_fd(int fd, const std::string& path, std::uint64_t max_bytes);

// `name` in the directory `dir_fd` (AT_FDCWD for a path), for a peer-written
// tree: nullopt when absent; a SnapshotError (refusal()) when it is not a
// real directory / a regular file. Checked with lstat before the open (a
// device is never opened) and with fstat after it (O_NOFOLLOW | O_NONBLOCK),
// so a swap between the two is caught and a fifo never blocks. (A hard link
// to a file the peer cannot read is left to fs.protected_hardlinks, on by
// default: a link count cannot tell, sftp-server's rename is link + unlink.)
// `path` names the entry in errors.
std::optional<Fd> open_peer_dir(int dir_fd, const std::string& name, const std::string& path);
std::optional<Fd> open_peer_file(int dir_fd, const std::string& name, const std::string& path);

// The names in an open directory (not "." and ".."), sorted.
std::vector<std::string> list_dir(int dir_fd, const std::string& path);

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

#include "transport/sftp/session.hpp"

#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace vmrep::transport::sftp {
namespace {

void init_libssh2_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (libssh2_init(0) != 0) throw std::runtime_error("sftp: libssh2_init failed");
  });
}

const char* sftp_status_name(unsigned long code) {
  switch (code) {
    case LIBSSH2_FX_EOF: return "end of file";
    case LIBSSH2_FX_NO_SUCH_FILE: return "no such file";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_FAILURE: return "failure";
    case LIBSSH2_FX_BAD_MESSAGE: return "bad message";
    case LIBSSH2_FX_NO_CONNECTION: return "no connection";
    case LIBSSH2_FX_CONNECTION_LOST: return "connection lost";
    case LIBSSH2_FX_OP_UNSUPPORTED: return "operation unsupported";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space on filesystem";
    default: return "sftp status";
  }
}

// The known_hosts key type bit for a libssh2 host key type.
int knownhost_key_type(int hostkey_type) {
  switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
}

struct KnownHostsDeleter {
  void operator()(LIBSSH2_KNOWNHOSTS* k) const { libssh2_knownhost_free(k); }
};

}  // namespace

std::string describe(const Endpoint& e) { return e.host + ":" + std::to_string(e.port); }

Session::Session(const Endpoint& endpoint) : endpoint_(endpoint) {
  init_libssh2_once();
  try {
    connect_socket();
    session_ = libssh2_session_init();
    if (session_ == nullptr) throw std::runtime_error("sftp " + describe(endpoint_) + ": libssh2_session_init failed");
    libssh2_session_set_blocking(session_, 1);
    libssh2_session_set_timeout(session_, static_cast<long>(endpoint_.timeout_ms));
    // Pin the host key algorithm to what known_hosts is expected to hold, and
    // prefer AES-CTR (AES-NI) with SHA-2 MACs: libssh2 1.10 has no GCM/chacha.
    libssh2_session_method_pref(session_, LIBSSH2_METHOD_HOSTKEY, "ssh-ed25519");
    libssh2_session_method_pref(session_, LIBSSH2_METHOD_CRYPT_CS, "aes128-ctr,aes256-ctr");
    libssh2_session_method_pref(session_, LIBSSH2_METHOD_CRYPT_SC, "aes128-ctr,aes256-ctr");
    if (libssh2_session_handshake(session_, socket_) != 0) fail("", "SSH handshake");
    check_host_key();
    authenticate();
    sftp_ = libssh2_sftp_init(session_);
    if (sftp_ == nullptr) fail("", "starting the sftp subsystem");
  } catch (...) {
    close();
    throw;
  }
}

Session::~Session() { close(); }

void Session::close() {
  if (sftp_ != nullptr) libssh2_sftp_shutdown(sftp_);
  sftp_ = nullptr;
  if (session_ != nullptr) {
    libssh2_session_disconnect(session_, "bye");
    libssh2_session_free(session_);
  }
  session_ = nullptr;
  if (socket_ >= 0) ::close(socket_);
  socket_ = -1;
}

void Session::connect_socket() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint_.port);
  if (const int rc = ::getaddrinfo(endpoint_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("sftp " + describe(endpoint_) + ": resolving host: " + ::gai_strerror(rc));
  }
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);
  int last_errno = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { last_errno = errno; continue; }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      socket_ = fd;
      return;
    }
    last_errno = errno;
    ::close(fd);
  }
  throw std::runtime_error("sftp " + describe(endpoint_) + ": connect: " + std::strerror(last_errno));
}

void Session::check_host_key() {
  const std::unique_ptr<LIBSSH2_KNOWNHOSTS, KnownHostsDeleter> known(libssh2_knownhost_init(session_));
  if (!known) fail("", "libssh2_knownhost_init");
  const std::string file = endpoint_.known_hosts.string();
  // A missing or unreadable file leaves the list empty: every host is NOTFOUND.
  (void)libssh2_knownhost_readfile(known.get(), file.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);

  std::size_t key_len = 0;
  int key_type = 0;
  const char* key = libssh2_session_hostkey(session_, &key_len, &key_type);
  if (key == nullptr) fail("", "reading the server's host key");
  libssh2_knownhost* entry = nullptr;
  const int check = libssh2_knownhost_checkp(
      known.get(), endpoint_.host.c_str(), endpoint_.port, key, key_len,
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_key_type(key_type), &entry);
  if (check == LIBSSH2_KNOWNHOST_CHECK_MATCH) return;

  const std::string where = describe(endpoint_);
  const std::string keyscan = "ssh-keyscan -p " + std::to_string(endpoint_.port) + " -t ed25519 " + endpoint_.host +
                              " >> " + file;
  if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
    const std::string name = endpoint_.port == 22 ? endpoint_.host : "[" + endpoint_.host + "]:" + std::to_string(endpoint_.port);
    throw std::runtime_error("host " + where + " presented a host key that does NOT match " + file +
                             " (refused: find out why it changed); if the change is expected: ssh-keygen -R '" + name +
                             "' -f " + file + " && " + keyscan);
  }
  if (check == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
    throw std::runtime_error("host " + where + " is not in " + file + "; trust it with: " + keyscan);
  }
  fail("", "checking the host key against " + file);
}

void Session::authenticate() {
  const std::string key = endpoint_.private_key.string();
  const int rc = libssh2_userauth_publickey_fromfile_ex(session_, endpoint_.user.c_str(),
                                                        static_cast<unsigned>(endpoint_.user.size()), nullptr,
                                                        key.c_str(), endpoint_.passphrase.c_str());
  if (rc != 0) fail(key, "public key authentication as '" + endpoint_.user + "'");
}

unsigned long Session::sftp_status() const { return sftp_ != nullptr ? libssh2_sftp_last_error(sftp_) : 0; }

void Session::fail(const std::string& path, const std::string& what) const {
  std::string message = "sftp " + describe(endpoint_) + (path.empty() ? "" : " " + path) + ": " + what;
  char* text = nullptr;
  int text_len = 0;
  const int code = session_ != nullptr ? libssh2_session_last_error(session_, &text, &text_len, 0) : 0;
  if (code == LIBSSH2_ERROR_SFTP_PROTOCOL) {
    const unsigned long status = sftp_status();
    message += ": " + std::string(sftp_status_name(status)) + " (sftp status " + std::to_string(status) + ")";
  } else if (code != 0 && text != nullptr) {
    message += ": " + std::string(text, static_cast<std::size_t>(text_len)) + " (libssh2 " + std::to_string(code) + ")";
  }
  throw std::runtime_error(message);
}

bool Session::make_dir(const std::string& path) {
  ++round_trips_;
  if (libssh2_sftp_mkdir_ex(sftp_, path.data(), static_cast<unsigned>(path.size()), 0700) == 0) return true;
  ++round_trips_;
  LIBSSH2_SFTP_ATTRIBUTES attrs{};
  if (libssh2_sftp_stat_ex(sftp_, path.data(), static_cast<unsigned>(path.size()), LIBSSH2_SFTP_STAT, &attrs) == 0 &&
      (attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0 && LIBSSH2_SFTP_S_ISDIR(attrs.permissions)) {
    return false;
  }
  fail(path, "mkdir");
}

std::optional<std::vector<std::string>> Session::list_dir(const std::string& path) {
  ++round_trips_;
  LIBSSH2_SFTP_HANDLE* dir = libssh2_sftp_open_ex(sftp_, path.data(), static_cast<unsigned>(path.size()), 0, 0,
                                                  LIBSSH2_SFTP_OPENDIR);
  if (dir == nullptr) {
    if (sftp_status() == LIBSSH2_FX_NO_SUCH_FILE) return std::nullopt;
    fail(path, "opendir");
  }
  std::vector<std::string> names;
  char name[512];
  LIBSSH2_SFTP_ATTRIBUTES attrs{};
  for (;;) {
    const int n = libssh2_sftp_readdir_ex(dir, name, sizeof name, nullptr, 0, &attrs);
    if (n == 0) break;
    if (n < 0) {
      libssh2_sftp_close_handle(dir);
      fail(path, "readdir");
    }
    std::string entry(name, static_cast<std::size_t>(n));
    if (entry != "." && entry != "..") names.push_back(std::move(entry));
  }
  libssh2_sftp_close_handle(dir);
  // READDIR batches of up to 100 names ("." and ".." among them), the last
  // answer being EOF, then the close.
  round_trips_ += (names.size() + 2) / 100 + 2;
  return names;
}

void Session::write_file(const std::string& path, std::span<const std::uint8_t> data, bool fsync) {
  // open, the pipelined writes (one window), fsync, close
  round_trips_ += 2 + (data.empty() ? 0 : 1) + (fsync ? 1 : 0);
  LIBSSH2_SFTP_HANDLE* file =
      libssh2_sftp_open_ex(sftp_, path.data(), static_cast<unsigned>(path.size()),
                           LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0600, LIBSSH2_SFTP_OPENFILE);
  if (file == nullptr) fail(path, "create");
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = libssh2_sftp_write(file, reinterpret_cast<const char*>(data.data() + done), data.size() - done);
    if (n < 0) {
      libssh2_sftp_close_handle(file);
      fail(path, "write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync && libssh2_sftp_fsync(file) != 0) {
    libssh2_sftp_close_handle(file);
    fail(path, "fsync");
  }
  if (libssh2_sftp_close_handle(file) != 0) fail(path, "close");
}

bool Session::rename(const std::string& from, const std::string& to) {
  const long flags = LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE;
  ++round_trips_;
  if (libssh2_sftp_rename_ex(sftp_, from.data(), static_cast<unsigned>(from.size()), to.data(),
                             static_cast<unsigned>(to.size()), flags) == 0) {
    return true;
  }
  if (exists(to)) return false;
  fail(from, "rename to " + to);
}

void Session::remove(const std::string& path) {
  ++round_trips_;
  if (libssh2_sftp_unlink_ex(sftp_, path.data(), static_cast<unsigned>(path.size())) == 0) return;
  if (sftp_status() == LIBSSH2_FX_NO_SUCH_FILE) return;
  fail(path, "unlink");
}

bool Session::exists(const std::string& path) {
  ++round_trips_;
  LIBSSH2_SFTP_ATTRIBUTES attrs{};
  if (libssh2_sftp_stat_ex(sftp_, path.data(), static_cast<unsigned>(path.size()), LIBSSH2_SFTP_STAT, &attrs) == 0) {
    return true;
  }
  if (sftp_status() == LIBSSH2_FX_NO_SUCH_FILE) return false;
  fail(path, "stat");
}

std::uint64_t Session::push_file(const std::filesystem::path& local, const std::string& remote,
                                 std::size_t write_bytes) {
  const int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("sftp: open " + local.string() + ": " + std::strerror(errno));
  const std::unique_ptr<int, void (*)(int*)> fd_guard(new int(fd), [](int* p) { ::close(*p); delete p; });
  LIBSSH2_SFTP_HANDLE* file =
      libssh2_sftp_open_ex(sftp_, remote.data(), static_cast<unsigned>(remote.size()),
                           LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0600, LIBSSH2_SFTP_OPENFILE);
  if (file == nullptr) fail(remote, "create");
  std::vector<char> buffer(write_bytes);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      const int e = errno;
      libssh2_sftp_close_handle(file);
      throw std::runtime_error("sftp: read " + local.string() + ": " + std::strerror(e));
    }
    if (got == 0) break;
    std::size_t done = 0;
    while (done < static_cast<std::size_t>(got)) {
      const auto n = libssh2_sftp_write(file, buffer.data() + done, static_cast<std::size_t>(got) - done);
      if (n < 0) {
        libssh2_sftp_close_handle(file);
        fail(remote, "write");
      }
      done += static_cast<std::size_t>(n);
    }
    total += static_cast<std::uint64_t>(got);
  }
  if (libssh2_sftp_close_handle(file) != 0) fail(remote, "close");
  return total;
}

std::optional<std::uint64_t> Session::file_size(const std::string& path) {
  ++round_trips_;
  LIBSSH2_SFTP_ATTRIBUTES attrs{};
  if (libssh2_sftp_stat_ex(sftp_, path.data(), static_cast<unsigned>(path.size()), LIBSSH2_SFTP_STAT, &attrs) == 0) {
    if ((attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) == 0) fail(path, "stat returned no size");
    return attrs.filesize;
  }
  if (sftp_status() == LIBSSH2_FX_NO_SUCH_FILE) return std::nullopt;
  fail(path, "stat");
}

std::vector<std::uint8_t> Session::read_head(const std::string& path, std::size_t n) {
  round_trips_ += 3;  // open, read (one window), close
  LIBSSH2_SFTP_HANDLE* file =
      libssh2_sftp_open_ex(sftp_, path.data(), static_cast<unsigned>(path.size()), LIBSSH2_FXF_READ, 0,
                           LIBSSH2_SFTP_OPENFILE);
  if (file == nullptr) fail(path, "open for reading");
  std::vector<std::uint8_t> out(n);
  std::size_t done = 0;
  while (done < n) {
    const auto got = libssh2_sftp_read(file, reinterpret_cast<char*>(out.data() + done), n - done);
    if (got < 0) {
      libssh2_sftp_close_handle(file);
      fail(path, "read");
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  libssh2_sftp_close_handle(file);
  out.resize(done);
  return out;
}

std::uint64_t Session::upload_stream(const std::string& remote, const UploadAt& at, const ReadAt& read_at,
                                     const WroteFn& wrote, std::size_t window_bytes) {
  const bool trunc_all = at.cut_to_offset && at.offset == 0;
  const unsigned long flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | (trunc_all ? LIBSSH2_FXF_TRUNC : 0);
  ++round_trips_;
  LIBSSH2_SFTP_HANDLE* file =
      libssh2_sftp_open_ex(sftp_, remote.data(), static_cast<unsigned>(remote.size()), flags, 0600,
                           LIBSSH2_SFTP_OPENFILE);
  if (file == nullptr) fail(remote, "open for writing");
  std::unique_ptr<LIBSSH2_SFTP_HANDLE, int (*)(LIBSSH2_SFTP_HANDLE*)> guard(file, libssh2_sftp_close_handle);
  if (at.cut_to_offset && !trunc_all) {
    LIBSSH2_SFTP_ATTRIBUTES attrs{};
    attrs.flags = LIBSSH2_SFTP_ATTR_SIZE;
    attrs.filesize = at.offset;
    ++round_trips_;
    if (libssh2_sftp_fsetstat(file, &attrs) != 0) fail(remote, "truncate to " + std::to_string(at.offset));
  }
  if (!at.head.empty()) {
    ++round_trips_;
    libssh2_sftp_seek64(file, 0);
    for (std::size_t done = 0; done < at.head.size();) {
      const auto n = libssh2_sftp_write(file, reinterpret_cast<const char*>(at.head.data() + done), at.head.size() - done);
      if (n < 0) fail(remote, "write at 0");
      done += static_cast<std::size_t>(n);
    }
  }
  libssh2_sftp_seek64(file, at.offset);
  // A sliding window: libssh2_sftp_write queues every byte it is given as
  // 30,000-byte WRITE packets and returns once the oldest is acknowledged;
  // called again with the same unacknowledged bytes first it sends only what
  // is new. So `window` always starts at the first unacknowledged byte and
  // is topped up behind, and the server never waits for us between writes.
  const std::size_t cap = std::max<std::size_t>(window_bytes, 30'000);
  std::vector<std::uint8_t> window(2 * cap);
  std::size_t head = 0, tail = 0;  // window[head, tail) is sent or to send, unacknowledged
  std::uint64_t produced = 0, acked = 0;
  bool source_done = false;
  for (;;) {
    if (head >= cap) {  // compact: at most one copy of every byte
      std::memmove(window.data(), window.data() + head, tail - head);
      tail -= head;
      head = 0;
    }
    while (!source_done && tail - head < cap) {
      const std::size_t got = read_at(at.offset + produced, std::span<std::uint8_t>(window.data() + tail, window.size() - tail));
      if (got == 0) source_done = true;
      tail += got;
      produced += got;
    }
    if (head == tail) break;
    const auto n = libssh2_sftp_write(file, reinterpret_cast<const char*>(window.data() + head), tail - head);
    if (n < 0) fail(remote, "write");
    head += static_cast<std::size_t>(n);
    acked += static_cast<std::uint64_t>(n);
    if (wrote && n > 0) wrote(static_cast<std::size_t>(n));
  }
  round_trips_ += 1 + (acked + cap - 1) / cap;  // the windows, and the close
  if (libssh2_sftp_close_handle(guard.release()) != 0) fail(remote, "close");
  return acked;
}

}  // namespace vmrep::transport::sftp

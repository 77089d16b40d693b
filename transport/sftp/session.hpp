#pragma once
// One SSH connection with one SFTP channel, through libssh2 in BLOCKING mode.
//
// Who calls it: a worker thread (the transfer pool), never the event loop:
// every member blocks on the network for up to `timeout_ms` per libssh2 call.
// A Session is used by one thread at a time; several Sessions may run in
// parallel threads (libssh2_init happens once, before the first one).
//
// Security contract:
//  - The server's host key must MATCH an entry of the OpenSSH known_hosts
//    file. NOTFOUND and MISMATCH are refused with a one-line message that
//    says how to trust the host (ssh-keyscan ... >> KNOWN_HOSTS). The host
//    key algorithm is pinned to ssh-ed25519 (libssh2 1.10 has no rsa-sha2).
//  - Authentication is public key only, from an ed25519 private key file.
//
// Errors are std::runtime_error, one line: "sftp HOST:PORT PATH: WHAT:
// libssh2's message", so a log line names the peer, the file and the cause.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

typedef struct _LIBSSH2_SESSION LIBSSH2_SESSION;
typedef struct _LIBSSH2_SFTP LIBSSH2_SFTP;
typedef struct _LIBSSH2_SFTP_HANDLE LIBSSH2_SFTP_HANDLE;

namespace vmrep::transport::sftp {

struct Endpoint {
  std::string host = "127.0.0.1";  // numeric address or name
  std::uint16_t port = 22;
  std::string user;                       // remote login
  std::filesystem::path private_key;      // ed25519, unencrypted (or see passphrase)
  std::string passphrase;                 // of private_key; empty for none
  std::filesystem::path known_hosts;      // OpenSSH format
  std::uint32_t timeout_ms = 30'000;      // per blocking libssh2 call
};

// "HOST:PORT", as messages name the peer.
std::string describe(const Endpoint& e);

class Session {
 public:
  // Connects, checks the host key, authenticates and opens the SFTP channel.
  explicit Session(const Endpoint& endpoint);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }

  // mkdir; true when it made it, false when a directory was already there.
  bool make_dir(const std::string& path);
  // Names in a directory (without "." and ".."); nullopt when it does not
  // exist. One SSH round trip per batch of names the server returns.
  std::optional<std::vector<std::string>> list_dir(const std::string& path);
  // Writes `data` to a new file `path` (created exclusively, mode 0644) and
  // closes it. Buffers are handed to libssh2 whole, so it pipelines its
  // 30,000-byte packets. `fsync` asks fsync@openssh.com before closing.
  void write_file(const std::string& path, std::span<const std::uint8_t> data, bool fsync);
  // Renames; false (and nothing changed) when `to` already exists: OpenSSH's
  // sftp-server renames with link()+unlink(), so it never overwrites.
  bool rename(const std::string& from, const std::string& to);
  void remove(const std::string& path);  // ignores a missing file
  bool exists(const std::string& path);

  // Streams a local file to `remote` (truncated or created), in writes of
  // write_bytes (a multiple of 30,000). Returns the bytes sent.
  std::uint64_t push_file(const std::filesystem::path& local, const std::string& remote,
                          std::size_t write_bytes = 8 * 30'000);

  // Size of a regular file; nullopt when it does not exist.
  std::optional<std::uint64_t> file_size(const std::string& path);
  // Up to `n` bytes from the start of `path` (fewer when it is shorter).
  std::vector<std::uint8_t> read_head(const std::string& path, std::size_t n);

  // Produces bytes of the stream from `offset` into the buffer; returns how
  // many (0 = end).
  using ReadAt = std::function<std::size_t(std::uint64_t offset, std::span<std::uint8_t> out)>;
  // Called as written bytes are acknowledged, with how many.
  using WroteFn = std::function<void(std::size_t bytes)>;
  // How upload_stream treats what `remote` already holds.
  struct UploadAt {
    std::uint64_t offset = 0;  // the stream's first byte goes here
    // Cut the file to `offset` first (else bytes past it that the stream does
    // not overwrite stay).
    bool cut_to_offset = true;
    // Written at offset 0 before the stream (e.g. a pack header that changed
    // when its record list grew); empty for none.
    std::span<const std::uint8_t> head;
  };
  // Writes the stream produced by `read_at` to `remote` (created when
  // missing; bytes before `at.offset` are kept, so a resumed upload appends).
  // The writes are PIPELINED: up to `window_bytes` (a multiple of 30,000) stay
  // in flight, refilled as the server acknowledges, so a stream costs about
  // one round trip per window rather than one per write. `wrote` is called
  // with each acknowledged piece (about 30,000 bytes), so progress moves from
  // the first acknowledgement on. Returns the bytes sent. An exception from
  // `wrote` or `read_at` aborts the upload.
  std::uint64_t upload_stream(const std::string& remote, const UploadAt& at, const ReadAt& read_at,
                              const WroteFn& wrote, std::size_t window_bytes = 64 * 30'000);

  // Round trips on the critical path since the session opened: every request
  // whose answer is awaited before the next is sent counts one; a pipelined
  // upload counts one per window of bytes in flight (plus its open and close);
  // a directory listing one per batch of 100 names (OpenSSH's sftp-server
  // answers READDIR with at most 100). Connecting is counted apart.
  std::uint64_t round_trips() const { return round_trips_; }

  // One-line error for an operation on `path` that libssh2 failed.
  [[noreturn]] void fail(const std::string& path, const std::string& what) const;

 private:
  void close();  // frees whatever is open; idempotent
  void connect_socket();
  void check_host_key();
  void authenticate();
  unsigned long sftp_status() const;

  Endpoint endpoint_;
  std::uint64_t round_trips_ = 0;
  int socket_ = -1;
  LIBSSH2_SESSION* session_ = nullptr;
  LIBSSH2_SFTP* sftp_ = nullptr;
};

}  // namespace vmrep::transport::sftp

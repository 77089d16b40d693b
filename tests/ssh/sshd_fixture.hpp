#pragma once
// A real OpenSSH sshd on 127.0.0.1 for tests and the transfer benchmark: its
// own temp directory with an ed25519 host key, an ed25519 client key in
// authorized_keys, a known_hosts that trusts the host key, and a config with
// StrictModes no, UsePAM no, Subsystem sftp internal-sftp. The daemon runs
// in the foreground (-D -e) as our child; stop() (and the destructor) kills
// it by PID and removes the directory, whatever happened before; if the
// process crashes first, PR_SET_PDEATHSIG makes sshd exit with it.
// kill_hard() + restart() play a backup host whose sshd dies mid-transfer and
// comes back on the same port with the same host key.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "transport/sftp/session.hpp"

namespace vmrep::tests::ssh {

inline constexpr const char* sshd_binary = "/usr/sbin/sshd";
bool sshd_available();  // sshd and ssh-keygen are installed

class SshdFixture {
 public:
  SshdFixture();  // starts sshd; std::runtime_error (with its log) on failure
  ~SshdFixture() { stop(); }
  SshdFixture(const SshdFixture&) = delete;
  SshdFixture& operator=(const SshdFixture&) = delete;

  void stop();
  // SIGKILL to the listening sshd and every process under it (the per-
  // connection sshd and its internal-sftp session), by PID; each is stopped
  // first so none forks a child we would miss. Returns how many were killed.
  std::size_t kill_hard();
  // Starts sshd again with the same config, port and keys (after kill_hard).
  void restart();

  const std::filesystem::path& dir() const { return dir_; }
  std::uint16_t port() const { return port_; }
  const std::string& user() const { return user_; }
  std::filesystem::path client_key() const { return dir_ / "client_key"; }
  std::filesystem::path known_hosts() const { return dir_ / "known_hosts"; }
  std::filesystem::path host_public_key() const { return dir_ / "host_key.pub"; }
  // An endpoint that connects and authenticates.
  transport::sftp::Endpoint endpoint() const;

 private:
  void start();

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::string user_;
  pid_t pid_ = -1;
};

// Runs `command` through /bin/sh; throws with the command when it fails.
void run(const std::string& command);
// A new ed25519 key pair at `path` (and path.pub).
void make_key(const std::filesystem::path& path);

}  // namespace vmrep::tests::ssh

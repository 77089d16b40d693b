#include "tests/ssh/sshd_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace vmrep::tests::ssh {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A loopback port nobody listens on right now, below Linux's ephemeral range
// (32768-60999) so no outgoing connection can hold it as its source port;
// random start, since test processes run in parallel.
std::uint16_t free_port() {
  static std::uint32_t next = std::random_device{}();
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<std::uint16_t>(20000 + (next++ % 12000));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("sshd fixture: no free port in 20000-31999");
}

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Processes whose parent is in `parents` (from /proc/PID/stat).
std::set<pid_t> children_of(const std::set<pid_t>& parents) {
  std::set<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = slurp(e.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (parents.contains(ppid)) out.insert(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// Not a zombie, not gone.
bool process_alive(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace

bool sshd_available() { return ::access(sshd_binary, X_OK) == 0 && std::system("command -v ssh-keygen >/dev/null") == 0; }

void run(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

void make_key(const fs::path& path) { run("ssh-keygen -q -t ed25519 -N '' -C vmrep-test -f '" + path.string() + "'"); }

SshdFixture::SshdFixture() {
  char tmpl[] = "/tmp/vmrep-sshd-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("sshd fixture: mkdtemp failed");
  dir_ = tmpl;
  try {
    const passwd* pw = ::getpwuid(::getuid());
    if (pw == nullptr) throw std::runtime_error("sshd fixture: no passwd entry for uid");
    user_ = pw->pw_name;
    make_key(dir_ / "host_key");
    make_key(client_key());
    fs::copy_file(dir_ / "client_key.pub", dir_ / "authorized_keys");
    port_ = free_port();
    std::ofstream(known_hosts()) << "[127.0.0.1]:" << port_ << " " << slurp(host_public_key());
    std::ofstream(dir_ / "sshd_config") << "ListenAddress 127.0.0.1\n"
                                        << "HostKey " << (dir_ / "host_key").string() << "\n"
                                        << "AuthorizedKeysFile " << (dir_ / "authorized_keys").string() << "\n"
                                        << "PidFile " << (dir_ / "sshd.pid").string() << "\n"
                                        << "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                                        << "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                                        << "PermitRootLogin prohibit-password\nMaxStartups 64\nMaxSessions 64\n"
                                        << "Subsystem sftp internal-sftp\nLogLevel ERROR\n";
    start();
  } catch (...) {
    stop();
    throw;
  }
}

void SshdFixture::start() {
  fs::create_directories("/run/sshd");
  const std::string cfg = (dir_ / "sshd_config").string();
  const std::string log = (dir_ / "sshd.log").string();
  const std::string port = std::to_string(port_);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("sshd fixture: fork failed");
  if (pid_ == 0) {
    // If the test process dies without stop() (a crash), sshd goes too.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) ::dup2(fd, 2);
    ::execl(sshd_binary, sshd_binary, "-D", "-e", "-f", cfg.c_str(), "-p", port.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 500 && !accepts(port_); ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sshd exited at start: " + slurp(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!accepts(port_)) throw std::runtime_error("sshd does not listen on port " + port + ": " + slurp(log));
}

std::size_t SshdFixture::kill_hard() {
  if (pid_ <= 0) return 0;
  // Stop the tree top-down until a pass finds no new process: a stopped
  // process cannot fork, so the set is complete when the pass is empty.
  std::set<pid_t> tree{pid_};
  ::kill(pid_, SIGSTOP);
  for (bool grew = true; grew;) {
    grew = false;
    for (const pid_t child : children_of(tree)) {
      if (tree.insert(child).second) {
        ::kill(child, SIGSTOP);
        grew = true;
      }
    }
  }
  for (const pid_t p : tree) ::kill(p, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  // The others were reparented away from us: wait until they are gone, so
  // the port and the files they held are free.
  for (int i = 0; i < 500; ++i) {
    bool alive = false;
    for (const pid_t p : tree) alive = alive || process_alive(p);
    if (!alive) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return tree.size();
}

void SshdFixture::restart() {
  if (pid_ > 0) throw std::runtime_error("sshd fixture: restart while sshd runs");
  start();
}

void SshdFixture::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

transport::sftp::Endpoint SshdFixture::endpoint() const {
  transport::sftp::Endpoint e;
  e.host = "127.0.0.1";
  e.port = port_;
  e.user = user_;
  e.private_key = client_key();
  e.known_hosts = known_hosts();
  e.timeout_ms = 20'000;
  return e;
}

}  // namespace vmrep::tests::ssh

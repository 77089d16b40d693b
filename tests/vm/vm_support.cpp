#include "tests/vm/vm_support.hpp"
#include "vmadapters/domain_xml.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "vmadapters/disk_images.hpp"

#ifndef VMREP_DEFAULT_GUEST_DIR
#define VMREP_DEFAULT_GUEST_DIR ""
#endif
#ifndef VMREP_SOURCE_DIR
#define VMREP_SOURCE_DIR ""
#endif
#ifndef VMREP_LIBVIRT_STATE_DIR
#define VMREP_LIBVIRT_STATE_DIR "/run/vmrep-libvirt-fixture"
#endif

namespace vmrep::vmtest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}


bool on_path(const std::string& tool) {
  return vmadapters::run_process({"sh", "-c", "command -v " + tool}, 5s).exit_code == 0;
}

fs::path fixture_script() { return fs::path(VMREP_SOURCE_DIR) / "scripts" / "libvirt-fixture"; }

// The fixture's pidfiles: $VMREP_LIBVIRT_STATE, else the build tree's (the same
// directory ctest's vm_libvirtd_start uses).
std::vector<std::string> fixture(const std::string& command) {
  std::string state = env("VMREP_LIBVIRT_STATE");
  if (state.empty()) state = VMREP_LIBVIRT_STATE_DIR;
  return {fixture_script().string(), command, "--state-dir", state};
}

bool libvirtd_answers() {
  return vmadapters::run_process({"virsh", "-q", "-c", "qemu:///system", "version"}, 10s).exit_code == 0;
}

std::mutex fixture_mutex;
bool started_here = false;

void stop_started_daemon() {
  std::lock_guard lock(fixture_mutex);
  if (!started_here) return;
  vmadapters::run_process(fixture("stop"), 60s);
  started_here = false;
}

bool kvm_probe(const GuestImages& guest) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) return false;
  // A working KVM prints the kernel's first line within a second; nested KVM on
  // these machines hangs in the real-mode setup ("Probing EDD") and prints nothing.
  const auto r = vmadapters::run_process(
      {"qemu-system-x86_64", "-accel", "kvm", "-machine", "pc", "-m", "64", "-nodefaults", "-display", "none",
       "-serial", "stdio", "-no-reboot", "-kernel", guest.kernel.string(), "-append",
       "console=ttyS0 earlyprintk=ttyS0 panic=-1"},
      8s);
  return r.output.find("Linux version") != std::string::npos;
}

}  // namespace

std::optional<GuestImages> find_guest() {
  fs::path dir = env("VMREP_GUEST_DIR");
  if (dir.empty()) dir = VMREP_DEFAULT_GUEST_DIR;
  if (dir.empty()) return std::nullopt;
  GuestImages g{dir, dir / "vmlinuz", dir / "initrd.img", dir / "data.qcow2"};
  std::error_code ec;
  for (const auto& f : {g.kernel, g.initrd, g.data_disk}) {
    if (!fs::is_regular_file(f, ec)) return std::nullopt;
  }
  return g;
}

std::string domain_type(const GuestImages& guest) {
  static std::mutex mutex;
  static std::string cached;
  std::lock_guard lock(mutex);
  if (const std::string forced = env("VMREP_VM_DOMAIN_TYPE"); !forced.empty()) return forced;
  if (!cached.empty()) return cached;
  const std::string boot_id = trim(read_file("/proc/sys/kernel/random/boot_id"));
  const fs::path cache = guest.dir / ".domain-type";
  std::istringstream saved(read_file(cache));
  std::string saved_boot, saved_type;
  if (saved >> saved_boot >> saved_type && saved_boot == boot_id) return cached = saved_type;
  cached = kvm_probe(guest) ? "kvm" : "qemu";
  std::ofstream(cache) << boot_id << " " << cached << "\n";
  return cached;
}

std::string guest_domain_xml(const GuestImages& guest, const GuestSpec& spec) {
  std::ostringstream x;
  x << "<domain type='" << spec.type << "'>\n"
    << "  <name>" << vmadapters::xml::escape(spec.name) << "</name>\n"
    << "  <memory unit='MiB'>" << spec.memory_mib << "</memory>\n"
    << "  <vcpu>1</vcpu>\n"
    << "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n"
    << "    <kernel>" << vmadapters::xml::escape(guest.kernel.string()) << "</kernel>\n"
    << "    <initrd>" << vmadapters::xml::escape(guest.initrd.string()) << "</initrd>\n"
    << "    <cmdline>console=ttyS0 quiet loglevel=1 panic=-1</cmdline>\n  </os>\n"
    << "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n"
    << "  <devices>\n"
    << "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n"
    << "      <source file='" << vmadapters::xml::escape(spec.disk.string()) << "'/>\n"
    << "      <target dev='vda' bus='virtio'/>\n    </disk>\n"
    << "    <serial type='unix'>\n      <source mode='bind' path='" << vmadapters::xml::escape(spec.socket.string()) << "'/>\n"
    << "      <target port='0'/>\n    </serial>\n"
    << "    <memballoon model='none'/>\n  </devices>\n</domain>\n";
  return x.str();
}

std::string unique_domain_name(const std::string& what) {
  static std::atomic<int> counter{0};
  return "vmrep-test-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

BoardClient::~BoardClient() { close(); }

void BoardClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

void BoardClient::connect(const fs::path& socket, std::chrono::milliseconds timeout) {
  close();
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.string().size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + socket.string());
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  while (fd_ < 0) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      fd_ = fd;
      break;
    }
    const int err = errno;
    ::close(fd);
    if (Clock::now() > deadline) throw std::runtime_error("connect " + socket.string() + ": " + std::strerror(err));
    std::this_thread::sleep_for(100ms);
  }
  // The guest may still be booting, and earlier answers may be queued: ask with
  // a fresh token until exactly that token comes back.
  for (int attempt = 0;; ++attempt) {
    const std::string token = "sync-" + std::to_string(attempt);
    send("ECHO " + token);
    const auto until = std::min(deadline, Clock::now() + 2s);
    while (auto line = read_line(until)) {
      if (*line == token) {
        auto end = read_line(Clock::now() + 5s);
        if (end && *end == "END") return;
      }
    }
    if (Clock::now() > deadline) {
      throw std::runtime_error("the board on " + socket.string() + " did not answer within " +
                               std::to_string(timeout.count()) + " ms");
    }
  }
}

void BoardClient::send(const std::string& line) {
  if (fd_ < 0) throw std::runtime_error("board: not connected");
  const std::string data = line + "\n";
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("board: send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
}

std::optional<std::string> BoardClient::read_line(Clock::time_point deadline) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) throw std::runtime_error("board: the guest's serial socket closed");
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("board: recv: ") + std::strerror(errno));
    }
    if (buffer_.size() > (1u << 20)) throw std::runtime_error("board: answer larger than 1 MiB");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::vector<std::string> BoardClient::command(const std::string& line, std::chrono::milliseconds timeout) {
  send(line);
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> answer;
  while (auto l = read_line(deadline)) {
    if (*l == "END") return answer;
    answer.push_back(*l);
  }
  throw std::runtime_error("board: no answer to '" + line + "' within " + std::to_string(timeout.count()) + " ms");
}

int BoardClient::post(const std::string& text) {
  const auto answer = command("POST " + text, 30s);
  if (answer.size() != 1 || answer[0].rfind("OK ", 0) != 0) {
    throw std::runtime_error("board: POST " + text + " -> " + (answer.empty() ? "nothing" : answer[0]));
  }
  return std::stoi(answer[0].substr(3));
}

std::vector<std::string> BoardClient::list() { return command("LIST", 30s); }
std::vector<std::string> BoardClient::disk() { return command("DISK", 60s); }

std::optional<std::string> ensure_libvirtd() {
  std::lock_guard lock(fixture_mutex);
  if (geteuid() != 0) return "needs root to start the system libvirtd (CI runs as root)";
  for (const char* tool : {"libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "qemu-img"}) {
    if (!on_path(tool)) {
      return std::string(tool) + " is not installed (apt-get install libvirt-daemon-system libvirt-clients "
                                 "qemu-system-x86 qemu-utils)";
    }
  }
  if (libvirtd_answers()) return std::nullopt;
  const auto r = vmadapters::run_process(fixture("start"), 120s);
  if (r.exit_code == 77) return "libvirt-fixture cannot start libvirtd here: " + trim(r.output);
  if (r.exit_code != 0) throw std::runtime_error("scripts/libvirt-fixture start failed: " + r.output);
  started_here = true;
  std::atexit(stop_started_daemon);
  return std::nullopt;
}

bool restart_libvirtd() {
  const auto r = vmadapters::run_process(fixture("restart-libvirtd"), 120s);
  if (r.exit_code == 3) return false;
  if (r.exit_code != 0) throw std::runtime_error("scripts/libvirt-fixture restart-libvirtd failed: " + r.output);
  return true;
}


std::uint64_t percentile(std::vector<std::uint64_t> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace vmrep::vmtest

// Support for tests and benchmarks on a real libvirtd and the real tiny guest
// (scripts/build-guest): finding the guest, choosing TCG or KVM, the domain XML,
// talking to the bulletin board over the serial socket, and making sure a
// libvirtd runs (scripts/libvirt-fixture).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include "tests/support/temp_dir.hpp"

namespace vmrep::vmtest {

namespace fs = std::filesystem;

// The guest built by scripts/build-guest: $VMREP_GUEST_DIR, else the build
// tree's guest/ (VMREP_DEFAULT_GUEST_DIR). Empty optional when not built.
struct GuestImages {
  fs::path dir;
  fs::path kernel;
  fs::path initrd;
  fs::path data_disk;  // template: copy it, never run on it
};
std::optional<GuestImages> find_guest();

// "kvm" only when /dev/kvm really runs a guest (a probe boots the kernel under
// -accel kvm and waits for its first line; nested KVM here hangs), else "qemu"
// (TCG). $VMREP_VM_DOMAIN_TYPE overrides. The probe's answer is cached per boot
// in the guest dir.
std::string domain_type(const GuestImages& guest);

struct GuestSpec {
  std::string name;
  std::string type = "qemu";
  int memory_mib = 128;
  fs::path disk;    // qcow2 the domain writes to
  fs::path socket;  // the board's serial port, a unix socket QEMU listens on
};
std::string guest_domain_xml(const GuestImages& guest, const GuestSpec& spec);

// A unique name starting "vmrep-test-" (scripts/libvirt-fixture stop removes
// leftovers by that prefix).
std::string unique_domain_name(const std::string& what);

// The bulletin board (guest/board.sh) over the serial socket. One client at a
// time: QEMU accepts a single connection on the socket.
class BoardClient {
 public:
  BoardClient() = default;
  ~BoardClient();
  BoardClient(const BoardClient&) = delete;
  BoardClient& operator=(const BoardClient&) = delete;

  // Connects (retrying while the socket does not exist yet), then asks until the
  // board answers and resynchronizes on an ECHO token. Throws std::runtime_error.
  void connect(const fs::path& socket, std::chrono::milliseconds timeout);
  void close();

  int post(const std::string& text);  // the post's number
  std::vector<std::string> list();    // from guest memory
  std::vector<std::string> disk();    // read back from the data disk

  // Sends one command line; returns the answer's lines (without "END").
  std::vector<std::string> command(const std::string& line, std::chrono::milliseconds timeout);

 private:
  std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline);
  void send(const std::string& line);
  int fd_ = -1;
  std::string buffer_;
};

// Makes sure qemu:///system answers. Returns a reason to skip when libvirtd or
// QEMU cannot be started here at all (not root, packages missing); throws when
// they should start and do not. Starts the daemon with scripts/libvirt-fixture
// when nothing answers, and stops it at process exit in that case only.
std::optional<std::string> ensure_libvirtd();

// scripts/libvirt-fixture restart-libvirtd; false when libvirtd is not ours.
bool restart_libvirtd();

using TempDir = vmrep::test::TempDir;

std::uint64_t percentile(std::vector<std::uint64_t> values, double p);
double percentile(std::vector<double> values, double p);

}  // namespace vmrep::vmtest

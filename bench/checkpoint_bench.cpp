// Checkpoint benchmark on the real tiny guest through a real libvirtd: checkpoint
// wall time, QEMU's downtime (median, p95, max), bytes written per checkpoint and
// restore time, per guest RAM size. Prints a Markdown table for BENCHMARKS.md.
//
//   checkpoint_bench [--checkpoints N] [--memory 128,512] [--restores N]
//
// Per RAM size: boot the guest, then N times: one board post, a live checkpoint,
// blockcommit --active --pivot (so the chain stays one layer; the checkpoint's
// memory image is deleted once measured, the last one kept). The last checkpoint's
// disk is flattened before its commit (as shipping would), the guest destroyed,
// and it is restored --restores times, each on a fresh overlay over that disk;
// the first restore must hold every post. Needs root, libvirtd/QEMU (started by
// scripts/libvirt-fixture if nothing answers) and scripts/build-guest's output
// ($VMREP_GUEST_DIR or BUILD/guest).
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "tests/vm/vm_support.hpp"
#include "vmadapters/disk_images.hpp"
#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_adapter.hpp"

namespace {

using namespace vmrep;
using namespace vmrep::vmtest;
using namespace std::chrono_literals;

struct Row {
  int memory_mib = 0;
  std::string type;
  int checkpoints = 0;
  std::vector<double> wall_ms;
  std::vector<std::uint64_t> downtime_ms;
  std::vector<std::uint64_t> bytes_written;
  std::vector<std::uint64_t> memory_bytes;
  std::vector<double> commit_ms;
  std::vector<double> restore_ms;
};

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

Row run(vmadapters::LibvirtAdapter& adapter, const GuestImages& guest, int memory_mib, int checkpoints,
        int restores) {
  Row row;
  row.memory_mib = memory_mib;
  row.type = domain_type(guest);
  row.checkpoints = checkpoints;
  TempDir dir("bench");
  GuestSpec spec;
  spec.name = unique_domain_name("bench");
  spec.type = row.type;
  spec.memory_mib = memory_mib;
  spec.disk = dir.path() / "disk.qcow2";
  spec.socket = dir.path() / "board.sock";
  fs::copy_file(guest.data_disk, spec.disk);
  adapter.create(guest_domain_xml(guest, spec));
  struct Cleanup {
    vmadapters::LibvirtAdapter& adapter;
    std::string name;
    ~Cleanup() {
      try {
        if (adapter.exists(name)) adapter.destroy(name);
      } catch (const std::exception&) {
      }
    }
  } cleanup{adapter, spec.name};

  BoardClient board;
  board.connect(spec.socket, 180s);
  std::vector<std::string> posts;
  vmadapters::CheckpointResult last;
  const fs::path shipped = dir.path() / "shipped.qcow2";
  for (int i = 1; i <= checkpoints; ++i) {
    posts.push_back("bench post " + std::to_string(i));
    board.post(posts.back());
    const fs::path ck_dir = dir.path() / ("ck" + std::to_string(i));
    last = adapter.checkpoint(spec.name, ck_dir);
    row.wall_ms.push_back(last.wall_ms);
    row.downtime_ms.push_back(last.downtime_ms.value_or(0));
    row.bytes_written.push_back(last.bytes_written);
    row.memory_bytes.push_back(last.memory_bytes);
    if (i == checkpoints) adapter.flatten(last.disks.at(0).chain, shipped);
    row.commit_ms.push_back(adapter.commit_chain(spec.name, vmadapters::CommitMode::active_pivot).wall_ms);
    if (i < checkpoints) fs::remove(last.memory_file);
  }
  board.close();
  adapter.destroy(spec.name);

  for (int r = 1; r <= restores; ++r) {
    const fs::path overlay = dir.path() / ("restore" + std::to_string(r) + ".qcow2");
    vmadapters::create_overlay({shipped, "qcow2"}, overlay);
    const auto restored = adapter.restore({last.memory_file, {{"vda", {overlay, "qcow2"}}}});
    row.restore_ms.push_back(restored.wall_ms);
    if (r == 1) {
      board.connect(spec.socket, 60s);
      if (board.list() != posts || board.disk() != posts) {
        throw std::runtime_error("the restored board does not hold exactly the checkpointed posts");
      }
      board.close();
    }
    adapter.destroy(spec.name);
  }
  return row;
}

void print(const std::vector<Row>& rows) {
  std::printf(
      "| guest RAM | accel | checkpoints | checkpoint wall median / p95 (ms) | downtime median / p95 / max (ms) | "
      "bytes written per checkpoint, median (MiB) | commit median (ms) | restore median / max (ms) |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::printf("| %d MiB | %s | %d | %.0f / %.0f | %llu / %llu / %llu | %.1f | %.0f | %.0f / %.0f |\n", r.memory_mib,
                r.type == "kvm" ? "KVM" : "TCG", r.checkpoints, percentile(r.wall_ms, 50), percentile(r.wall_ms, 95),
                static_cast<unsigned long long>(percentile(r.downtime_ms, 50)),
                static_cast<unsigned long long>(percentile(r.downtime_ms, 95)),
                static_cast<unsigned long long>(percentile(r.downtime_ms, 100)), mib(percentile(r.bytes_written, 50)),
                percentile(r.commit_ms, 50), percentile(r.restore_ms, 50), percentile(r.restore_ms, 100));
  }
  std::printf("\nDowntime samples (ms):\n");
  for (const Row& r : rows) {
    std::printf("- %d MiB:", r.memory_mib);
    for (auto d : r.downtime_ms) std::printf(" %llu", static_cast<unsigned long long>(d));
    std::printf("\n");
  }
}

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) sizes.push_back(std::stoi(item));
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  int checkpoints = 20;
  int restores = 5;
  std::vector<int> sizes{128, 512};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--checkpoints" && has_value) {
      checkpoints = std::stoi(argv[++i]);
    } else if (arg == "--restores" && has_value) {
      restores = std::stoi(argv[++i]);
    } else if (arg == "--memory" && has_value) {
      sizes = parse_sizes(argv[++i]);
    } else {
      std::cerr << "usage: checkpoint_bench [--checkpoints N] [--restores N] [--memory 128,512]\n";
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  try {
    if (auto why = ensure_libvirtd()) {
      std::cerr << "checkpoint_bench: cannot run: " << *why << "\n";
      return 77;
    }
    const auto guest = find_guest();
    if (!guest) {
      std::cerr << "checkpoint_bench: the guest is not built: run scripts/build-guest BUILD/guest\n";
      return 1;
    }
    boost::asio::io_context io;  // events are not used here; never run
    vmadapters::LibvirtAdapter adapter(vmadapters::LibvirtOptions{}, io, [](const vmadapters::DomainEvent&) {});
    std::vector<Row> rows;
    for (int size : sizes) {
      std::cerr << "checkpoint_bench: " << size << " MiB, " << checkpoints << " checkpoints\n";
      rows.push_back(run(adapter, *guest, size, checkpoints, restores));
    }
    print(rows);
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// delta_bench: how much of a real guest's next checkpoint is new to the
// store, the number behind issue 5's "at most 5% for an idle guest". Boots the
// real tiny guest (128 MiB, TCG) through a real libvirtd and takes three live
// checkpoints:
//   ck1  after boot (and --settle seconds)
//   ck2  --gap seconds later, the guest idle
//   ck3  --gap seconds later, with --posts board posts spread over the gap
// Each checkpoint (memory image + the disk layer it froze) is ingested as one
// version into a fresh store per chunk size (avg 4, 8 and 16 KiB); the table
// gives, for ck2 and ck3, the new chunks' plain and stored bytes against the
// checkpoint's full size; how the share moves with the chunk size says how
// scattered the changes are.
// Prints Markdown for BENCHMARKS.md.
//
//   delta_bench [--gap 10] [--settle 20] [--posts 5]
//
// Needs root, libvirtd/QEMU (started by scripts/libvirt-fixture if nothing
// answers) and scripts/build-guest's output ($VMREP_GUEST_DIR or BUILD/guest).
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "snapshots/ingest.hpp"
#include "snapshots/store.hpp"
#include "tests/vm/vm_support.hpp"
#include "vmadapters/libvirt_adapter.hpp"

namespace {

using namespace vmrep;
using namespace vmrep::vmtest;
namespace snap = vmrep::snapshots;
using namespace std::chrono_literals;

struct Checkpoint {
  fs::path memory;
  fs::path disk_layer;  // the layer this checkpoint froze
  std::uint64_t bytes() const { return fs::file_size(memory) + fs::file_size(disk_layer); }
};

struct Delta {
  std::uint64_t full = 0;          // memory image + frozen layer
  std::uint64_t memory = 0;
  std::uint64_t new_plain = 0;     // plain bytes of chunks the store lacked
  std::uint64_t new_stored = 0;    // the same chunks as stored (zstd)
  std::uint64_t new_chunks = 0;
  std::uint64_t chunks = 0;
};

snap::ChunkerConfig config_for(std::uint32_t avg_kib) {
  return {avg_kib * 1024 / 4, avg_kib * 1024, avg_kib * 1024 * 8};
}

// Ingests the checkpoints in order into a fresh store; the delta of each one
// after the first.
std::vector<Delta> ingest_all(const fs::path& root, std::uint32_t avg_kib, const std::vector<Checkpoint>& cks) {
  snap::StoreOptions so;
  so.gc_grace = std::chrono::seconds(0);
  snap::Store store(root, snap::MacKey(snap::Bytes(32, 7)), so);
  const snap::Chunker chunker(config_for(avg_kib));
  std::vector<Delta> out;
  for (std::size_t i = 0; i < cks.size(); ++i) {
    const std::uint64_t stored_before = store.usage().chunk_bytes;
    snap::NewVersion nv{"bench", {1, i + 1}, std::nullopt, 0, "<domain/>",
                        {{"memory", cks[i].memory}, {"vda.layer", cks[i].disk_layer}}};
    if (i > 0) nv.parent = snap::Version{1, i};
    snap::IngestStats st;
    snap::write_version(store, chunker, nv, &st);
    if (i == 0) continue;
    out.push_back({cks[i].bytes(), fs::file_size(cks[i].memory), st.new_bytes,
                   store.usage().chunk_bytes - stored_before, st.new_chunks, st.chunks});
  }
  return out;
}

std::string pct(std::uint64_t part, std::uint64_t whole) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return s;
}

std::string mib(std::uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f", static_cast<double>(b) / (1 << 20));
  return s;
}

int run(int gap_s, int settle_s, int posts) {
  if (auto why = ensure_libvirtd()) {
    std::cerr << "delta_bench: cannot run: " << *why << "\n";
    return 77;
  }
  const auto guest = find_guest();
  if (!guest) {
    std::cerr << "delta_bench: the guest is not built: run scripts/build-guest BUILD/guest\n";
    return 1;
  }
  boost::asio::io_context io;  // events are not used here; never run
  vmadapters::LibvirtAdapter adapter(vmadapters::LibvirtOptions{}, io, [](const vmadapters::DomainEvent&) {});
  TempDir dir("delta");
  GuestSpec spec;
  spec.name = unique_domain_name("delta");
  spec.type = domain_type(*guest);
  spec.disk = dir.path() / "disk.qcow2";
  spec.socket = dir.path() / "board.sock";
  fs::copy_file(guest->data_disk, spec.disk);
  adapter.create(guest_domain_xml(*guest, spec));
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
  board.post("first post, before ck1");
  std::this_thread::sleep_for(std::chrono::seconds(settle_s));
  std::vector<Checkpoint> cks;
  const auto take = [&](int i) {
    const auto r = adapter.checkpoint(spec.name, dir.path() / ("ck" + std::to_string(i)));
    cks.push_back({r.memory_file, r.disks.at(0).frozen().file});
    std::cerr << "delta_bench: ck" << i << " " << mib(cks.back().bytes()) << " MiB, downtime "
              << r.downtime_ms.value_or(0) << " ms\n";
  };
  take(1);
  board.close();  // idle: nobody talks to the guest
  std::this_thread::sleep_for(std::chrono::seconds(gap_s));
  take(2);
  board.connect(spec.socket, 60s);
  for (int p = 0; p < posts; ++p) {
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_s * 1000 / std::max(posts, 1)));
    board.post("post " + std::to_string(p) + " between ck2 and ck3");
  }
  take(3);
  board.close();
  adapter.destroy(spec.name);

  std::printf("Guest: %s, %d MiB, %s; ck1 %d s after the board answered, ck2 %d s later (idle: no client "
              "connected), ck3 %d s after ck2 with %d board posts spread over the gap.\n\n",
              spec.name.c_str(), spec.memory_mib, spec.type == "kvm" ? "KVM" : "TCG", settle_s, gap_s, gap_s, posts);
  std::printf("| checkpoint | chunks avg | full size (MiB: memory + disk layer) | new chunks | new plain (MiB) | "
              "of full | new stored, zstd (MiB) | of full |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::uint32_t kib : {4u, 8u, 16u}) {
    const auto deltas = ingest_all(dir.path() / ("store" + std::to_string(kib)), kib, cks);
    for (std::size_t i = 0; i < deltas.size(); ++i) {
      const Delta& d = deltas[i];
      std::printf("| ck%zu vs ck%zu (%s) | %u KiB | %s (%s + %s) | %llu of %llu | %s | %s | %s | %s |\n", i + 2, i + 1,
                  i == 0 ? "idle" : "posts", kib, mib(d.full).c_str(), mib(d.memory).c_str(),
                  mib(d.full - d.memory).c_str(), static_cast<unsigned long long>(d.new_chunks),
                  static_cast<unsigned long long>(d.chunks), mib(d.new_plain).c_str(), pct(d.new_plain, d.full).c_str(),
                  mib(d.new_stored).c_str(), pct(d.new_stored, d.full).c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int gap = 10;
  int settle = 20;
  int posts = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "usage: delta_bench [--gap 10] [--settle 20] [--posts 5]\n";
      return 2;
    }
    const int v = std::stoi(argv[++i]);
    if (arg == "--gap") gap = v;
    else if (arg == "--settle") settle = v;
    else if (arg == "--posts") posts = v;
    else {
      std::cerr << "delta_bench: unknown option " << arg << "\n";
      return 2;
    }
  }
  try {
    return run(gap, settle, posts);
  } catch (const std::exception& e) {
    std::cerr << "delta_bench: " << e.what() << "\n";
    return 1;
  }
}

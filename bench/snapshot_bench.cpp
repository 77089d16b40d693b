// Report binary: what the snapshot store costs and saves, on one core.
//  - chunking + hashing throughput (FastCDC cuts + SHA-256 of every chunk);
//  - compress + store throughput (zstd into a real store on disk, with the
//    group-fsynced chunk writes), and rebuild throughput (restore);
//  - dedup between two 128 MiB images that differ in 3% of their 4 KiB pages
//    (scattered, and in 64 KiB runs): the bytes a push would send.
// Prints Markdown for BENCHMARKS.md.
//
//   snapshot_bench [--mib N] [--dir PATH] [--level L]
//     --mib    image size (default 128)
//     --dir    where the scratch stores go (default $TMPDIR or /tmp)
//     --level  zstd level (default the store's, 1)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "snapshots/chunk_writer.hpp"
#include "snapshots/chunker.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/rebuild.hpp"
#include "snapshots/store.hpp"

using namespace vmrep::snapshots;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t page = 4096;

struct Args {
  std::size_t mib = 128;
  fs::path dir;
  int level = compression_level_default;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double mb_per_s(std::size_t bytes, double s) { return static_cast<double>(bytes) / 1e6 / s; }

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

// A guest-memory-like image: per 4 KiB page, 40% zero, 30% repetitive text-ish, 30% random.
Bytes guest_like(std::size_t n, std::uint64_t seed) {
  Bytes out = random_bytes(n, seed);
  std::mt19937_64 rng(seed + 1);
  for (std::size_t p = 0; p + page <= n; p += page) {
    const auto kind = rng() % 10;
    if (kind < 4) {
      std::memset(out.data() + p, 0, page);
    } else if (kind < 7) {
      for (std::size_t i = 0; i < page; ++i)
        out[p + i] = static_cast<std::uint8_t>("struct task_struct *next; "[(i + p / page) % 26]);
    }
  }
  return out;
}

// Overwrites `fraction` of the pages with fresh random bytes, in runs of
// `run_pages` consecutive pages at random places.
Bytes mutate(const Bytes& base, double fraction, std::size_t run_pages, std::uint64_t seed) {
  Bytes out = base;
  std::mt19937_64 rng(seed);
  const std::size_t pages = out.size() / page;
  const auto runs = static_cast<std::size_t>(static_cast<double>(pages) * fraction / static_cast<double>(run_pages));
  for (std::size_t r = 0; r < runs; ++r) {
    const std::size_t first = rng() % (pages - run_pages);
    const Bytes fresh = random_bytes(run_pages * page, rng());
    std::memcpy(out.data() + first * page, fresh.data(), fresh.size());
  }
  return out;
}

void chunk_and_hash(const Args& a) {
  const Bytes data = random_bytes(a.mib << 20, 1);
  const Chunker chunker;
  // Best of 3: the figure is what one core does, not what a busy machine lets it do.
  double cut_s = 1e9;
  double hash_s = 1e9;
  std::vector<std::size_t> sizes;
  std::uint8_t sink = 0;
  for (int round = 0; round < 3; ++round) {
    auto t = Clock::now();
    sizes = chunker.split(data);
    cut_s = std::min(cut_s, seconds_since(t));
    t = Clock::now();
    std::size_t off = 0;
    for (const std::size_t len : sizes) {
      sink ^= sha256(ByteView(data).subspan(off, len)).bytes[0];
      off += len;
    }
    hash_s = std::min(hash_s, seconds_since(t));
  }
  std::printf("## Chunking and hashing (one core, %zu MiB random, best of 3)\n\n", a.mib);
  std::printf("| stage | MB/s per core |\n|---|---:|\n");
  std::printf("| FastCDC cut points (2/8/64 KiB) | %.0f |\n", mb_per_s(data.size(), cut_s));
  std::printf("| SHA-256 of every chunk (OpenSSL EVP) | %.0f |\n", mb_per_s(data.size(), hash_s));
  std::printf("| **chunking + hashing** | **%.0f** |\n\n", mb_per_s(data.size(), cut_s + hash_s));
  std::printf("%zu chunks, mean %.0f bytes (checksum byte %u)\n\n", sizes.size(),
              static_cast<double>(data.size()) / static_cast<double>(sizes.size()), sink);
}

struct Ingest {
  IngestStats stats;
  std::vector<ChunkRef> refs;
  double seconds = 0;
  double cpu_seconds = 0;  // this process, all threads
};

Ingest ingest(Store& store, const Bytes& data, const ChunkerConfig& config = {}) {
  Ingest r;
  const auto t = Clock::now();
  const std::clock_t cpu = std::clock();
  ChunkWriter writer(store.chunks());
  r.refs = ingest_bytes(writer, Chunker(config), data, r.stats);
  writer.commit();
  store.chunks().sync();
  r.seconds = seconds_since(t);
  r.cpu_seconds = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  return r;
}

void store_and_rebuild(const Args& a, const fs::path& scratch) {
  std::printf("## Compress + store, and rebuild (one core, %zu MiB, zstd level %d, files on %s)\n\n", a.mib, a.level,
              scratch.c_str());
  std::printf(
      "| image | ingest MB/s (chunk+hash+zstd+write+fsync) | ingest CPU s / wall s | stored / plain | rebuild MB/s "
      "(read+unzstd+verify+write) |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (const bool guest : {false, true}) {
    const Bytes data = guest ? guest_like(a.mib << 20, 2) : random_bytes(a.mib << 20, 2);
    StoreOptions o;
    o.chunks.compression_level = a.level;
    Store store(scratch / (guest ? "guest" : "random"), MacKey(Bytes(32, 1)), o);
    const Ingest in = ingest(store, data);
    Manifest m;
    m.service = "bench";
    m.version = {1, 1};
    m.files = {{"memory", in.refs}};
    store.publish(m);
    const auto usage = store.usage();
    const auto t = Clock::now();
    rebuild(store.chunks(), m, scratch / "restore");
    const double rebuild_s = seconds_since(t);
    std::printf("| %s | %.0f | %.1f / %.1f | %.2f | %.0f |\n",
                guest ? "guest-like (40% zero, 30% text, 30% random pages)" : "random",
                mb_per_s(data.size(), in.seconds), in.cpu_seconds, in.seconds,
                static_cast<double>(usage.chunk_bytes) / static_cast<double>(data.size()),
                mb_per_s(data.size(), rebuild_s));
    fs::remove_all(scratch / "restore");
  }
  std::printf("\n");
}

void dedup(const Args& a, const fs::path& scratch) {
  const Bytes base = random_bytes(a.mib << 20, 3);
  std::printf("## Dedup: next checkpoint differs in 3%% of its 4 KiB pages (%zu MiB random image)\n\n", a.mib);
  std::printf(
      "| change pattern | chunker min/avg/max | new chunks / chunks | new bytes (what a push sends) | of the image | "
      "fixed 64 KiB blocks would send | ingest of the new image MB/s |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  const ChunkerConfig small{1024, 4096, 32768};
  std::string missing_note;
  for (const std::size_t run : {std::size_t{1}, std::size_t{16}}) {
    const Bytes next = mutate(base, 0.03, run, 4 + run);
    std::size_t changed_blocks = 0;
    constexpr std::size_t block = 64 << 10;
    for (std::size_t off = 0; off < next.size(); off += block) {
      changed_blocks += std::memcmp(base.data() + off, next.data() + off, std::min(block, next.size() - off)) != 0;
    }
    const double fixed = static_cast<double>(changed_blocks * block) / static_cast<double>(next.size());
    for (const ChunkerConfig& config : {ChunkerConfig{}, small}) {
      const fs::path dir = scratch / ("dedup" + std::to_string(run) + "-" + std::to_string(config.chunk_bytes_avg));
      Store store(dir, MacKey(Bytes(32, 1)));
      ingest(store, base, config);
      const Ingest in = ingest(store, next, config);
      std::printf("| 3%% in %s | %u/%u/%u KiB | %llu / %llu | %.1f MiB | **%.1f%%** | %.1f%% | %.0f |\n",
                  run == 1 ? "scattered single pages" : "runs of 16 pages (64 KiB)", config.chunk_bytes_min / 1024,
                  config.chunk_bytes_avg / 1024, config.chunk_bytes_max / 1024,
                  static_cast<unsigned long long>(in.stats.new_chunks),
                  static_cast<unsigned long long>(in.stats.chunks), static_cast<double>(in.stats.new_bytes) / (1 << 20),
                  100.0 * static_cast<double>(in.stats.new_bytes) / static_cast<double>(next.size()), 100.0 * fixed,
                  mb_per_s(next.size(), in.seconds));
      if (run == 16 && config == ChunkerConfig{}) {
        // What a pusher asks the backup: "which of these are missing".
        std::vector<ChunkId> ids;
        for (const auto& r : in.refs) ids.push_back(r.id);
        const auto t = Clock::now();
        const auto missing = store.chunks().missing(ids);
        missing_note = "missing() over all " + std::to_string(ids.size()) +
                       " ids of the image: " + std::to_string(seconds_since(t) * 1000).substr(0, 5) + " ms (" +
                       std::to_string(missing.size()) + " missing)";
      }
      fs::remove_all(dir);
    }
  }
  std::printf("\n%s\n\n", missing_note.c_str());
}

Args parse(int argc, char** argv) {
  Args a;
  const char* tmp = std::getenv("TMPDIR");
  a.dir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "snapshot_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--mib") {
      a.mib = std::stoul(value());
    } else if (arg == "--dir") {
      a.dir = value();
    } else if (arg == "--level") {
      a.level = std::stoi(value());
    } else {
      std::fprintf(stderr, "usage: snapshot_bench [--mib N] [--dir PATH] [--level L]\n");
      std::exit(2);
    }
  }
  if (a.mib < 1) a.mib = 1;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const fs::path scratch = a.dir / ("vmrep-snapshot-bench." + std::to_string(::getpid()));
  fs::create_directories(scratch);
  try {
    std::printf("# snapshot_bench (%zu MiB images)\n\n", a.mib);
    chunk_and_hash(a);
    store_and_rebuild(a, scratch);
    dedup(a, scratch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "snapshot_bench: %s\n", e.what());
    fs::remove_all(scratch);
    return 1;
  }
  fs::remove_all(scratch);
  return 0;
}

// transfer_bench: what crosses the wire, and how fast, when a checkpoint is
// pushed over SFTP to a backup, against scp and rsync of the same file over
// the same sshd (a real OpenSSH on loopback, started like tests/ssh does).
// Prints Markdown for BENCHMARKS.md.
//
//   transfer_bench [--file IMAGE] [--size-mib 128] [--change-pct 3] [--parallel 3] [--seed 1]
//
// Without --file it generates a memory-image-like file: zero pages, pages
// repeated from a small pool, compressible text-like pages and random pages.
// The second version rewrites runs of pages (1..32 pages each) until
// --change-pct of the bytes changed.
#include <sys/wait.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "snapshots/chunker.hpp"
#include "snapshots/hash.hpp"
#include "snapshots/incoming.hpp"
#include "snapshots/ingest.hpp"
#include "snapshots/store.hpp"
#include "tests/ssh/sshd_fixture.hpp"
#include "tests/support/file_bytes.hpp"
#include "transport/sftp/pusher.hpp"

namespace {

namespace fs = std::filesystem;
namespace snap = vmrep::snapshots;
namespace sftp = vmrep::transport::sftp;
using Clock = std::chrono::steady_clock;
using vmrep::test::read_bytes;
using vmrep::test::write_bytes;

constexpr std::size_t page = 4096;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void random_page(std::mt19937_64& rng, std::uint8_t* p) {
  for (std::size_t i = 0; i < page; i += 8) {
    const std::uint64_t v = rng();
    for (std::size_t b = 0; b < 8; ++b) p[i + b] = static_cast<std::uint8_t>(v >> (8 * b));
  }
}

snap::Bytes generate_image(std::size_t bytes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<snap::Bytes> pool(64, snap::Bytes(page));
  for (auto& p : pool) random_page(rng, p.data());
  static constexpr char words[] = "the quick brown fox jumps over lazy dog kernel page cache inode buffer ";
  snap::Bytes out(bytes, 0);
  for (std::size_t off = 0; off + page <= bytes; off += page) {
    const auto kind = rng() % 100;
    std::uint8_t* p = out.data() + off;
    if (kind < 35) continue;  // zero page
    if (kind < 50) {
      const auto& from = pool[rng() % pool.size()];
      std::copy(from.begin(), from.end(), p);
    } else if (kind < 75) {
      for (std::size_t i = 0; i < page; ++i) p[i] = static_cast<std::uint8_t>(words[(rng() % 9) * 8 + i % 8]);
    } else {
      random_page(rng, p);
    }
  }
  return out;
}

void change_runs(snap::Bytes& image, double pct, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t pages = image.size() / page;
  const auto target = static_cast<std::size_t>(static_cast<double>(pages) * pct / 100.0);
  for (std::size_t changed = 0; changed < target;) {
    const std::size_t run = 1 + rng() % 32;
    const std::size_t first = rng() % pages;
    for (std::size_t i = first; i < std::min(pages, first + run); ++i) random_page(rng, image.data() + i * page);
    changed += run;
  }
}

// Runs a shell command, returns its stdout; throws when it fails.
std::string capture(const std::string& command) {
  FILE* f = ::popen(command.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("popen failed: " + command);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  if (::pclose(f) != 0) throw std::runtime_error("command failed: " + command + "\n" + out);
  return out;
}

std::uint64_t rsync_bytes_sent(const std::string& stats) {
  const auto at = stats.find("Total bytes sent: ");
  if (at == std::string::npos) return 0;
  std::string digits;
  for (std::size_t i = at + 18; i < stats.size() && (std::isdigit(static_cast<unsigned char>(stats[i])) || stats[i] == ','); ++i) {
    if (stats[i] != ',') digits += stats[i];
  }
  return digits.empty() ? 0 : std::stoull(digits);
}

std::string mib(std::uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return s;
}

std::string fmt(const char* f, double v) {
  char s[64];
  std::snprintf(s, sizeof s, f, v);
  return s;
}

struct Args {
  std::string file;
  std::size_t size_mib = 128;
  double change_pct = 3;
  unsigned parallel = 3;
  std::uint64_t seed = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value for " + k);
    const std::string v = argv[++i];
    if (k == "--file") a.file = v;
    else if (k == "--size-mib") a.size_mib = std::stoul(v);
    else if (k == "--change-pct") a.change_pct = std::stod(v);
    else if (k == "--parallel") a.parallel = static_cast<unsigned>(std::stoul(v));
    else if (k == "--seed") a.seed = std::stoull(v);
    else throw std::runtime_error("unknown option " + k);
  }
  return a;
}

int run(const Args& args) {
  vmrep::tests::ssh::SshdFixture sshd;
  const fs::path dir = sshd.dir();
  snap::Bytes image = args.file.empty() ? generate_image(args.size_mib << 20, args.seed) : read_bytes(args.file);
  const fs::path v1 = dir / "image-v1";
  const fs::path v2 = dir / "image-v2";
  write_bytes(v1, image);

  // (c) chunking + hashing, in memory, one core.
  const snap::Chunker chunker;
  auto t0 = Clock::now();
  std::size_t off = 0;
  std::uint8_t sink = 0;
  while (off < image.size()) {
    const std::size_t n = chunker.next_chunk_bytes(snap::ByteView(image).subspan(off));
    sink ^= snap::sha256(snap::ByteView(image).subspan(off, n)).bytes[0];
    off += n;
  }
  const double chunk_hash_s = seconds_since(t0);

  snap::StoreOptions so;
  snap::Store store(dir / "local", snap::MacKey(snap::Bytes(32, 7)), so);
  auto version = [&](std::uint64_t seq, const fs::path& file) {
    snap::NewVersion nv{"bench", {1, seq}, std::nullopt, 0, "<domain/>", {{"memory", file}}};
    if (seq > 1) nv.parent = snap::Version{1, seq - 1};
    snap::IngestStats st;
    const auto t = Clock::now();
    snap::write_version(store, chunker, nv, &st);
    return std::pair{seconds_since(t), st};
  };
  const auto [ingest1_s, ingest1] = version(1, v1);

  const std::string ssh_opts = "-o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=" +
                               sshd.known_hosts().string() + " -i " + sshd.client_key().string();
  const std::string login = sshd.user() + "@127.0.0.1:";
  const std::string port = std::to_string(sshd.port());

  t0 = Clock::now();
  capture("scp -q -P " + port + " " + ssh_opts + " " + v1.string() + " " + login + (dir / "scp-copy").string());
  const double scp_s = seconds_since(t0);

  const std::string rsync = "rsync --stats -e 'ssh -p " + port + " " + ssh_opts + "' ";
  t0 = Clock::now();
  const auto rsync1 = capture(rsync + v1.string() + " " + login + (dir / "rsync-copy").string());
  const double rsync_s = seconds_since(t0);

  t0 = Clock::now();
  sftp::Session(sshd.endpoint()).push_file(v1, (dir / "sftp-copy").string());
  const double sftp_file_s = seconds_since(t0);

  sftp::PushOptions po;
  po.remote_root = (dir / "remote").string();
  po.parallel_sessions = args.parallel;
  sftp::Pusher pusher(store, sshd.endpoint(), po);
  t0 = Clock::now();
  const auto push1 = pusher.push("bench", {1, 1});
  const double push1_s = seconds_since(t0);
  // The backup's side of a pack push: unpack (re-hash every chunk), one
  // syncfs, publish: the version is durable and visible when it returns.
  snap::Store remote(dir / "remote", snap::MacKey(snap::Bytes(32, 7)), so);
  auto accept = [&remote] {
    const auto t = Clock::now();
    const auto st = snap::accept_incoming(remote);
    if (!st.errors.empty()) throw std::runtime_error("accept_incoming: " + st.errors.front());
    return seconds_since(t);
  };
  const double accept1_s = accept();
  remote.verify("bench", {1, 1});

  // The per-chunk path (one remote file per chunk), for comparison.
  sftp::PushOptions po_chunks = po;
  po_chunks.remote_root = (dir / "remote-chunks").string();
  po_chunks.pack_threshold_chunks = ~std::uint64_t{0};
  t0 = Clock::now();
  const auto push1_chunks = sftp::Pusher(store, sshd.endpoint(), po_chunks).push("bench", {1, 1});
  const double push1_chunks_s = seconds_since(t0);

  // (b) the next version, ~change_pct of the bytes rewritten.
  change_runs(image, args.change_pct, args.seed + 1);
  write_bytes(v2, image);
  const auto [ingest2_s, ingest2] = version(2, v2);
  t0 = Clock::now();
  const auto push2 = pusher.push("bench", {1, 2});
  const double push2_s = seconds_since(t0);
  const double accept2_s = push2.packed ? accept() : 0.0;
  remote.verify("bench", {1, 2});
  t0 = Clock::now();
  const auto rsync2 = capture(rsync + v2.string() + " " + login + (dir / "rsync-copy").string());
  const double rsync2_s = seconds_since(t0);
  t0 = Clock::now();
  capture("scp -q -P " + port + " " + ssh_opts + " " + v2.string() + " " + login + (dir / "scp-copy").string());
  const double scp2_s = seconds_since(t0);

  const double size = static_cast<double>(image.size());
  const double mb = size / 1e6;
  const auto row = [&](const std::string& method, double wall, const std::string& wire, bool bold = false) {
    const std::string b = bold ? "**" : "";
    return "| " + method + " | " + fmt("%.2f", wall) + " | " + fmt("%.0f", mb / wall) + " | " + wire + " | " + b +
           fmt("%.2f", wall / scp_s) + b + " | " + b + fmt("%.2f", wall / rsync_s) + b + " |\n";
  };
  std::cout << "## SFTP transfer (transfer_bench)\n\n"
            << "Input: " << (args.file.empty() ? "generated memory-like image (seed " + std::to_string(args.seed) + ")" : args.file)
            << ", " << mib(image.size()) << "; OpenSSH sshd on 127.0.0.1; vmrep push with " << args.parallel
            << " parallel SFTP sessions (libssh2 1.10, aes128-ctr); scp/rsync with OpenSSH defaults.\n\n"
            << "### (a) First full push\n\n"
            << "| method | wall s | MB/s (file size / wall) | bytes on the wire* | vs scp | vs rsync |\n"
            << "|---|---|---|---|---|---|\n"
            << row("scp", scp_s, mib(image.size()))
            << row("rsync (new file)", rsync_s, mib(rsync_bytes_sent(rsync1)))
            << row("libssh2 push_file (one file, 240,000-byte writes)", sftp_file_s, mib(image.size()))
            << row("vmrep push, one remote file per chunk (old path)", push1_chunks_s,
                   mib(push1_chunks.bytes_sent()) + " (" + std::to_string(push1_chunks.chunks_sent) + " chunks)")
            << row(std::string("**vmrep push") + (push1.packed ? ", one pack" : "") +
                       "** (transfer only: pack + manifest into incoming/)",
                   push1_s, mib(push1.bytes_sent()) + " (" + std::to_string(push1.chunks_sent) + " chunks)", true)
            << row("**vmrep push + accept_incoming** (backup unpacked, durable, version visible)", push1_s + accept1_s,
                   mib(push1.bytes_sent()), true)
            << "\n"
            << "accept_incoming alone: " << fmt("%.2f", accept1_s) << " s (runs on the backup, after the transfer).\n"
            << "vmrep push excludes ingest (chunk + hash + compress + store), which the checkpoint does anyway: "
            << fmt("%.2f", ingest1_s) << " s for v1 (" << ingest1.new_chunks << " new chunks of " << ingest1.chunks << ").\n"
            << "*payload before SSH framing; rsync's from its --stats.\n\n"
            << "### (b) Next version, " << fmt("%.1f", args.change_pct) << "% of pages rewritten (runs of 1-32 pages)\n\n"
            << "| method | wall s | bytes sent | of full size | vs scp | vs rsync |\n|---|---|---|---|---|---|\n"
            << "| scp (whole file) | " << fmt("%.2f", scp2_s) << " | " << mib(image.size()) << " | 100% | 1.00 | "
            << fmt("%.2f", scp2_s / rsync2_s) << " |\n"
            << "| rsync (delta against v1) | " << fmt("%.2f", rsync2_s) << " | " << mib(rsync_bytes_sent(rsync2)) << " | "
            << fmt("%.1f%%", 100.0 * static_cast<double>(rsync_bytes_sent(rsync2)) / size) << " | "
            << fmt("%.2f", rsync2_s / scp2_s) << " | 1.00 |\n"
            << "| **vmrep push" << (push2.packed ? " (pack) + accept_incoming " + fmt("%.2f", accept2_s) + " s" : "") << "** | "
            << fmt("%.2f", push2_s + accept2_s) << " | " << mib(push2.bytes_sent()) << " ("
            << push2.chunks_sent << " of " << push2.chunks_referenced << " chunks) | **"
            << fmt("%.1f%%", 100.0 * static_cast<double>(push2.bytes_sent()) / size) << "** | "
            << fmt("%.2f", (push2_s + accept2_s) / scp2_s) << " | " << fmt("%.2f", (push2_s + accept2_s) / rsync2_s)
            << " |\n\n"
            << "New plain bytes chunked in v2: " << mib(ingest2.new_bytes) << " ("
            << fmt("%.1f%%", 100.0 * static_cast<double>(ingest2.new_bytes) / size) << "); ingest " << fmt("%.2f", ingest2_s)
            << " s.\n\n"
            << "### (c) Throughput\n\n| stage | MB/s |\n|---|---|\n"
            << "| chunking + SHA-256, in memory, one core | " << fmt("%.0f", mb / chunk_hash_s) << " |\n"
            << "| ingest v1 (chunk, hash, zstd, write, fsync) | " << fmt("%.0f", mb / ingest1_s) << " |\n"
            << "| vmrep push v1 (file MB / wall) | " << fmt("%.0f", mb / push1_s) << " |\n"
            << "| vmrep push v1 (wire MB / wall) | " << fmt("%.0f", static_cast<double>(push1.bytes_sent()) / 1e6 / push1_s)
            << " |\n"
            << "| scp | " << fmt("%.0f", mb / scp_s) << " |\n";
  return sink == 0xff ? 0 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "transfer_bench: " << e.what() << "\n";
    return 1;
  }
}

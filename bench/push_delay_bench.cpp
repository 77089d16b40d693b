// push_delay_bench: how long pushing the next version (an idle guest's delta,
// about 1 MiB of a 128 MiB memory image) to a backup takes when the backup is
// far away: 0 / 25 / 100 / 300 ms added to every round trip (bench/delay_proxy
// in front of a real OpenSSH sshd on loopback, started like tests/ssh does).
// Prints Markdown for BENCHMARKS.md.
//
//   push_delay_bench [--size-mib 128] [--delta-kib 1024] [--delays 0,25,100,300]
//                    [--reps 10] [--listing-reps 3] [--seed 1]
//
// Two ways of pushing, each against its own backup store that holds the
// previous version (accepted after every push, untimed):
//   listing   what every push did before issue 14, and what a push still does
//             when the primary knows nothing of the backup: a new SSH session,
//             every shard directory the version uses listed, the missing
//             chunks as one pack with 8 x 30,000 bytes in flight.
//   acked     what the agent does now: the Pusher (and its session) kept from
//             the previous push, the missing chunks computed against the
//             version the backup acknowledged, one pack with 64 x 30,000 bytes
//             in flight.
// The first push of each series is a warm-up (it opens the kept session) and
// is not counted. "first progress" is when the progress callback first saw a
// byte acknowledged: what `vmrepctl status` shows moving.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/delay_proxy.hpp"
#include "snapshots/chunker.hpp"
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

constexpr std::size_t page = 4096;
const snap::MacKey& key() {
  static const snap::MacKey k(snap::Bytes(32, 7));
  return k;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Args {
  std::size_t size_mib = 128;
  std::size_t delta_kib = 1024;
  std::vector<unsigned> delays{0, 25, 100, 300};
  unsigned reps = 10;
  unsigned listing_reps = 3;
  std::uint64_t seed = 1;
};

std::vector<unsigned> parse_list(const std::string& s) {
  std::vector<unsigned> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(static_cast<unsigned>(std::stoul(item)));
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help") {
      std::cout << "push_delay_bench [--size-mib N] [--delta-kib N] [--delays 0,25,100,300] [--reps N] "
                   "[--listing-reps N] [--seed N]\n";
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value for " + k);
    const std::string v = argv[++i];
    if (k == "--size-mib") a.size_mib = std::stoul(v);
    else if (k == "--delta-kib") a.delta_kib = std::stoul(v);
    else if (k == "--delays") a.delays = parse_list(v);
    else if (k == "--reps") a.reps = static_cast<unsigned>(std::stoul(v));
    else if (k == "--listing-reps") a.listing_reps = static_cast<unsigned>(std::stoul(v));
    else if (k == "--seed") a.seed = std::stoull(v);
    else throw std::runtime_error("unknown option " + k);
  }
  if (a.reps == 0 || a.listing_reps == 0) throw std::runtime_error("--reps and --listing-reps must be at least 1");
  return a;
}

// Memory-like: a third zero pages, the rest random (incompressible, so the
// delta's bytes are what crosses the wire).
snap::Bytes first_image(std::size_t bytes, std::mt19937_64& rng) {
  snap::Bytes out(bytes, 0);
  for (std::size_t off = 0; off + page <= bytes; off += page) {
    if (rng() % 3 == 0) continue;
    for (std::size_t i = 0; i < page; i += 8) {
      const std::uint64_t v = rng();
      for (std::size_t b = 0; b < 8; ++b) out[off + i + b] = static_cast<std::uint8_t>(v >> (8 * b));
    }
  }
  return out;
}

// An idle guest's delta: runs of 1..8 pages rewritten at random places until
// `bytes` changed, so the new chunks spread over the whole image (and over
// most shard directories).
void change(snap::Bytes& image, std::size_t bytes, std::mt19937_64& rng) {
  const std::size_t pages = image.size() / page;
  for (std::size_t changed = 0; changed < bytes;) {
    const std::size_t run = 1 + rng() % 8;
    const std::size_t first = rng() % pages;
    for (std::size_t p = first; p < std::min(pages, first + run); ++p) {
      for (std::size_t i = 0; i < page; ++i) image[p * page + i] = static_cast<std::uint8_t>(rng());
      changed += page;
    }
  }
}

struct Sample {
  double push_s = 0;
  double first_progress_s = 0;
  std::uint64_t round_trips = 0;
  std::uint64_t bytes = 0;
};

enum class Mode { listing, acked };

struct Series {
  unsigned delay_ms = 0;
  Mode mode = Mode::acked;
  std::vector<Sample> samples;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

class Bench {
 public:
  explicit Bench(const Args& args) : args_(args), rng_(args.seed) {}

  int run() {
    const unsigned versions = std::max(args_.reps, args_.listing_reps) + 2;  // base, warm-up, counted
    make_versions(versions);
    std::vector<Series> results;
    for (const unsigned d : args_.delays) {
      for (const Mode m : {Mode::listing, Mode::acked}) {
        const unsigned reps = m == Mode::listing ? args_.listing_reps : args_.reps;
        std::cerr << "delay " << d << " ms, " << (m == Mode::listing ? "listing" : "acked") << ": " << reps
                  << " pushes\n";
        results.push_back(series(d, m, reps));
      }
    }
    print(results);
    return 0;
  }

 private:
  void make_versions(unsigned n) {
    snap::Bytes image = first_image(args_.size_mib << 20, rng_);
    for (std::uint64_t seq = 1; seq <= n; ++seq) {
      if (seq > 1) change(image, args_.delta_kib << 10, rng_);
      const fs::path file = sshd_.dir() / "image";
      vmrep::test::write_bytes(file, image);
      snap::NewVersion nv{"bench", {1, seq}, std::nullopt, 0, "<domain/>", {{"memory", file}}};
      if (seq > 1) nv.parent = snap::Version{1, seq - 1};
      snap::write_version(local_, snap::Chunker{}, nv);
    }
  }

  sftp::Endpoint through(const vmrep::bench::DelayProxy& proxy) {
    sftp::Endpoint e = sshd_.endpoint();
    e.port = proxy.port();
    e.known_hosts = sshd_.dir() / ("known_hosts-" + std::to_string(proxy.port()));
    std::ifstream in(sshd_.host_public_key());
    std::string host_key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(e.known_hosts) << "[127.0.0.1]:" << proxy.port() << " " << host_key;
    return e;
  }

  sftp::PushOptions options(const fs::path& root, Mode m) const {
    sftp::PushOptions o;
    o.remote_root = root.string();
    if (m == Mode::listing) o.pack_window_bytes = o.pack_write_bytes;
    return o;
  }

  // One backup store, seeded with version 1 over the undelayed sshd; then
  // versions 2 (warm-up) .. reps+2 through the delay, each accepted after.
  Series series(unsigned delay_ms, Mode m, unsigned reps) {
    const fs::path root = sshd_.dir() / ("remote-" + std::to_string(delay_ms) + (m == Mode::listing ? "-l" : "-a"));
    snap::Store remote(root, key());
    std::set<snap::ChunkId> verified;
    auto accept = [&] {
      const auto st = snap::accept_incoming(remote, &verified);
      if (!st.errors.empty()) throw std::runtime_error("accept_incoming: " + st.errors.front());
    };
    sftp::Pusher(local_, sshd_.endpoint(), options(root, m)).push("bench", {1, 1}, sftp::BackupEmpty{});
    accept();
    vmrep::bench::DelayProxy proxy(sshd_.port(), std::chrono::milliseconds(delay_ms));
    const sftp::Endpoint far = through(proxy);
    sftp::Pusher kept(local_, far, options(root, m));
    Series s{delay_ms, m, {}};
    for (std::uint64_t seq = 2; seq <= reps + 2; ++seq) {
      const snap::Version v{1, seq};
      const auto t0 = Clock::now();
      double first = -1;
      const sftp::ProgressFn progress = [&](const sftp::PushProgress& p) {
        if (first < 0 && p.bytes_done > 0) first = seconds_since(t0);
      };
      const sftp::PushStats st =
          m == Mode::listing ? sftp::Pusher(local_, far, options(root, m)).push("bench", v, sftp::BackupUnknown{}, progress)
                             : kept.push("bench", v, sftp::BackupHolds{{{1, seq - 1}}}, progress);
      const double took = seconds_since(t0);
      accept();
      remote.load("bench", v);  // it arrived whole and verifies
      if (seq > 2) s.samples.push_back({took, first, st.round_trips, st.bytes_sent()});
    }
    return s;
  }

  void print(const std::vector<Series>& results) const {
    std::printf("Next-version push, %zu MiB memory image, %zu KiB rewritten per version; "
                "listing: %u pushes per delay, acked: %u.\n\n",
                args_.size_mib, args_.delta_kib, args_.listing_reps, args_.reps);
    std::printf("| added delay | path | push median | p95 | max | first progress (median) | round trips | "
                "bytes sent | listing / acked (median) |\n|---|---|---|---|---|---|---|---|---|\n");
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Series& s = results[i];
      std::vector<double> t, f, rt, b;
      for (const auto& x : s.samples) {
        t.push_back(x.push_s);
        f.push_back(x.first_progress_s);
        rt.push_back(static_cast<double>(x.round_trips));
        b.push_back(static_cast<double>(x.bytes));
      }
      std::string ratio;
      if (s.mode == Mode::acked && i > 0 && results[i - 1].delay_ms == s.delay_ms) {
        std::vector<double> l;
        for (const auto& x : results[i - 1].samples) l.push_back(x.push_s);
        char r[32];
        std::snprintf(r, sizeof r, "%.1fx", percentile(l, 0.5) / percentile(t, 0.5));
        ratio = r;
      }
      std::printf("| %u ms | %s | %.2f s | %.2f s | %.2f s | %.2f s | %.0f | %.2f MiB | %s |\n", s.delay_ms,
                  s.mode == Mode::listing ? "listing (before)" : "acked base (after)", percentile(t, 0.5),
                  percentile(t, 0.95), percentile(t, 1.0), percentile(f, 0.5), percentile(rt, 0.5),
                  percentile(b, 0.5) / (1 << 20), ratio.c_str());
    }
  }

  Args args_;
  std::mt19937_64 rng_;
  vmrep::tests::ssh::SshdFixture sshd_;
  snap::Store local_{sshd_.dir() / "local", key()};
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
    if (!vmrep::tests::ssh::sshd_available()) {
      std::cerr << "push_delay_bench: OpenSSH sshd is not installed (apt-get install openssh-server)\n";
      return 77;
    }
    return Bench(args).run();
  } catch (const std::exception& e) {
    std::cerr << "push_delay_bench: " << e.what() << "\n";
    return 1;
  }
}

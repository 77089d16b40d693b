#pragma once
// Shared by the SFTP push tests: a local store, a real sshd on loopback
// (sshd_fixture.hpp) with the backup's store root under its directory, and
// memory-image-like versions.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "snapshots/ingest.hpp"
#include "snapshots/store.hpp"
#include "tests/ssh/sshd_fixture.hpp"
#include "tests/support/file_bytes.hpp"
#include "transport/sftp/pusher.hpp"

namespace vmrep::tests::ssh {

inline snapshots::MacKey test_key(std::uint8_t fill = 7) { return snapshots::MacKey(snapshots::Bytes(32, fill)); }

// A memory-image-like buffer: zero pages, repeated pages, and random pages.
inline snapshots::Bytes make_image(std::size_t bytes, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  snapshots::Bytes out(bytes);
  for (std::size_t page = 0; page * 4096 < bytes; ++page) {
    const std::size_t kind = rng() % 10;
    for (std::size_t i = page * 4096; i < std::min(bytes, (page + 1) * 4096); i += 8) {
      const std::uint64_t v = kind < 3 ? 0 : kind < 5 ? (i % 4096) * 0x9e3779b97f4a7c15ULL : rng();
      for (std::size_t b = 0; b < 8 && i + b < bytes; ++b) out[i + b] = static_cast<std::uint8_t>(v >> (8 * b));
    }
  }
  return out;
}

inline std::set<snapshots::ChunkId> ids_of(const snapshots::Manifest& m) {
  std::set<snapshots::ChunkId> ids;
  for (const auto& f : m.files) {
    for (const auto& c : f.chunks) ids.insert(c.id);
  }
  return ids;
}

class PushFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!sshd_available()) GTEST_SKIP() << "OpenSSH sshd is not installed (apt-get install openssh-server)";
    sshd_ = std::make_unique<SshdFixture>();
    local_ = std::make_unique<snapshots::Store>(sshd_->dir() / "local", test_key());
    remote_root_ = sshd_->dir() / "remote";
  }
  void TearDown() override {
    local_.reset();
    sshd_.reset();
  }

  // Writes `image` as version (1, seq) of "web"; returns its manifest.
  snapshots::Manifest add_version(std::uint64_t seq, const snapshots::Bytes& image) {
    const std::filesystem::path file = sshd_->dir() / ("image-" + std::to_string(seq));
    vmrep::test::write_bytes(file, image);
    snapshots::NewVersion nv;
    nv.service = "web";
    nv.version = {1, seq};
    if (seq > 1) nv.parent = snapshots::Version{1, seq - 1};
    nv.created_unix_ms = 1'700'000'000'000 + static_cast<std::int64_t>(seq);
    nv.domain_xml = "<domain/>";
    nv.files = {{"memory", file}};
    return snapshots::write_version(*local_, snapshots::Chunker{}, nv);
  }

  transport::sftp::PushOptions options() const {
    transport::sftp::PushOptions o;
    o.remote_root = remote_root_.string();
    return o;
  }

  std::unique_ptr<SshdFixture> sshd_;
  std::unique_ptr<snapshots::Store> local_;
  std::filesystem::path remote_root_;
};

}  // namespace vmrep::tests::ssh

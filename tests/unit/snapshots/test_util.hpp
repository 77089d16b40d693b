#pragma once
// Shared by the snapshots tests: scratch directories, seeded data, files.

#include "tests/support/temp_dir.hpp"
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "snapshots/hash.hpp"

namespace vmrep::snapshots::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content.
using TempDir = vmrep::test::TempDir;

Bytes random_bytes(std::size_t n, std::uint64_t seed);
// Overwrites `pages` random 4 KiB pages of `data` with fresh random bytes.
void mutate_pages(Bytes& data, std::size_t pages, std::uint64_t seed);

MacKey test_key(std::uint8_t fill = 0x42);

void write_file(const std::filesystem::path& path, ByteView data);
Bytes read_file(const std::filesystem::path& path);

// Flips one bit of the byte at `offset` of an existing file.
void flip_byte(const std::filesystem::path& path, std::uint64_t offset);

inline ByteView view(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

}  // namespace vmrep::snapshots::testing

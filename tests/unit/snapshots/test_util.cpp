#include "tests/unit/snapshots/test_util.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace vmrep::snapshots::testing {


Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<std::uint8_t>(v >> (8 * b));
  }
  for (; i < n; ++i) out[i] = static_cast<std::uint8_t>(rng());
  return out;
}

void mutate_pages(Bytes& data, std::size_t pages, std::uint64_t seed) {
  constexpr std::size_t page = 4096;
  std::mt19937_64 rng(seed);
  const std::size_t page_count = data.size() / page;
  for (std::size_t i = 0; i < pages && page_count > 0; ++i) {
    const std::size_t p = rng() % page_count;
    const Bytes fresh = random_bytes(page, rng());
    std::copy(fresh.begin(), fresh.end(), data.begin() + static_cast<std::ptrdiff_t>(p * page));
  }
}

MacKey test_key(std::uint8_t fill) { return MacKey(Bytes(32, fill)); }

void write_file(const std::filesystem::path& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void flip_byte(const std::filesystem::path& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x01);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  if (!f) throw std::runtime_error("cannot flip a byte of " + path.string());
}

}  // namespace vmrep::snapshots::testing

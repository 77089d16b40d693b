// Arbitrary bytes as a pack (snapshots/pack.hpp), read as a receiver reads an
// incoming pack: unpack must never crash, never allocate beyond its bounds,
// throw nothing but SnapshotError, and never make an unverified chunk
// visible: after every input, every chunk file in the store must read back
// (read() re-hashes it), and every record it reported taken must be there.
// The store lives in a scratch directory emptied after each input.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "snapshots/chunk_store.hpp"
#include "snapshots/errors.hpp"
#include "snapshots/pack.hpp"

using namespace vmrep::snapshots;
namespace fs = std::filesystem;

namespace {

fs::path scratch() {
  static const fs::path dir = [] {
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    const fs::path d = base / ("vmrep-pack-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void check_and_empty(ChunkStore& store) {
  Bytes plain;
  for (const auto& e : fs::recursive_directory_iterator(store.dir())) {
    if (!e.is_regular_file()) continue;
    const auto id = ChunkId::from_hex(e.path().filename().string());
    if (!id) continue;  // temp files are not visible chunks
    store.read(*id, plain);  // throws (and the fuzzer reports) if unverified bytes got in
  }
  for (const auto& e : fs::directory_iterator(store.dir())) fs::remove_all(e.path());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ChunkStore store(scratch() / "chunks");
  try {
    const UnpackStats s = unpack_bytes_into(store, ByteView(data, size), "fuzz-input");
    if (s.records > s.records_declared || s.bytes > size) std::abort();
    for (const auto& id : s.ids) {
      if (!store.contains(id)) std::abort();
    }
  } catch (const SnapshotError&) {
    // refused: fine, as long as nothing unverified is visible (checked below)
  }
  try {
    check_and_empty(store);
  } catch (const SnapshotError&) {
    std::abort();
  }
  return 0;
}

// Arbitrary bytes as a manifest file, read as a backup reads one from a peer:
// parse_manifest() must refuse anything malformed with a one-line, printable
// ManifestError (any other exception, crash or sanitizer report is a bug),
// and whatever it accepts must be valid and survive a round trip exactly.
// The seed corpus holds manifests signed with this target's key, so the
// accepting path is reached too.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "snapshots/errors.hpp"
#include "snapshots/manifest.hpp"

using namespace vmrep::snapshots;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const MacKey key(Bytes(32, 0x42));  // tests/fuzz/corpus/manifest/ is signed with it
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Manifest m = parse_manifest(text, "fuzz.manifest", key);
    if (check_manifest(m)) std::abort();  // accepted something invalid
    const std::string again = serialize_manifest(m, key);
    if (!(parse_manifest(again, "again", key) == m)) std::abort();
  } catch (const ManifestError& e) {
    for (const char* p = e.what(); *p; ++p) {
      if (*p < 0x20 || *p > 0x7e) std::abort();  // not one printable line
    }
  }
  return 0;
}

#pragma once
// SHA-256 and HMAC-SHA256 through OpenSSL 3 EVP (which uses the CPU's SHA
// extensions where present), and the ChunkId they produce.
//
// Thread safety: every function may be called from any thread; each thread
// reuses its own digest context.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmrep::snapshots {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// SHA-256 of a chunk's plain (uncompressed) bytes: its name in every store.
struct ChunkId {
  std::array<std::uint8_t, 32> bytes{};

  friend auto operator<=>(const ChunkId&, const ChunkId&) = default;

  // 64 lowercase hex digits.
  std::string hex() const;
  // The first 12 hex digits, for messages that list many chunks.
  std::string short_hex() const { return hex().substr(0, 12); }
  // Exactly 64 lowercase hex digits, else nullopt (no other spelling is a
  // chunk name: one id, one file name).
  static std::optional<ChunkId> from_hex(std::string_view hex);
};

ChunkId sha256(ByteView data);

// HMAC key shared by the cluster (manifests are authenticated with it).
// At least 16 bytes; the bytes are wiped when the key is destroyed.
class MacKey {
 public:
  static constexpr std::size_t min_bytes = 16;
  explicit MacKey(Bytes key);  // SnapshotError when shorter than min_bytes
  MacKey(const MacKey& other) : MacKey(other.key_) {}
  MacKey& operator=(const MacKey& other);
  ~MacKey();

  ByteView bytes() const { return key_; }

 private:
  Bytes key_;
};

using Mac = std::array<std::uint8_t, 32>;

Mac hmac_sha256(const MacKey& key, ByteView data);
// Constant-time comparison (CRYPTO_memcmp).
bool mac_equal(const Mac& a, const Mac& b);

std::string to_hex(ByteView data);

}  // namespace vmrep::snapshots

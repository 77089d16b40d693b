#include "snapshots/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>

#include "snapshots/errors.hpp"

namespace vmrep::snapshots {
namespace {

struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct MacFree {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// Fetched once: OpenSSL 3's implicit fetch (EVP_sha256() at every init) takes
// a lock per call, which shows at one call per 8 KiB chunk.
const EVP_MD* sha256_md() {
  static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  if (!md) throw SnapshotError("OpenSSL: SHA256 is not available");
  return md.get();
}

EVP_MD_CTX* thread_md_ctx() {
  thread_local const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) throw SnapshotError("OpenSSL: out of memory (EVP_MD_CTX_new)");
  return ctx.get();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string to_hex(ByteView data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(data.size() * 2, '0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  return out;
}

std::string ChunkId::hex() const { return to_hex(bytes); }

std::optional<ChunkId> ChunkId::from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  ChunkId id;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return id;
}

ChunkId sha256(ByteView data) {
  EVP_MD_CTX* ctx = thread_md_ctx();
  ChunkId id;
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1 || EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, id.bytes.data(), &len) != 1 || len != id.bytes.size()) {
    throw SnapshotError("OpenSSL: SHA-256 failed");
  }
  return id;
}

MacKey::MacKey(Bytes key) : key_(std::move(key)) {
  if (key_.size() < min_bytes) {
    throw SnapshotError("cluster MAC key: " + std::to_string(key_.size()) + " bytes, need at least " +
                        std::to_string(min_bytes));
  }
}

MacKey& MacKey::operator=(const MacKey& other) {
  if (this != &other) {
    OPENSSL_cleanse(key_.data(), key_.size());
    key_ = other.key_;
  }
  return *this;
}

MacKey::~MacKey() { OPENSSL_cleanse(key_.data(), key_.size()); }

Mac hmac_sha256(const MacKey& key, ByteView data) {
  static const std::unique_ptr<EVP_MAC, MacFree> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!hmac) throw SnapshotError("OpenSSL: HMAC is not available");
  const std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(hmac.get()));
  if (!ctx) throw SnapshotError("OpenSSL: out of memory (EVP_MAC_CTX_new)");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  Mac mac{};
  std::size_t len = 0;
  const ByteView k = key.bytes();
  if (EVP_MAC_init(ctx.get(), k.data(), k.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac.data(), &len, mac.size()) != 1 || len != mac.size()) {
    throw SnapshotError("OpenSSL: HMAC-SHA256 failed");
  }
  return mac;
}

bool mac_equal(const Mac& a, const Mac& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace vmrep::snapshots

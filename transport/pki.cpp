// pki: a cluster CA and node certificates with the OpenSSL 3 EVP API.
//
// Files are written with O_CREAT|O_EXCL (keys 0600, certificates 0644) and
// fsynced; both target files are checked first, so a refused call leaves
// nothing behind, and a failure half-way removes what it wrote.

#include "transport/pki.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace vmrep::transport::pki {
namespace {

namespace fs = std::filesystem;

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// Seconds of clock skew between hosts a fresh certificate tolerates.
constexpr long kNotBeforeSkewSeconds = 300;
constexpr std::size_t kMaxNameLength = 64;

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

// Renewing means new files: the running daemons keep reading the old ones
// until restarted, so nothing is overwritten in place.
constexpr const char* kAlreadyExists =
    "already exists; refusing to overwrite (to extend a node certificate, use vmrepctl pki renew; to replace "
    "it, move the old files aside first, e.g. into old/, then run this again; a daemon reads new files on "
    "SIGHUP)";

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw std::runtime_error("pki: " + file.string() + ": " + what);
}

void refuse_existing(const fs::path& file) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(file, ec))) fail(file, kAlreadyExists);
}

void check_name(const fs::path& file, const std::string& name, bool node) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength && name.front() != '.' && name.front() != '-';
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '-' || c == '.' || c == '_' || (!node && c == ' ');
    ok = ok && allowed;
  }
  if (node && name == "ca") ok = false;
  if (!ok) {
    fail(file, "invalid " + std::string(node ? "node" : "cluster") + " name '" + name +
                   "' (letters, digits, '-', '.', '_'; at most 64)");
  }
}

void write_exclusive(const fs::path& file, const std::string& data, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) fail(file, kAlreadyExists);
    fail(file, std::string("cannot create: ") + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(file.c_str());
    fail(file, std::string("cannot write: ") + std::strerror(saved != 0 ? saved : errno));
  }
}

KeyPtr generate_key(const fs::path& file) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail(file, "cannot generate an EC P-256 key: " + openssl_error());
  return key;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size > 0 ? size : 0));
}

std::string key_pem(const fs::path& file, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail(file, "cannot encode key: " + openssl_error());
  }
  return bio_text(bio.get());
}

std::string cert_pem(const fs::path& file, X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail(file, "cannot encode certificate: " + openssl_error());
  return bio_text(bio.get());
}

KeyPtr load_key(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) fail(file, "cannot open: " + openssl_error());
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail(file, "not a PEM private key: " + openssl_error());
  return key;
}

CertPtr load_cert(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) fail(file, "cannot open: " + openssl_error());
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail(file, "not a PEM certificate: " + openssl_error());
  return cert;
}

void add_ext(const fs::path& file, X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  const bool ok = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  if (!ok) fail(file, std::string("cannot add extension ") + OBJ_nid2sn(nid) + ": " + openssl_error());
}

void set_name(const fs::path& file, X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                 -1, -1, 0) != 1) {
    fail(file, std::string("cannot set ") + field + ": " + openssl_error());
  }
}

// The certificate body common to the CA and the nodes: v3, random serial,
// validity, subject O/CN, public key. Extensions and signature by the caller.
CertPtr new_cert(const fs::path& file, EVP_PKEY* key, const std::string& org, const std::string& cn, int days) {
  if (days <= 0) fail(file, "validity of " + std::to_string(days) + " days");
  CertPtr cert(X509_new());
  BnPtr serial(BN_new());
  bool ok = cert && serial && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kNotBeforeSkewSeconds) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days) != nullptr &&
            X509_set_pubkey(cert.get(), key) == 1;
  if (!ok) fail(file, "cannot build certificate: " + openssl_error());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!org.empty()) set_name(file, subject, "O", org);
  set_name(file, subject, "CN", cn);
  return cert;
}

void sign(const fs::path& file, X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) fail(file, "cannot sign certificate: " + openssl_error());
}

std::string subject_field(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  std::string out = len > 0 ? std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len)) : "";
  OPENSSL_free(utf8);
  return out;
}

// Writes key then certificate; removes the key if the certificate fails.
void write_pair(const fs::path& key_file, EVP_PKEY* key, const fs::path& cert_file, X509* cert) {
  const std::string key_text = key_pem(key_file, key);
  const std::string cert_text = cert_pem(cert_file, cert);
  write_exclusive(key_file, key_text, 0600);
  try {
    write_exclusive(cert_file, cert_text, 0644);
  } catch (...) {
    ::unlink(key_file.c_str());
    throw;
  }
}

}  // namespace

void init(const std::string& dir, const std::string& cluster, int valid_days) {
  const fs::path root(dir);
  const fs::path key_file = root / "ca.key";
  const fs::path cert_file = root / "ca.crt";
  check_name(cert_file, cluster, /*node=*/false);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    fs::create_directories(root, ec);
    if (ec) fail(root, "cannot create directory: " + ec.message());
    fs::permissions(root, fs::perms::owner_all, ec);
  }
  refuse_existing(key_file);
  refuse_existing(cert_file);

  KeyPtr key = generate_key(key_file);
  CertPtr cert = new_cert(cert_file, key.get(), cluster, cluster + " CA", valid_days);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    fail(cert_file, "cannot set issuer: " + openssl_error());
  }
  add_ext(cert_file, cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert_file, cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert_file, cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert_file, cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
  sign(cert_file, cert.get(), key.get());
  write_pair(key_file, key.get(), cert_file, cert.get());
}

namespace {

struct Authority {
  fs::path cert_file;
  CertPtr cert;
  KeyPtr key;
};

Authority load_authority(const fs::path& root) {
  Authority ca{root / "ca.crt", nullptr, nullptr};
  ca.cert = load_cert(ca.cert_file);
  ca.key = load_key(root / "ca.key");
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    ERR_clear_error();
    fail(root / "ca.key", "does not match " + ca.cert_file.string());
  }
  return ca;
}

// A node certificate for `key`: CN=node, O=org, SAN DNS:node, signed by the CA.
CertPtr node_cert(const fs::path& cert_file, const Authority& ca, EVP_PKEY* key, const std::string& org,
                  const std::string& node, int valid_days) {
  CertPtr cert = new_cert(cert_file, key, org, node, valid_days);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    fail(cert_file, "cannot set issuer: " + openssl_error());
  }
  const std::string san = "DNS:" + node;
  add_ext(cert_file, cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert_file, cert.get(), ca.cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(cert_file, cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  add_ext(cert_file, cert.get(), ca.cert.get(), NID_subject_alt_name, san.c_str());
  add_ext(cert_file, cert.get(), ca.cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert_file, cert.get(), ca.cert.get(), NID_authority_key_identifier, "keyid:always");
  sign(cert_file, cert.get(), ca.key.get());
  return cert;
}

}  // namespace

void issue(const std::string& dir, const std::string& node, int valid_days, const std::string& cluster) {
  const fs::path root(dir);
  const fs::path key_file = root / (node + ".key");
  const fs::path cert_file = root / (node + ".crt");
  check_name(cert_file, node, /*node=*/true);
  if (!cluster.empty()) check_name(cert_file, cluster, /*node=*/false);
  refuse_existing(key_file);
  refuse_existing(cert_file);
  const Authority ca = load_authority(root);
  const std::string org = cluster.empty() ? subject_field(ca.cert.get(), NID_organizationName) : cluster;
  if (org.empty()) fail(ca.cert_file, "has no O= (cluster name); give the node's cluster with --cluster");
  KeyPtr key = generate_key(key_file);
  CertPtr cert = node_cert(cert_file, ca, key.get(), org, node, valid_days);
  write_pair(key_file, key.get(), cert_file, cert.get());
}

Renewal renew(const std::string& dir, const std::string& node, int valid_days) {
  const fs::path root(dir);
  const fs::path key_file = root / (node + ".key");
  const fs::path cert_file = root / (node + ".crt");
  check_name(cert_file, node, /*node=*/true);
  const Authority ca = load_authority(root);
  KeyPtr key = load_key(key_file);
  CertPtr old = load_cert(cert_file);
  if (X509_check_private_key(old.get(), key.get()) != 1) {
    ERR_clear_error();
    fail(key_file, "does not match " + cert_file.string());
  }
  const std::string org = subject_field(old.get(), NID_organizationName);
  if (org.empty()) fail(cert_file, "has no O= (cluster name); issue a new one instead");
  Renewal out;
  out.old_not_after = certificate_not_after(cert_file.string());
  CertPtr cert = node_cert(cert_file, ca, key.get(), org, node, valid_days);
  // Whole or not at all: a daemon reloading at any moment reads the old file
  // or the new one.
  const fs::path temp = root / (node + ".crt.new");
  ::unlink(temp.c_str());
  write_exclusive(temp, cert_pem(cert_file, cert.get()), 0644);
  if (::rename(temp.c_str(), cert_file.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    fail(cert_file, std::string("cannot replace: ") + std::strerror(e));
  }
  out.new_not_after = certificate_not_after(cert_file.string());
  return out;
}

std::int64_t certificate_not_after(const std::string& cert_file) {
  const fs::path file(cert_file);
  CertPtr cert = load_cert(file);
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) fail(file, "unreadable notAfter: " + openssl_error());
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::int64_t days_left(std::int64_t not_after, std::int64_t now) {
  const std::int64_t left = not_after - now;
  return left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
}

ExpiryLevel expiry_level(std::int64_t not_after, std::int64_t now, std::int64_t warn_days) {
  if (now > not_after) return ExpiryLevel::expired;
  if (not_after - now < warn_days * 86400) return ExpiryLevel::warning;
  return ExpiryLevel::ok;
}

std::string rfc3339(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char text[32] = {};
  if (::gmtime_r(&t, &tm) == nullptr || std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(unix_seconds);
  }
  return text;
}

std::string expiry_message(const std::string& cert_file, std::int64_t not_after, std::int64_t now) {
  const std::string renew = "; renew it (vmrepctl pki renew NODE, then SIGHUP) before peers refuse this node";
  switch (expiry_level(not_after, now)) {
    case ExpiryLevel::ok:
      return {};
    case ExpiryLevel::warning:
      return "TLS certificate " + cert_file + " expires " + rfc3339(not_after) + ", in " +
             std::to_string(days_left(not_after, now)) + " day(s)" + renew;
    case ExpiryLevel::expired:
      return "TLS certificate " + cert_file + " expired " + rfc3339(not_after) +
             "; peers refuse this node and it refuses them; renew it (vmrepctl pki renew NODE, then SIGHUP)";
  }
  return {};
}

}  // namespace vmrep::transport::pki

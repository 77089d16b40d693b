// TLS context construction and certificate inspection (OpenSSL 3).

#include "transport/tls_context.hpp"

#include "transport/mesh_state.hpp"  // printable

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace vmrep::transport::detail {
namespace ssl = boost::asio::ssl;
namespace {

void require_readable(const std::string& what, const std::string& file) {
  std::error_code ec;
  if (file.empty()) throw std::runtime_error("TLS " + what + " file is not configured");
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw std::runtime_error("cannot load TLS " + what + " " + file + ": no such file");
  }
}

// A private key group or others can read is refused, not used: whoever reads
// it can join the mesh as this node. (Checked by name before OpenSSL opens
// it: a swap in between needs write access to the key's directory, which is
// as good as owning the key.)
void require_private(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  throw std::runtime_error("tls.key " + file + ": " + ((st.st_mode & 044) != 0 ? "readable" : "accessible") +
                           " by group or others (mode " + octal + "); fix with: chmod 600 " + file);
}

[[noreturn]] void fail(const std::string& what, const std::string& file, const boost::system::error_code& ec) {
  throw std::runtime_error("cannot load TLS " + what + " " + file + ": " + ec.message());
}

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const std::string& ca_file, const std::string& cert_file,
                                               const std::string& key_file) {
  require_readable("CA", ca_file);
  require_readable("certificate", cert_file);
  require_readable("key", key_file);
  require_private(key_file);

  auto ctx = std::make_unique<ssl::context>(ssl::context::tls);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (ec) throw std::runtime_error("cannot configure TLS: " + ec.message());
  if (ctx->load_verify_file(ca_file, ec); ec) fail("CA", ca_file, ec);
  if (ctx->use_certificate_chain_file(cert_file, ec); ec) fail("certificate", cert_file, ec);
  if (ctx->use_private_key_file(key_file, ssl::context::pem, ec); ec) fail("key", key_file, ec);
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("cannot load TLS key " + key_file + ": it does not match certificate " +
                             cert_file);
  }
  return ctx;
}

namespace {

// The first `nid` entry of `cert`'s subject, as UTF-8; nullopt when none.
std::optional<std::string> subject_entry(X509* cert, int nid) {
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, nid, -1);
  if (index < 0) return std::nullopt;
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  std::string value = len > 0 ? std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len)) : "";
  OPENSSL_free(utf8);
  return value;
}

// The first `nid` entry of the verified peer certificate's subject.
std::optional<std::string> verified_peer_subject(SSL* ssl, int nid) {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  std::optional<std::string> value = subject_entry(cert, nid);
  X509_free(cert);
  return value;
}

}  // namespace

std::string verified_peer_common_name(SSL* ssl) {
  return verified_peer_subject(ssl, NID_commonName).value_or("");
}

std::optional<std::string> verified_peer_organization(SSL* ssl) {
  return verified_peer_subject(ssl, NID_organizationName);
}

std::string cluster_mismatch(const std::optional<std::string>& organization, const std::string& cluster) {
  if (!organization || organization->empty()) {
    return "certificate has no O= (cluster name), expected cluster '" + cluster +
           "'; reissue it with: vmrepctl pki issue NODE --dir CA_DIR --cluster '" + cluster + "'";
  }
  if (*organization == cluster) return {};
  return "certificate O= '" + printable(*organization) + "', expected cluster '" + cluster + "'";
}

std::optional<std::string> certificate_organization(const std::string& cert_file) {
  std::FILE* f = std::fopen(cert_file.c_str(), "re");
  if (f == nullptr) throw std::runtime_error(cert_file + ": cannot read the certificate");
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) throw std::runtime_error(cert_file + ": not a PEM certificate");
  std::optional<std::string> value = subject_entry(cert, NID_organizationName);
  X509_free(cert);
  return value;
}

}  // namespace vmrep::transport::detail

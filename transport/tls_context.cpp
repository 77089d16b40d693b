// TLS context construction and certificate inspection (OpenSSL 3).

#include "transport/tls_context.hpp"

#include <filesystem>
#include <stdexcept>

#include <openssl/err.h>
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

[[noreturn]] void fail(const std::string& what, const std::string& file, const boost::system::error_code& ec) {
  throw std::runtime_error("cannot load TLS " + what + " " + file + ": " + ec.message());
}

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const std::string& ca_file, const std::string& cert_file,
                                               const std::string& key_file) {
  require_readable("CA", ca_file);
  require_readable("certificate", cert_file);
  require_readable("key", key_file);

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

std::string verified_peer_common_name(SSL* ssl) {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::string cn;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len > 0) cn.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
  }
  X509_free(cert);
  return cn;
}

}  // namespace vmrep::transport::detail

#pragma once
// Private to transport/: the TLS material of one mesh, and what we read out of
// a peer's verified certificate.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

namespace vmrep::transport::detail {

// One context for both directions: our certificate and key, and the cluster
// CA as the only trust anchor. The verify mode is set per stream (a dialer
// verifies the server; a listener demands and verifies a client certificate).
// Throws std::runtime_error, one line naming the file, when a file is missing
// or unusable, or the key does not match the certificate.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file,
                                                            const std::string& cert_file,
                                                            const std::string& key_file);

// The CN of the peer's certificate, or "" when there is none or the chain was
// not verified (X509_V_OK). Call after a completed handshake.
std::string verified_peer_common_name(SSL* ssl);

// The O= (cluster name) of the peer's verified certificate; nullopt when the
// certificate has none, or there is no verified certificate.
std::optional<std::string> verified_peer_organization(SSL* ssl);

// Why a verified certificate with subject O= `organization` may not speak for
// a node of `cluster` ("" when it may): one CA can sign for several clusters,
// so the chain alone does not say which cluster a certificate belongs to. A
// certificate without O= is refused too, with the command that reissues it.
std::string cluster_mismatch(const std::optional<std::string>& organization, const std::string& cluster);

// The O= of the certificate in `cert_file` (PEM); nullopt when it has none.
// Throws std::runtime_error naming the file when it cannot be read.
std::optional<std::string> certificate_organization(const std::string& cert_file);

}  // namespace vmrep::transport::detail

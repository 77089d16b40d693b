#pragma once
// Private to transport/: the TLS material of one mesh, and what we read out of
// a peer's verified certificate.

#include <memory>
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

}  // namespace vmrep::transport::detail

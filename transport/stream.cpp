#include "transport/stream.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include "transport/tls_context.hpp"

namespace vmrep::transport::detail {

std::string Stream::peer_common_name() {
  if (!tls_) return {};
  return verified_peer_common_name(tls_->native_handle());
}

std::optional<std::string> Stream::peer_organization() {
  if (!tls_) return std::nullopt;
  return verified_peer_organization(tls_->native_handle());
}

std::string Stream::remote_text() {
  boost::system::error_code ec;
  const auto ep = socket().remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string Stream::read_error_text(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return "closed by peer";
  return ec.message();
}

void Stream::close() {
  auto& s = socket();
  if (!s.is_open()) return;
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}

}  // namespace vmrep::transport::detail

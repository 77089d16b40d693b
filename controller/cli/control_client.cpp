#include "controller/cli/control_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace vmrep::cli {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

Response exchange(http::verb verb, const std::string& socket_path, const std::string& target) {
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  boost::system::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec)
    throw Unreachable("cannot reach vmrepd at " + socket_path + ": " + ec.message() +
                      ". Is vmrepd running on this host? Start it with 'vmrepd --config FILE --node NAME', "
                      "or point vmrepctl at its socket with --socket PATH (or --config FILE --node NAME).");
  http::request<http::empty_body> req(verb, target, 11);
  req.set(http::field::host, "vmrepd");
  req.set(http::field::user_agent, "vmrepctl");
  http::write(socket, req, ec);
  if (ec) throw std::runtime_error("writing to " + socket_path + ": " + ec.message());
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(socket, buffer, parser, ec);
  if (ec) throw std::runtime_error("reading from " + socket_path + ": " + ec.message());
  return Response{parser.get().result_int(), parser.get().body()};
}

}  // namespace

Response get(const std::string& socket_path, const std::string& target) {
  return exchange(http::verb::get, socket_path, target);
}

Response post(const std::string& socket_path, const std::string& target) {
  return exchange(http::verb::post, socket_path, target);
}

}  // namespace vmrep::cli

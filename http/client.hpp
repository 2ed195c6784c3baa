#pragma once
// A small blocking HTTP/1.1 client for `raftd -join`: one request per
// connection, every step bounded by one deadline. Plain POSIX sockets; the
// reply is parsed by libhttp-parser (HTTP_RESPONSE mode), kept in client.cpp.
// Not for use on an actor thread: it blocks for up to `timeout`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace raftd::http {

/// Largest response (head and body) the client reads; more is an error.
inline constexpr size_t max_client_response_bytes = 4 << 20;

/// What came back.
struct client_response {
  int status = 0;
  std::string body;
  std::string location; ///< The Location header, "" if none.
};

/// Sends one request to `host_port` ("host:port", "[v6]:port", as
/// parse_host_port in messages/address.hpp reads it) over a new
/// connection with `Connection: close`, and reads the reply. `target` is the
/// origin form ("/join"); `content_type` is sent if not empty; the body is
/// always framed by Content-Length. Connect, send and receive together take
/// at most `timeout`, except name resolution (getaddrinfo cannot be bounded;
/// numeric addresses and /etc/hosts names resolve at once). A 1xx reply is
/// skipped. On failure returns nullopt and sets `error` to one line, e.g.
/// "connection refused", "timed out after 2000 ms", "malformed response";
/// a `host_port` that does not parse gives "bad address: " and the reason.
std::optional<client_response>
http_request(const std::string& method, const std::string& host_port,
             const std::string& target, const std::string& body,
             const std::string& content_type,
             std::chrono::milliseconds timeout, std::string& error);

/// Splits an absolute http URL, e.g. a redirect's Location
/// "http://host:port/path?q", into `host_port` (to_string of the parsed
/// address; ":80" when the URL names no port) and `target` ("/path?q"; "/"
/// when empty; a "#fragment" is dropped). False if `url` is not of that form
/// (another scheme, user info, an address parse_host_port refuses).
bool split_location(std::string_view url, std::string& host_port,
                    std::string& target);

} // namespace raftd::http

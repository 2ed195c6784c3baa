#pragma once
// HTTP/1.1 responses: what to send, and its exact bytes on the wire.

#include <cstdint>
#include <string>
#include <string_view>

namespace raftd::http {

/// The Content-Type of a body.
enum class content_type : uint8_t {
  none,         ///< No header: an empty success body.
  octet_stream, ///< A stored value, raw bytes.
  json,         ///< `/status`.
  text,         ///< Error messages: "text/plain; charset=utf-8".
};

/// One response, before framing.
struct http_response {
  int status = 200;
  std::string body;
  content_type type = content_type::none;
  std::string location; ///< Sent as `Location:` if not empty (307).
  std::string allow;    ///< Sent as `Allow:` if not empty (405).
};

/// How a response is framed on its connection.
struct framing {
  /// Send `Connection: close`; the connection closes after this response.
  bool close = false;
  /// Send `Connection: keep-alive` (an HTTP/1.0 client asked for it).
  bool echo_keep_alive = false;
  /// A HEAD request: headers only (Content-Length still says the length).
  bool omit_body = false;
};

/// The interim answer to `Expect: 100-continue`.
inline constexpr std::string_view continue_response
  = "HTTP/1.1 100 Continue\r\n\r\n";

/// The reason phrase of a status code ("OK", "Not Found", ...).
const char* reason_phrase(int status);

/// A response with a text/plain body (which should end in '\n').
http_response text_response(int status, std::string body);

/// An empty-bodied response without Content-Type.
http_response empty_response(int status);

/// Serializes `r`: status line, Content-Length, Content-Type, Location,
/// Allow, Connection, blank line, body.
std::string serialize(const http_response& r, const framing& f);

/// The head of a 200 whose body is streamed, length unknown: with
/// `Transfer-Encoding: chunked` (HTTP/1.1), or, for an HTTP/1.0 client
/// (`chunked` false), plain bytes ended by closing the connection, which
/// then always closes (`Connection: close`).
std::string stream_head(content_type type, const framing& f, bool chunked);

/// Appends `data` as one chunk of a chunked body (RFC 9112 §7.1); nothing
/// for empty `data`, which would read as the last chunk.
void append_chunk(std::string& out, std::string_view data);

/// The end of a chunked body: the last chunk, no trailers.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

} // namespace raftd::http

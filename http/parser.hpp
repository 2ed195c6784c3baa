#pragma once
// An incremental HTTP/1.x request parser over libhttp-parser. It takes the
// bytes of one connection in whatever chunks they arrive and yields complete
// requests in order; several pipelined requests may come out of one chunk.
// http_parser.h stays in parser.cpp (pimpl), so the acceptor sees only this.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace raftd::http {

/// Limits the parser enforces while bytes arrive, before anything is buffered
/// past them.
struct parser_limits {
  /// Request line plus headers, in bytes. More gives 431.
  size_t max_header_bytes = 16 << 10;
  /// Body bytes. A larger Content-Length gives 413 as soon as the headers are
  /// complete, before any of the body is read; a chunked body when it grows
  /// past the limit.
  size_t max_body_bytes = 1 << 20;
};

/// One complete request.
struct http_request {
  int method = 0;           ///< An `enum http_method` value (HTTP_GET, ...).
  std::string path;         ///< Raw (not decoded), before '?'.
  std::string query;        ///< Raw, after '?', without it; "" if none.
  std::string body;         ///< The whole body, binary-safe.
  bool keep_alive = true;   ///< False for HTTP/1.0 or `Connection: close`.
  bool http10 = false;      ///< HTTP/1.0 (a keep-alive must be echoed).
  bool head = false;        ///< A HEAD request: answer without a body.
};

/// Why the connection's input cannot be parsed further. `status` is 0 while
/// all is well; otherwise 400 (malformed), 413 (body) or 431 (headers).
struct parse_error {
  int status = 0;
  std::string what; ///< One line for the response body, without '\n'.
};

/// Parses the request stream of one connection.
class request_parser {
public:
  explicit request_parser(parser_limits limits = {});
  ~request_parser();
  request_parser(request_parser&&) noexcept;
  request_parser& operator=(request_parser&&) noexcept;

  /// Parses `size` more bytes and appends every request they complete to
  /// `out`. Returns false once the stream is broken: then `error()` says why,
  /// the requests completed before the error are still in `out`, and every
  /// later call returns false without looking at its input.
  bool feed(const char* data, size_t size, std::vector<http_request>& out);

  /// The error that stopped parsing; `status == 0` if none.
  const parse_error& error() const;

  /// True once for a request whose headers asked `Expect: 100-continue` and
  /// whose body is still to come (and within the limit). The caller may then
  /// send `100 Continue`.
  bool take_continue();

  /// True if no request is partly parsed (a clean place to close).
  bool idle() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace raftd::http

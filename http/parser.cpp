#include "http/parser.hpp"

#include <climits>
#include <cstring>
#include <strings.h>

#include <http_parser.h>

#include "http/chunk_framing.hpp"

namespace raftd::http {

namespace {

/// libhttp-parser's "no Content-Length header" marker.
constexpr uint64_t no_content_length = ULLONG_MAX;

/// Which part of a message the parser is in.
enum class phase { head, body };

/// The event that paused the parser, handled between execute() calls.
enum class event { none, headers_done, message_done, body_too_large };

/// `s` without leading and trailing spaces and tabs.
std::string trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool iequals(const std::string& a, const char* b) {
  return strcasecmp(a.c_str(), b) == 0;
}

/// Splits an absolute-form target ("http://h/a?b"); false if it is none.
bool split_absolute(const std::string& url, http_request& rq) {
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(url.data(), url.size(), 0, &u) != 0)
    return false;
  auto part = [&](int f) {
    if ((u.field_set & (1 << f)) == 0)
      return std::string{};
    return url.substr(u.field_data[f].off, u.field_data[f].len);
  };
  rq.path = part(UF_PATH);
  rq.query = part(UF_QUERY);
  if (rq.path.empty())
    rq.path = "/";
  return true;
}

/// Splits a request target into path and query. Origin form ("/a?b#f") is
/// split at the first '?' (a fragment is dropped); anything that is neither
/// origin nor absolute form ("*", "host:port") stays whole in `path`.
void split_target(const std::string& url, http_request& rq) {
  if (!url.empty() && url.front() != '/' && split_absolute(url, rq))
    return;
  auto end = url.find('#');
  auto q = url.find('?');
  if (q == std::string::npos || q > end) {
    rq.path = url.substr(0, end);
    return;
  }
  rq.path = url.substr(0, q);
  rq.query = url.substr(q + 1, end == std::string::npos ? end : end - q - 1);
}

} // namespace

// The parser pauses itself after the headers and after each message, so
// feed() knows exactly how many bytes each request's head took (for the 431
// limit) and can stop right at a 413.
struct request_parser::impl {
  parser_limits limits;
  http_parser parser;
  http_parser_settings settings;
  phase where = phase::head;
  event ev = event::none;
  size_t header_bytes = 0;     // consumed in this message's head so far
  bool in_message = false;     // a message has begun and not yet completed
  http_request cur;            // the request being parsed
  std::string url;             // its raw request target
  std::string field;           // the header field being read
  std::string value;           // and its value so far
  bool field_done = false;     // the next field callback starts a new one
  bool expect_continue = false;
  // What the strict checks need from the headers (finish_head).
  int hosts = 0;
  bool has_content_length = false;
  bool has_transfer_encoding = false;
  std::string transfer_encoding; // every Transfer-Encoding value, joined
  bool chunked = false;
  chunk_framing chunks;
  // Paused in on_headers_complete, the parser has not consumed the LF that
  // ends the head: the first body call starts with it.
  bool head_lf_due = false;
  bool continue_due = false;   // take_continue() answers true once
  // With body_too_large: the first body byte past the limit, in the input of
  // the execute() call that found it.
  const char* overflow_at = nullptr;
  parse_error err;

  explicit impl(parser_limits lim) : limits(lim) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    http_parser_settings_init(&settings);
    settings.on_message_begin = &on_message_begin;
    settings.on_url = &on_url;
    settings.on_header_field = &on_header_field;
    settings.on_header_value = &on_header_value;
    settings.on_headers_complete = &on_headers_complete;
    settings.on_body = &on_body;
    settings.on_message_complete = &on_message_complete;
  }

  static impl& self(http_parser* p) {
    return *static_cast<impl*>(p->data);
  }

  static int on_message_begin(http_parser* p) {
    auto& s = self(p);
    s.in_message = true;
    return 0;
  }

  static int on_url(http_parser* p, const char* at, size_t n) {
    self(p).url.append(at, n);
    return 0;
  }

  static int on_header_field(http_parser* p, const char* at, size_t n) {
    auto& s = self(p);
    if (s.field_done) {
      s.end_header();
      s.field.clear();
      s.value.clear();
      s.field_done = false;
    }
    s.field.append(at, n);
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, size_t n) {
    auto& s = self(p);
    s.field_done = true;
    s.value.append(at, n);
    return 0;
  }

  /// One whole header: note what the checks in finish_head need.
  void end_header() {
    if (iequals(field, "expect") && iequals(trimmed(value), "100-continue"))
      expect_continue = true;
    else if (iequals(field, "host"))
      ++hosts;
    else if (iequals(field, "content-length"))
      has_content_length = true;
    else if (iequals(field, "transfer-encoding")) {
      has_transfer_encoding = true;
      transfer_encoding += (transfer_encoding.empty() ? "" : ",") + value;
    }
  }

  static int on_headers_complete(http_parser* p) {
    auto& s = self(p);
    if (s.field_done)
      s.end_header();
    s.ev = event::headers_done;
    http_parser_pause(p, 1);
    return 0;
  }

  static int on_body(http_parser* p, const char* at, size_t n) {
    auto& s = self(p);
    if (s.cur.body.size() + n > s.limits.max_body_bytes) {
      s.overflow_at = at + (s.limits.max_body_bytes - s.cur.body.size());
      s.ev = event::body_too_large;
      return 1; // HPE_CB_body: stop here
    }
    s.cur.body.append(at, n);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    auto& s = self(p);
    s.ev = event::message_done;
    http_parser_pause(p, 1);
    return 0;
  }

  void fail(int status, std::string what) {
    if (err.status == 0)
      err = parse_error{status, std::move(what)};
  }

  bool content_length_too_large() const {
    return (parser.flags & F_CHUNKED) == 0
           && parser.content_length != no_content_length
           && parser.content_length > limits.max_body_bytes;
  }

  bool expects_body() const {
    return (parser.flags & F_CHUNKED) != 0
           || (parser.content_length != no_content_length
               && parser.content_length > 0);
  }

  bool check_head();
  void finish_head();
  void finish_message(std::vector<http_request>& out);
  bool handle_event(std::vector<http_request>& out);
  bool step(const char* data, size_t size, size_t& used,
            std::vector<http_request>& out);
};

// What nginx and Go's server refuse too: each is request-smuggling material
// or a client that speaks something else (RFC 9112 §2.6, §3.2, §6.1, §6.3).
bool request_parser::impl::check_head() {
  if (parser.http_major != 1 || parser.http_minor > 1)
    fail(505, "HTTP version not supported: only 1.0 and 1.1");
  else if (parser.http_minor == 1 && hosts == 0)
    fail(400, "malformed request: HTTP/1.1 without a Host header");
  else if (hosts > 1)
    fail(400, "malformed request: more than one Host header");
  else if (has_transfer_encoding && has_content_length)
    fail(400, "malformed request: both Content-Length and "
              "Transfer-Encoding");
  else if (has_transfer_encoding
           && !iequals(trimmed(transfer_encoding), "chunked"))
    fail(400, "malformed request: unsupported transfer coding (only "
              "chunked)");
  return err.status == 0;
}

void request_parser::impl::finish_head() {
  where = phase::body;
  header_bytes = 0;
  cur.method = static_cast<int>(parser.method);
  cur.keep_alive = http_should_keep_alive(&parser) != 0;
  cur.http10 = parser.http_major == 1 && parser.http_minor == 0;
  cur.head = parser.method == HTTP_HEAD;
  split_target(url, cur);
  chunked = (parser.flags & F_CHUNKED) != 0;
  head_lf_due = true;
  if (!check_head())
    return;
  if (content_length_too_large()) {
    fail(413, "request body too large");
    return;
  }
  if (expect_continue && expects_body())
    continue_due = true;
}

void request_parser::impl::finish_message(std::vector<http_request>& out) {
  if (chunked && !chunks.done()) {
    fail(400, "malformed request: bad chunk framing");
    return;
  }
  out.push_back(std::move(cur));
  cur = http_request{};
  url.clear();
  field.clear();
  value.clear();
  field_done = false;
  expect_continue = false;
  hosts = 0;
  has_content_length = false;
  has_transfer_encoding = false;
  transfer_encoding.clear();
  chunked = false;
  chunks = chunk_framing{};
  head_lf_due = false;
  continue_due = false;
  in_message = false;
  where = phase::head;
}

// Returns false if the stream is broken.
bool request_parser::impl::handle_event(std::vector<http_request>& out) {
  auto e = ev;
  ev = event::none;
  if (e == event::headers_done)
    finish_head();
  else if (e == event::message_done)
    finish_message(out);
  return err.status == 0;
}

// One execute() call: `used` tells how many bytes it consumed.
bool request_parser::impl::step(const char* data, size_t size, size_t& used,
                                std::vector<http_request>& out) {
  auto body = where == phase::body;
  used = http_parser_execute(&parser, &settings, data, size);
  size_t skip = 0;
  if (body && head_lf_due) {
    head_lf_due = false;
    // Built without HTTP_PARSER_STRICT, libhttp-parser takes any byte here
    // for the LF: "\r\n\rX" ends the head and X is lost, where the framing
    // check would read X as body. Only LF may end the head.
    if (used > 0 && data[0] != '\n') {
      fail(400, "malformed request: CR without LF after the headers");
      return false;
    }
    skip = used > 0 ? 1 : 0;
  }
  // A body over the limit: the framing is checked only up to the byte that
  // passed it. libhttp-parser calls on_body for a chunk's data when it sees
  // the chunk end or the end of the input, so how far past that byte it read
  // depends on how the stream was split; the answer must not (400 or 413).
  size_t checked = used - skip;
  if (ev == event::body_too_large)
    checked = static_cast<size_t>(overflow_at - (data + skip));
  if (body && chunked && !chunks.feed(data + skip, checked)) {
    fail(400, "malformed request: bad chunk framing");
    return false;
  }
  if (where == phase::head) {
    header_bytes += used;
    if (header_bytes > limits.max_header_bytes) {
      fail(431, "request header fields too large");
      return false;
    }
  }
  auto code = HTTP_PARSER_ERRNO(&parser);
  if (code == HPE_PAUSED) {
    http_parser_pause(&parser, 0);
    return handle_event(out);
  }
  if (ev == event::body_too_large) {
    fail(413, "request body too large");
  } else if (code == HPE_HEADER_OVERFLOW) {
    fail(431, "request header fields too large");
  } else if (code != HPE_OK) {
    fail(400, std::string{"malformed request: "} + http_errno_name(code));
  } else if (used < size) {
    // Stopped early without an error: an upgrade (CONNECT or Upgrade: ...),
    // which raftd does not speak.
    fail(400, "malformed request: protocol upgrade not supported");
  }
  return err.status == 0;
}

request_parser::request_parser(parser_limits limits)
  : impl_(std::make_unique<impl>(limits)) {
}

request_parser::~request_parser() = default;

request_parser::request_parser(request_parser&&) noexcept = default;

request_parser& request_parser::operator=(request_parser&&) noexcept
  = default;

bool request_parser::feed(const char* data, size_t size,
                          std::vector<http_request>& out) {
  auto& s = *impl_;
  if (s.err.status != 0)
    return false;
  size_t pos = 0;
  while (pos < size) {
    size_t used = 0;
    if (!s.step(data + pos, size - pos, used, out))
      return false;
    pos += used;
  }
  return true;
}

const parse_error& request_parser::error() const {
  return impl_->err;
}

bool request_parser::take_continue() {
  auto due = impl_->continue_due;
  impl_->continue_due = false;
  return due;
}

bool request_parser::idle() const {
  return !impl_->in_message;
}

} // namespace raftd::http

#include "http/client.hpp"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <climits>
#include <system_error>

#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <http_parser.h>

#include "messages/address.hpp"

namespace raftd::http {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::string_view http_prefix = "http://";
constexpr uint16_t default_port = 80;

/// Bytes taken from the socket per recv.
constexpr size_t recv_chunk_bytes = 16 << 10;

/// A socket descriptor, closed when it goes.
class socket_fd {
public:
  explicit socket_fd(int fd = -1) : fd_(fd) {
  }
  ~socket_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  socket_fd(socket_fd&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
  }
  socket_fd& operator=(socket_fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const {
    return fd_;
  }

private:
  int fd_;
};

/// "Connection refused" -> "connection refused".
std::string errno_text(int err) {
  auto text = std::error_code{err, std::generic_category()}.message();
  if (!text.empty())
    text[0] = static_cast<char>(
      std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

/// One request's deadline and its first error.
struct exchange {
  clock_type::time_point deadline;
  std::chrono::milliseconds timeout;
  std::string error;

  bool fail(std::string what) {
    if (error.empty())
      error = std::move(what);
    return false;
  }

  /// Waits until `fd` is ready for `events` (or has an error to report).
  /// False once the deadline has passed, with `error` set.
  bool wait(int fd, short events) {
    for (;;) {
      auto left = deadline - clock_type::now();
      if (left <= clock_type::duration::zero())
        return fail("timed out after " + std::to_string(timeout.count())
                    + " ms");
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      pollfd p{fd, events, 0};
      auto n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
      if (n > 0)
        return true;
      if (n < 0 && errno != EINTR)
        return fail(errno_text(errno));
    }
  }
};

/// Connects a non-blocking socket to `ai`; on failure an invalid socket_fd
/// and the error in `ex`.
socket_fd connect_one(const addrinfo& ai, exchange& ex) {
  socket_fd fd{::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK
                                        | SOCK_CLOEXEC,
                        ai.ai_protocol)};
  if (fd.get() < 0) {
    ex.fail(errno_text(errno));
    return fd;
  }
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) == 0)
    return fd;
  if (errno != EINPROGRESS) {
    ex.fail(errno_text(errno));
    return socket_fd{};
  }
  if (!ex.wait(fd.get(), POLLOUT))
    return socket_fd{};
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ex.fail(errno_text(err));
    return socket_fd{};
  }
  return fd;
}

/// Resolves `host_port` and connects to the first address that answers
/// ("localhost" may give ::1 first, with the server on 127.0.0.1 only).
socket_fd connect_to(const std::string& host_port, exchange& ex) {
  auto addr = parse_host_port(host_port);
  if (!addr) {
    ex.fail("bad address: " + addr.error);
    return socket_fd{};
  }
  auto port = std::to_string(addr.value->port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  if (auto rc = ::getaddrinfo(addr.value->host.c_str(), port.c_str(), &hints,
                               &list)) {
    ex.fail("cannot resolve " + host_port + ": " + ::gai_strerror(rc));
    return socket_fd{};
  }
  socket_fd fd;
  for (auto ai = list; ai != nullptr && fd.get() < 0; ai = ai->ai_next) {
    ex.error.clear(); // report the last address's error
    fd = connect_one(*ai, ex);
    if (clock_type::now() >= ex.deadline)
      break;
  }
  ::freeaddrinfo(list);
  if (fd.get() < 0)
    ex.fail("cannot connect to " + host_port);
  return fd;
}

bool send_all(int fd, std::string_view data, exchange& ex) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!ex.wait(fd, POLLOUT))
        return false;
    } else if (errno != EINTR) {
      return ex.fail(errno_text(errno));
    }
  }
  return true;
}

// -- the response parser -----------------------------------------------------

/// libhttp-parser in HTTP_RESPONSE mode, collecting status, Location and
/// body. It pauses itself on the final response's end.
struct response_parser {
  http_parser parser;
  http_parser_settings settings;
  client_response resp;
  std::string field;        // the header name being read
  bool in_value = false;    // the next field callback starts a new name
  bool head_request = false; // a HEAD reply has no body
  bool done = false;

  explicit response_parser(bool head);
  response_parser(const response_parser&) = delete;
  response_parser& operator=(const response_parser&) = delete;

  static response_parser& of(http_parser* p) {
    return *static_cast<response_parser*>(p->data);
  }
};

int on_message_begin(http_parser* p) {
  auto& rp = response_parser::of(p);
  rp.resp = client_response{}; // a 1xx before it is forgotten
  rp.field.clear();
  rp.in_value = false;
  return 0;
}

int on_header_field(http_parser* p, const char* at, size_t len) {
  auto& rp = response_parser::of(p);
  if (rp.in_value) {
    rp.field.clear();
    rp.in_value = false;
  }
  rp.field.append(at, len);
  return 0;
}

int on_header_value(http_parser* p, const char* at, size_t len) {
  auto& rp = response_parser::of(p);
  rp.in_value = true;
  if (::strcasecmp(rp.field.c_str(), "location") == 0)
    rp.resp.location.append(at, len);
  return 0;
}

int on_headers_complete(http_parser* p) {
  auto& rp = response_parser::of(p);
  rp.resp.status = static_cast<int>(p->status_code);
  return rp.head_request ? 1 : 0; // 1: no body follows
}

int on_body(http_parser* p, const char* at, size_t len) {
  response_parser::of(p).resp.body.append(at, len);
  return 0;
}

int on_message_complete(http_parser* p) {
  auto& rp = response_parser::of(p);
  if (p->status_code / 100 == 1)
    return 0; // interim (100 Continue): the real answer follows
  rp.done = true;
  http_parser_pause(p, 1);
  return 0;
}

response_parser::response_parser(bool head) : head_request(head) {
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = this;
  http_parser_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

/// Feeds `len` bytes (0: the peer closed). False on a parse error.
bool feed(response_parser& rp, const char* data, size_t len, exchange& ex) {
  http_parser_execute(&rp.parser, &rp.settings, data, len);
  auto err = HTTP_PARSER_ERRNO(&rp.parser);
  if (rp.done || err == HPE_OK)
    return true;
  return ex.fail(std::string{"malformed response: "}
                 + http_errno_description(err));
}

std::optional<client_response> failed(exchange& ex, std::string what) {
  ex.fail(std::move(what));
  return std::nullopt;
}

std::optional<client_response> read_response(int fd, bool head,
                                              exchange& ex) {
  response_parser rp{head};
  char buf[recv_chunk_bytes];
  size_t total = 0;
  while (!rp.done) {
    if (!ex.wait(fd, POLLIN))
      return std::nullopt;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
      continue;
    if (n < 0)
      return failed(ex, errno_text(errno));
    total += static_cast<size_t>(n);
    if (total > max_client_response_bytes)
      return failed(ex, "response too large");
    if (!feed(rp, buf, static_cast<size_t>(n), ex))
      return std::nullopt;
    if (n == 0 && !rp.done)
      return failed(ex, total == 0 ? "connection closed without a response"
                                   : "malformed response: it ends early");
  }
  return std::move(rp.resp);
}

/// The request's bytes; "" if a part would break the framing.
std::string request_bytes(const std::string& method,
                          const std::string& host_port,
                          const std::string& target, const std::string& body,
                          const std::string& content_type) {
  auto bad = [](const std::string& s) {
    return s.find_first_of("\r\n") != std::string::npos;
  };
  if (method.empty() || target.empty() || bad(method) || bad(host_port)
      || bad(target) || bad(content_type)
      || method.find(' ') != std::string::npos
      || target.find(' ') != std::string::npos)
    return {};
  auto out = method + " " + target + " HTTP/1.1\r\nHost: " + host_port
             + "\r\nConnection: close\r\n";
  if (!content_type.empty())
    out += "Content-Type: " + content_type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return out + body;
}

} // namespace

std::optional<client_response>
http_request(const std::string& method, const std::string& host_port,
             const std::string& target, const std::string& body,
             const std::string& content_type,
             std::chrono::milliseconds timeout, std::string& error) {
  exchange ex{clock_type::now() + timeout, timeout, {}};
  auto bytes = request_bytes(method, host_port, target, body, content_type);
  std::optional<client_response> out;
  if (bytes.empty()) {
    ex.fail("bad request: method, target or a header holds a space or CRLF");
  } else if (auto fd = connect_to(host_port, ex); fd.get() >= 0) {
    if (send_all(fd.get(), bytes, ex))
      out = read_response(fd.get(), method == "HEAD", ex);
  }
  error = out ? std::string{} : ex.error;
  return out;
}

bool split_location(std::string_view url, std::string& host_port,
                    std::string& target) {
  if (url.substr(0, http_prefix.size()) != http_prefix)
    return false;
  url.remove_prefix(http_prefix.size());
  url = url.substr(0, url.find('#'));
  auto end = std::min(url.find('/'), url.find('?'));
  auto authority = url.substr(0, end);
  if (authority.find('@') != std::string_view::npos)
    return false; // user info: not from a raftd
  auto addr = parse_host_port(authority, default_port);
  if (!addr)
    return false;
  host_port = to_string(*addr.value);
  target = end == std::string_view::npos ? "/" : std::string{url.substr(end)};
  if (target.front() == '?')
    target.insert(0, "/");
  return true;
}

} // namespace raftd::http

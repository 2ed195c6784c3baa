#define CAF_SUITE http.client
#include <caf/test/dsl.hpp>

// The client against a one-connection server on a thread of this test. The
// server polls every socket with a timeout, so neither side can hang: a bug
// fails a check instead.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/client.hpp"

using namespace std::chrono_literals;
using namespace raftd::http;

namespace {

/// The longest the test server waits for anything before giving up.
constexpr int server_timeout_ms = 3000;

/// The client's bound in tests where the server does answer.
constexpr auto client_timeout = 3000ms;

/// Binds a listening socket to 127.0.0.1 on a free port.
int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto sa = reinterpret_cast<sockaddr*>(&addr);
  CAF_REQUIRE_EQUAL(::bind(fd, sa, sizeof(addr)), 0);
  CAF_REQUIRE_EQUAL(::listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, sa, &len);
  port = ntohs(addr.sin_port);
  return fd;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, server_timeout_ms) == 1;
}

/// Accepts one connection, reads one request, then sends `chunks`, each with
/// its own send(), and closes. With `answer` false it sends nothing and waits
/// for the client to give up (close) instead.
class tiny_server {
public:
  explicit tiny_server(std::vector<std::string> chunks, bool answer = true)
    : chunks_(std::move(chunks)), answer_(answer) {
    listener_ = listen_loopback(port_);
    thread_ = std::thread([this] { run(); });
  }

  ~tiny_server() {
    finish();
  }

  /// "127.0.0.1:port".
  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  uint16_t port() const {
    return port_;
  }

  /// Waits for the server to end; returns the request it received.
  const std::string& finish() {
    if (thread_.joinable())
      thread_.join();
    return received_;
  }

private:
  void run() {
    if (readable(listener_)) {
      int fd = ::accept(listener_, nullptr, nullptr);
      serve(fd);
      ::close(fd);
    }
    ::close(listener_);
  }

  void serve(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    read_request(fd);
    if (!answer_) {
      char c;
      while (readable(fd) && ::recv(fd, &c, 1, 0) > 0) {
        // wait for the client's close
      }
      return;
    }
    for (auto& chunk : chunks_)
      ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
  }

  /// Reads the head and a Content-Length body into received_.
  void read_request(int fd) {
    char buf[4096];
    while (!complete() && readable(fd)) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0)
        return;
      received_.append(buf, static_cast<size_t>(n));
    }
  }

  bool complete() const {
    auto end = received_.find("\r\n\r\n");
    if (end == std::string::npos)
      return false;
    auto cl = received_.find("Content-Length: ");
    auto len = cl < end ? std::stoul(received_.substr(cl + 16)) : 0;
    return received_.size() >= end + 4 + len;
  }

  std::vector<std::string> chunks_;
  bool answer_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::string received_;
  std::thread thread_;
};

std::optional<client_response> ask(const tiny_server& srv, std::string& error,
                                   const std::string& method = "GET") {
  return http_request(method, srv.address(), "/status", "", "",
                      client_timeout, error);
}

} // namespace

CAF_TEST(status body and location are parsed) {
  tiny_server srv{{"HTTP/1.1 307 Temporary Redirect\r\n"
                   "location: http://10.0.0.1:4001/join\r\n"
                   "Content-Length: 32\r\n\r\n"
                   "raft.Server: Not current leader\n"}};
  std::string error;
  auto body = std::string{R"({"name":"a"})"};
  // "localhost" may resolve to ::1 first: the client tries the next address.
  auto r = http_request("POST", "localhost:" + std::to_string(srv.port()),
                        "/join", body, "application/json", client_timeout,
                        error);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(error, "");
  CAF_CHECK_EQUAL(r->status, 307);
  CAF_CHECK_EQUAL(r->location, "http://10.0.0.1:4001/join");
  CAF_CHECK_EQUAL(r->body, "raft.Server: Not current leader\n");
  CAF_CHECK_EQUAL(srv.finish(),
                  "POST /join HTTP/1.1\r\nHost: localhost:"
                    + std::to_string(srv.port())
                    + "\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 12\r\n\r\n"
                    + body);
}

CAF_TEST(a response split across several writes) {
  tiny_server srv{{"HTTP/1.1 200 OK\r\nContent-", "Length: 10\r\n",
                   "\r\n01234", "567", "89"}};
  std::string error;
  auto r = ask(srv, error);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->body, "0123456789");
  CAF_CHECK_EQUAL(r->location, "");
}

CAF_TEST(a chunked body and a body that ends with the connection) {
  {
    tiny_server srv{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                     "3\r\nabc\r\n", "2\r\nde\r\n0\r\n\r\n"}};
    std::string error;
    auto r = ask(srv, error);
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->body, "abcde");
  }
  tiny_server srv{{"HTTP/1.1 500 Internal Server Error\r\n\r\n", "until ",
                   "close"}};
  std::string error;
  auto r = ask(srv, error);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 500);
  CAF_CHECK_EQUAL(r->body, "until close");
}

CAF_TEST(an interim 100 Continue is skipped) {
  tiny_server srv{{"HTTP/1.1 100 Continue\r\n\r\n",
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}};
  std::string error;
  auto r = ask(srv, error);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->body, "ok");
}

CAF_TEST(a HEAD reply has no body) {
  tiny_server srv{{"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 5\r\n"
                   "\r\n"}};
  std::string error;
  auto r = ask(srv, error, "HEAD");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 405);
  CAF_CHECK_EQUAL(r->body, "");
}

CAF_TEST(malformed and truncated responses are errors) {
  struct case_ {
    std::vector<std::string> chunks;
    const char* error_prefix;
  };
  case_ cases[] = {
    {{"garbage\r\n\r\n"}, "malformed response"},
    {{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
     "malformed response"},
    {{"HTTP/1.1 200 OK\r\nContent-Len"}, "malformed response"},
    {{}, "connection closed without a response"},
  };
  for (auto& c : cases) {
    tiny_server srv{c.chunks};
    std::string error;
    auto r = ask(srv, error);
    CAF_CHECK(!r);
    CAF_MESSAGE(error);
    CAF_CHECK_EQUAL(error.rfind(c.error_prefix, 0), 0u);
  }
}

CAF_TEST(connection refused) {
  uint16_t port = 0;
  ::close(listen_loopback(port)); // nothing listens there now
  std::string error;
  auto r = http_request("GET", "127.0.0.1:" + std::to_string(port), "/", "",
                        "", client_timeout, error);
  CAF_CHECK(!r);
  CAF_CHECK_EQUAL(error, "connection refused");
}

CAF_TEST(a server that never answers times out) {
  tiny_server srv{{}, false};
  std::string error;
  auto t0 = std::chrono::steady_clock::now();
  auto r = http_request("POST", srv.address(), "/join", "{}",
                        "application/json", 200ms, error);
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_CHECK(!r);
  CAF_CHECK_EQUAL(error, "timed out after 200 ms");
  CAF_CHECK_GREATER_OR_EQUAL(took, 200ms);
  CAF_CHECK_LESS(took, 2s);
  CAF_CHECK_EQUAL(srv.finish().rfind("POST /join HTTP/1.1\r\n", 0), 0u);
}

CAF_TEST(bad addresses and requests fail before connecting) {
  std::string error;
  CAF_CHECK(!http_request("GET", "nohostport", "/", "", "", 100ms, error));
  CAF_CHECK_EQUAL(error,
                  R"(bad address: missing ":port" after "nohostport")");
  // Refused, not truncated to port 34463 (99999 % 65536).
  CAF_CHECK(!http_request("GET", "127.0.0.1:99999", "/", "", "", 100ms, error));
  CAF_CHECK_EQUAL(error, R"(bad address: port "99999" is not in 1-65535)");
  CAF_CHECK(!http_request("GET", "h:1", "/a b", "", "", 100ms, error));
  CAF_CHECK_EQUAL(error.rfind("bad request", 0), 0u);
  CAF_CHECK(!http_request("GET", "127.0.0.1:1", "/", "", "x\r\ny", 100ms,
                          error));
  CAF_CHECK_EQUAL(error.rfind("bad request", 0), 0u);
}

CAF_TEST(location urls are split) {
  struct case_ {
    const char* url;
    const char* host_port;
    const char* target;
  };
  case_ good[] = {
    {"http://10.0.0.2:4001/join", "10.0.0.2:4001", "/join"},
    {"http://h:1/db/a%20b?consistency=stale", "h:1",
     "/db/a%20b?consistency=stale"},
    {"http://h:1", "h:1", "/"},
    {"http://h:1?x=1", "h:1", "/?x=1"},
    {"http://h/join#frag", "h:80", "/join"},
    {"http://[::1]:4001/join", "[::1]:4001", "/join"},
    {"http://[::1]/", "[::1]:80", "/"},
    {"http://h:080/", "h:80", "/"},
  };
  for (auto& c : good) {
    std::string hp;
    std::string target;
    CAF_MESSAGE(c.url);
    CAF_CHECK(split_location(c.url, hp, target));
    CAF_CHECK_EQUAL(hp, c.host_port);
    CAF_CHECK_EQUAL(target, c.target);
  }
  const char* bad[] = {"https://h:1/", "/join", "http://", "http:///x",
                       "http://u@h:1/", "http://:1/", "http://h:/", "",
                       "http://h:99999/", "http://h:0/", "http://h:x/",
                       "http://[::1/"};
  for (auto url : bad) {
    std::string hp;
    std::string target;
    CAF_MESSAGE(url);
    CAF_CHECK(!split_location(url, hp, target));
  }
}

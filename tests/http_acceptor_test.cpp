#define CAF_SUITE http.acceptor
#include <caf/test/dsl.hpp>

// The acceptor on a real actor system with the middleman (the test
// coordinator cannot drive sockets), talked to over raw loopback TCP. Every
// socket has a receive timeout, so a bug fails a check instead of hanging.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/response_promise.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "http/acceptor.hpp"
#include "messages/errors.hpp"
#include "messages/register.hpp"

using namespace std::chrono_literals;
using namespace raftd;

namespace {

/// How long a test waits on a socket before it counts as a failure.
constexpr int socket_timeout_ms = 3000;

/// The leader address the fake node names in not_leader errors.
constexpr const char* fake_leader = "127.0.0.1:9999";

/// How long the fake node sits on a "delayed" key before answering.
constexpr auto fake_delay = 100ms;

// -- a fake node: an in-memory map plus keys that make it misbehave ----------

/// Asks the fake node for the membership requests it has seen.
using seen_atom = caf::atom_constant<caf::atom("seen")>;

struct fake_node_state {
  std::map<std::string, std::string> data;
  /// "join name http raft" and "leave name", in arrival order.
  std::vector<std::string> membership_log;
  std::vector<caf::response_promise> held; // "slow": never answered
  std::vector<caf::response_promise> late;  // "delayed": answered later
  static inline const char* name = "fake_node";
};

using fake_node_actor = caf::stateful_actor<fake_node_state>;

/// The scripted answer for `key`, if it has one: "nl_*" -> not_leader with
/// an address, "nl0_*" -> not_leader without, "noleader", "unknown" ->
/// outcome_unknown, "slow" -> no answer at all.
std::optional<caf::error> scripted(fake_node_actor* self,
                                   const std::string& key) {
  if (key.rfind("nl0_", 0) == 0)
    return make_error(errc::not_leader);
  if (key.rfind("nl_", 0) == 0)
    return make_error(errc::not_leader, fake_leader);
  if (key == "noleader")
    return make_error(errc::no_leader);
  if (key == "unknown")
    return make_error(errc::outcome_unknown);
  if (key == "slow") {
    self->state.held.push_back(self->make_response_promise());
    return caf::error{};
  }
  return std::nullopt;
}

template <class... Ts>
caf::result<Ts...> fail_or_hold(fake_node_actor* self, caf::error err) {
  if (err)
    return err;
  return self->state.held.back(); // delegated: answered never
}

caf::result<bool, std::string> fake_get(fake_node_actor* self,
                                        const std::string& key) {
  if (auto err = scripted(self, key))
    return fail_or_hold<bool, std::string>(self, *err);
  if (key == "delayed") {
    self->state.late.push_back(self->make_response_promise());
    self->delayed_send(self, fake_delay, caf::ok_atom::value);
    return self->state.late.back();
  }
  auto i = self->state.data.find(key);
  if (i == self->state.data.end())
    return {false, std::string{}};
  return {true, i->second};
}

/// Joins: the name "taken" -> conflict, "busy" -> busy, "slow" -> no
/// answer. Leaves: the name "missing" -> not_found.
caf::result<uint64_t> fake_join(fake_node_actor* self, const member& m) {
  self->state.membership_log.push_back("join " + m.name + " " + m.http_addr
                                       + " " + m.raft_addr);
  if (m.name == "slow") {
    self->state.held.push_back(self->make_response_promise());
    return self->state.held.back();
  }
  if (m.name == "taken")
    return make_error(errc::conflict, "name taken is in use");
  if (m.name == "busy")
    return make_error(errc::busy, "a join is in progress");
  return uint64_t{3};
}

caf::result<uint64_t> fake_leave(fake_node_actor* self, const node_name& n) {
  self->state.membership_log.push_back("leave " + n);
  if (n == "missing")
    return make_error(errc::not_found, "no member missing");
  return uint64_t{4};
}

caf::behavior fake_node(fake_node_actor* self) {
  return {
    [=](atom::join, const member& m) { return fake_join(self, m); },
    [=](atom::leave, const node_name& n) { return fake_leave(self, n); },
    [=](seen_atom) { return self->state.membership_log; },
    [=](atom::put, const std::string& key,
        const std::string& value) -> caf::result<uint64_t> {
      if (auto err = scripted(self, key))
        return fail_or_hold<uint64_t>(self, *err);
      self->state.data[key] = value;
      return uint64_t{1};
    },
    [=](atom::del, const std::string& key) -> caf::result<uint64_t, bool> {
      if (auto err = scripted(self, key))
        return fail_or_hold<uint64_t, bool>(self, *err);
      return {uint64_t{2}, self->state.data.erase(key) > 0};
    },
    [=](atom::get, const std::string& key, read_mode) {
      return fake_get(self, key);
    },
    [=](atom::status) {
      node_status s;
      s.name = "fake123";
      s.state = "leader";
      return s;
    },
    [=](caf::ok_atom) {
      for (auto& rp : self->state.late)
        rp.deliver(true, std::string{"late"});
      self->state.late.clear();
    },
  };
}

// -- a raw TCP client -------------------------------------------------------

struct response {
  int status = 0;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : i->second;
  }
};

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

class client {
public:
  /// `rcvbuf` > 0: the socket's receive buffer (SO_RCVBUF) in bytes.
  explicit client(uint16_t port, int rcvbuf = 0)
    : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval tv{socket_timeout_ms / 1000, (socket_timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (rcvbuf > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr),
                           sizeof(addr))
                 == 0;
  }

  ~client() {
    ::close(fd_);
  }

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connected() const {
    return connected_;
  }

  void send(const std::string& bytes) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    CAF_REQUIRE_EQUAL(n, static_cast<ssize_t>(bytes.size()));
  }

  /// Reads one response (for a HEAD request: its head only); nullopt on
  /// EOF, error or timeout.
  std::optional<response> read(bool head_only = false) {
    auto end = fill_until_header_end();
    if (end == std::string::npos)
      return std::nullopt;
    response r;
    parse_head(buf_.substr(0, end), r);
    auto len = head_only || r.header("content-length").empty()
                 ? 0
                 : std::stoul(r.header("content-length"));
    if (!fill_to(end + 4 + len))
      return std::nullopt;
    r.body = buf_.substr(end + 4, len);
    buf_.erase(0, end + 4 + len);
    return r;
  }

  /// Sends `req` and reads its response.
  std::optional<response> ask(const std::string& req) {
    send(req);
    return read();
  }

  /// True if the server closed the connection (EOF or reset) before the
  /// socket timeout, with no bytes left unread.
  bool closed_by_peer() {
    char c;
    auto n = ::recv(fd_, &c, 1, 0);
    return buf_.empty()
           && (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
  }

private:
  bool read_more() {
    char tmp[4096];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0)
      return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  size_t fill_until_header_end() {
    size_t pos;
    while ((pos = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!read_more())
        return std::string::npos;
    return pos;
  }

  bool fill_to(size_t n) {
    while (buf_.size() < n)
      if (!read_more())
        return false;
    return true;
  }

  static void parse_head(const std::string& head, response& r) {
    // "HTTP/1.1 200 OK\r\nName: value\r\n..."
    r.status = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head.size()) {
      auto next = head.find("\r\n", pos + 2);
      auto line = head.substr(pos + 2, next == std::string::npos
                                         ? std::string::npos
                                         : next - pos - 2);
      auto colon = line.find(": ");
      r.headers[lower(line.substr(0, colon))] = line.substr(colon + 2);
      pos = next;
    }
  }

  int fd_;
  bool connected_ = false;
  std::string buf_;
};

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

std::string del(const std::string& path) {
  return "DELETE " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

std::string put(const std::string& path, const std::string& body,
                const std::string& method = "PUT") {
  return method + " " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// -- the fixture ------------------------------------------------------------

struct test_config : caf::actor_system_config {
  test_config() {
    load<caf::io::middleman>();
    register_types(*this);
    set("scheduler.max-threads", size_t{2});
  }
};

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::actor node;
  caf::actor acceptor;
  uint16_t port = 0;

  fixture() {
    node = sys.spawn(fake_node);
  }

  /// Starts the acceptor on 127.0.0.1, port 0.
  void start(http_config hc = {}) {
    hc.host = "127.0.0.1";
    hc.port = 0;
    auto a = spawn_http_acceptor(sys, caf::actor_cast<node_actor>(node), hc,
                                 &port);
    CAF_REQUIRE(a);
    acceptor = *a;
    CAF_REQUIRE_NOT_EQUAL(port, 0);
  }

  /// The membership requests the fake node has seen so far.
  std::vector<std::string> membership_log() {
    caf::scoped_actor self{sys};
    std::vector<std::string> out;
    auto timeout = std::chrono::milliseconds{socket_timeout_ms};
    self->request(node, timeout, seen_atom::value)
      .receive([&](std::vector<std::string>& log) { out = std::move(log); },
               [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
    return out;
  }

  ~fixture() {
    if (acceptor)
      caf::anon_send_exit(acceptor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  }
};

/// Pipelines large distinct answers with small ones between them to a
/// client with a small receive buffer: the acceptor's writes fill the socket,
/// the rest waits in CAF's buffers (with direct writes: the first answers
/// went straight to the socket). Every answer must arrive whole and in
/// order, and the connection must serve requests after the backlog drained.
void check_order_through_a_full_socket(fixture& f, bool direct_writes) {
  http_config hc;
  hc.direct_writes = direct_writes;
  f.start(hc);
  client c{f.port, 4096};
  constexpr int n = 24;
  auto value = [](int i) {
    std::string v(256 << 10, static_cast<char>('a' + i));
    v.replace(0, 8, "value" + std::to_string(100 + i));
    return v;
  };
  for (int i = 0; i < n; ++i) {
    auto r = c.ask(put("/db/big" + std::to_string(i), value(i)));
    CAF_REQUIRE(r);
    CAF_REQUIRE_EQUAL(r->status, 200);
  }
  auto small = c.ask(put("/db/small", "s"));
  CAF_REQUIRE(small);
  std::string all;
  for (int i = 0; i < n; ++i)
    all += get("/db/big" + std::to_string(i)) + get("/db/small")
           + get("/db/none");
  c.send(all);
  for (int i = 0; i < n; ++i) {
    auto r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK(r->body == value(i));
    r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->body, "s");
    r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->status, 404);
  }
  for (int i = 0; i < 3; ++i) {
    auto r = c.ask(get("/db/big" + std::to_string(i)));
    CAF_REQUIRE(r);
    CAF_CHECK(r->body == value(i));
  }
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(acceptor_tests, fixture)

CAF_TEST(answers keep their order through a full socket) {
  check_order_through_a_full_socket(*this, true);
}

CAF_TEST(answers keep their order through a full socket without direct writes) {
  check_order_through_a_full_socket(*this, false);
}

CAF_TEST(set get delete and 404) {
  start();
  client c{port};
  CAF_REQUIRE(c.connected());
  auto req = put("/db/foo", "bar");
  c.send(req.substr(0, 20)); // a request may span reads
  std::this_thread::sleep_for(20ms);
  c.send(req.substr(20));
  auto r = c.read();
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->body, "");
  r = c.ask(get("/db/foo"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->body, "bar");
  CAF_CHECK_EQUAL(r->header("content-type"), "application/octet-stream");
  r = c.ask(get("/db/foo?consistency=stale"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->body, "bar");
  r = c.ask(del("/db/foo"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  r = c.ask(del("/db/foo"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
  r = c.ask(get("/db/foo"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
  CAF_CHECK_EQUAL(r->body, "");
}

CAF_TEST(binary values and percent decoded keys) {
  start();
  client c{port};
  std::string value{"\0\x01\r\n\r\n\xff", 7};
  auto r = c.ask(put("/db/a%2Bb", value, "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  r = c.ask(get("/db/a+b"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK(r->body == value);
}

CAF_TEST(routing errors and status) {
  start();
  client c{port};
  auto r = c.ask(get("/nope"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
  CAF_CHECK_EQUAL(r->body, "404 page not found\n");
  r = c.ask("PATCH /db/k HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 405);
  CAF_CHECK_EQUAL(r->header("allow"), "GET, PUT, POST, DELETE");
  r = c.ask(get("/db/%2F"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 400);
  r = c.ask(get("/status"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->header("content-type"), "application/json");
  CAF_CHECK(r->body.find("\"name\":\"fake123\"") != std::string::npos);
}

CAF_TEST(pipelined requests are answered in order) {
  start();
  client c{port};
  // The first answer comes last from the node; it must still go out first.
  c.send(get("/db/delayed") + put("/db/a", "1") + get("/db/a"));
  auto r1 = c.read();
  auto r2 = c.read();
  auto r3 = c.read();
  CAF_REQUIRE(r1 && r2 && r3);
  CAF_CHECK_EQUAL(r1->body, "late");
  CAF_CHECK_EQUAL(r2->status, 200);
  CAF_CHECK_EQUAL(r2->body, "");
  CAF_CHECK_EQUAL(r3->body, "1");
}

CAF_TEST(many pipelined requests in one write) {
  start();
  client c{port};
  constexpr int n = 400; // more than one read chunk, past the owed limit
  std::string all;
  for (int i = 0; i < n; ++i)
    all += put("/db/k" + std::to_string(i), std::to_string(i));
  for (int i = 0; i < n; ++i)
    all += get("/db/k" + std::to_string(i));
  c.send(all);
  for (int i = 0; i < n; ++i) {
    auto r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->status, 200);
  }
  for (int i = 0; i < n; ++i) {
    auto r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->body, std::to_string(i));
  }
}

CAF_TEST(reading resumes once owed answers are written) {
  start();
  client c{port};
  constexpr int n = 1000; // several read chunks, each over the owed limit
  std::string all;
  for (int i = 0; i < n; ++i)
    all += get("/db/delayed");
  all += get("/db/none");
  c.send(all);
  for (int i = 0; i < n; ++i) {
    auto r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->body, "late");
  }
  auto last = c.read();
  CAF_REQUIRE(last);
  CAF_CHECK_EQUAL(last->status, 404);
}

CAF_TEST(large answers to a client that reads late all arrive) {
  start();
  client c{port};
  std::string big(512 << 10, 'b');
  big[1234] = '\0';
  auto r = c.ask(put("/db/big", big));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  constexpr int n = 32; // 16 MiB of answers, over the unsent-bytes limit
  std::string all;
  for (int i = 0; i < n; ++i)
    all += get("/db/big");
  c.send(all);
  std::this_thread::sleep_for(200ms); // let the answers pile up
  for (int i = 0; i < n; ++i) {
    auto r = c.read();
    CAF_REQUIRE(r);
    CAF_CHECK(r->body == big);
  }
}

CAF_TEST(malformed http gives 400 and closes) {
  start();
  client c{port};
  auto r = c.ask("BLAH\r\n\r\n");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(r->header("connection"), "close");
  CAF_CHECK(c.closed_by_peer());
}

CAF_TEST(a too large body gives 413 before it is sent) {
  http_config hc;
  hc.max_value_size = 1024;
  start(hc);
  client c{port};
  auto r = c.ask("PUT /db/k HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 413);
  CAF_CHECK(c.closed_by_peer());
  client c2{port};
  r = c2.ask(put("/db/k", std::string(1024, 'x')));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
}

CAF_TEST(oversized headers give 431) {
  http_config hc;
  hc.max_header_size = 512;
  start(hc);
  client c{port};
  auto r = c.ask("GET /status HTTP/1.1\r\nX: " + std::string(600, 'a')
                 + "\r\n\r\n");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 431);
  CAF_CHECK(c.closed_by_peer());
}

CAF_TEST(HTTP 1.0 without keep alive is closed after the answer) {
  start();
  client c{port};
  auto r = c.ask("GET /db/x HTTP/1.0\r\n\r\n");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
  CAF_CHECK_EQUAL(r->header("connection"), "close");
  CAF_CHECK(c.closed_by_peer());
}

CAF_TEST(HTTP 1.0 keep alive is echoed) {
  start();
  client c{port};
  auto req = "GET /db/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  auto r = c.ask(req);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->header("connection"), "keep-alive");
  r = c.ask(req);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
}

CAF_TEST(a HEAD answer has no body and keeps the framing) {
  start();
  client c{port};
  c.send("HEAD /status HTTP/1.1\r\nHost: h\r\n\r\n" + get("/db/x"));
  auto h = c.read(true);
  CAF_REQUIRE(h);
  CAF_CHECK_EQUAL(h->status, 405);
  CAF_CHECK_NOT_EQUAL(h->header("content-length"), "0");
  auto r = c.read();
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
}

CAF_TEST(a write to a follower is redirected to the leader) {
  start();
  client c{port};
  auto r = c.ask(put("/db/nl_x?a=1", "v"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 307);
  CAF_CHECK_EQUAL(r->header("location"), "http://127.0.0.1:9999/db/nl_x?a=1");
  CAF_CHECK_EQUAL(r->body, "raft.Server: Not current leader\n");
  r = c.ask(del("/db/nl_y"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 307);
  CAF_CHECK_EQUAL(r->header("location"), "http://127.0.0.1:9999/db/nl_y");
}

CAF_TEST(no leader gives 503 and an unknown outcome 504) {
  start();
  client c{port};
  auto r = c.ask(put("/db/noleader", "v"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 503);
  CAF_CHECK_EQUAL(r->body, "no leader known: nothing was proposed\n");
  r = c.ask(put("/db/nl0_x", "v"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 503);
  r = c.ask(put("/db/unknown", "v"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 504);
  CAF_CHECK(r->body.find("may still commit") != std::string::npos);
}

CAF_TEST(a node that does not answer gives 504 for writes and 503 for reads) {
  http_config hc;
  hc.request_timeout = 200ms;
  start(hc);
  client c{port};
  auto r = c.ask(put("/db/slow", "v"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 504);
  r = c.ask(get("/db/slow"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 503);
}

CAF_TEST(idle connections are closed) {
  http_config hc;
  hc.idle_timeout = 300ms;
  start(hc);
  client busy{port};
  auto t0 = std::chrono::steady_clock::now();
  // Activity keeps a connection open past the idle timeout...
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(100ms);
    auto r = busy.ask(get("/db/x"));
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->status, 404);
  }
  // ...and silence closes it.
  CAF_CHECK(busy.closed_by_peer());
  auto waited = std::chrono::steady_clock::now() - t0;
  CAF_CHECK_GREATER_OR_EQUAL(waited, 700ms);
  CAF_CHECK_LESS(waited, 2s);
  client quiet{port};
  CAF_CHECK(quiet.closed_by_peer());
}

CAF_TEST(connections over max_conns get 503) {
  http_config hc;
  hc.max_conns = 2;
  start(hc);
  client a{port};
  client b{port};
  CAF_REQUIRE(a.ask(get("/db/x"))); // both are registered now
  CAF_REQUIRE(b.ask(get("/db/x")));
  client c{port};
  auto r = c.read();
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 503);
  CAF_CHECK_EQUAL(r->header("connection"), "close");
  CAF_CHECK(c.closed_by_peer());
  auto ok = a.ask(get("/db/x")); // the others still work
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status, 404);
}

CAF_TEST(a closed connection frees its place) {
  http_config hc;
  hc.max_conns = 1;
  start(hc);
  {
    client a{port};
    CAF_REQUIRE(a.ask(get("/db/x")));
  }
  std::optional<response> r;
  for (int i = 0; i < 50; ++i) { // until the acceptor has seen the close
    client b{port};
    r = b.ask(get("/db/x"));
    if (r && r->status == 404)
      break;
    std::this_thread::sleep_for(10ms);
  }
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
}

CAF_TEST(expect 100 continue) {
  start();
  client c{port};
  c.send("PUT /db/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
         "Content-Length: 2\r\n\r\n");
  auto interim = c.read();
  CAF_REQUIRE(interim);
  CAF_CHECK_EQUAL(interim->status, 100);
  auto r = c.ask("ok");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
}

CAF_TEST(an exit message closes the port and the connections) {
  start();
  client c{port};
  CAF_REQUIRE(c.ask(get("/db/x")));
  caf::anon_send_exit(acceptor, caf::exit_reason::user_shutdown);
  CAF_CHECK(c.closed_by_peer());
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    client late{port};
    refused = !late.connected();
    if (!refused)
      std::this_thread::sleep_for(10ms);
  }
  CAF_CHECK(refused);
  acceptor = nullptr;
}

CAF_TEST(a busy port is reported by spawn) {
  start();
  http_config hc;
  hc.host = "127.0.0.1";
  hc.port = port;
  // SO_REUSEADDR does not allow two listeners on one port.
  auto again = spawn_http_acceptor(sys, caf::actor_cast<node_actor>(node), hc);
  CAF_CHECK(!again);
}

CAF_TEST(a join reaches the node with the parsed member) {
  start();
  client c{port};
  auto r = c.ask(put("/join",
                     R"({"name":"abc1234","connectionString":"http://h:4002"})"
                     "\n",
                     "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->body, "");
  r = c.ask(put("/join",
                R"({"name":"b","connectionString":"http://h:1",)"
                R"("raftAddress":"r:2"})",
                "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(membership_log(),
                  std::vector<std::string>({"join abc1234 h:4002 h:5002",
                                            "join b h:1 r:2"}));
}

CAF_TEST(a bad join body gives 400 and never reaches the node) {
  start();
  client c{port};
  auto r = c.ask(put("/join", R"({"name":)", "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(r->body.rfind("malformed JSON: ", 0), 0u);
  CAF_CHECK_EQUAL(r->body.back(), '\n');
  r = c.ask(put("/join",
                R"({"name":"n","connectionString":"http://h:1","x":1})",
                "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(r->body, "unknown field \"x\"\n");
  r = c.ask(put("/join", "", "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK(membership_log().empty());
}

CAF_TEST(membership errors from the node) {
  start();
  client c{port};
  auto join = [&](const std::string& name) {
    return c.ask(put("/join",
                     R"({"name":")" + name
                       + R"(","connectionString":"http://h:1"})",
                     "POST"));
  };
  auto r = join("taken");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 409);
  CAF_CHECK_EQUAL(r->body, "name taken is in use\n");
  r = join("busy");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 503);
  r = c.ask(del("/members/missing"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 404);
  CAF_CHECK_EQUAL(r->body, "no member missing\n");
}

CAF_TEST(a leave reaches the node with the decoded name) {
  start();
  client c{port};
  auto r = c.ask(del("/members/a%2Db"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->body, "");
  r = c.ask(del("/members/"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(membership_log(), std::vector<std::string>({"leave a-b"}));
}

CAF_TEST(membership routes answer a wrong method with 405) {
  start();
  client c{port};
  auto r = c.ask(get("/join"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 405);
  CAF_CHECK_EQUAL(r->header("allow"), "POST");
  r = c.ask(get("/members/x"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 405);
  CAF_CHECK_EQUAL(r->header("allow"), "DELETE");
  CAF_CHECK(membership_log().empty());
}

CAF_TEST(a join the node does not answer in time gives 504) {
  http_config hc;
  hc.request_timeout = 200ms;
  start(hc);
  client c{port};
  auto r = c.ask(put("/join",
                     R"({"name":"slow","connectionString":"http://h:1"})",
                     "POST"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 504);
}

CAF_TEST_FIXTURE_SCOPE_END()

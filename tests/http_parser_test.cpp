#define CAF_SUITE http.parser
#include <caf/test/dsl.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <http_parser.h>

#include "http/parser.hpp"

using namespace raftd::http;

namespace {

struct fixture {
  request_parser parser{parser_limits{1024, 64}};
  std::vector<http_request> out;

  bool feed(const std::string& bytes) {
    return parser.feed(bytes.data(), bytes.size(), out);
  }
};

const std::string simple_post = "POST /db/foo?x=1 HTTP/1.1\r\n"
                                "Host: localhost\r\n"
                                "Content-Length: 3\r\n"
                                "\r\n"
                                "bar";

} // namespace

CAF_TEST_FIXTURE_SCOPE(parser_tests, fixture)

CAF_TEST(a single request) {
  CAF_REQUIRE(feed(simple_post));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0].method, static_cast<int>(HTTP_POST));
  CAF_CHECK_EQUAL(out[0].path, "/db/foo");
  CAF_CHECK_EQUAL(out[0].query, "x=1");
  CAF_CHECK_EQUAL(out[0].body, "bar");
  CAF_CHECK(out[0].keep_alive);
  CAF_CHECK(!out[0].http10);
  CAF_CHECK(parser.idle());
}

CAF_TEST(a request split into one-byte chunks) {
  for (size_t i = 0; i < simple_post.size(); ++i) {
    CAF_REQUIRE(feed(simple_post.substr(i, 1)));
    CAF_CHECK_EQUAL(out.size(), i + 1 == simple_post.size() ? 1u : 0u);
  }
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0].path, "/db/foo");
  CAF_CHECK_EQUAL(out[0].query, "x=1");
  CAF_CHECK_EQUAL(out[0].body, "bar");
}

CAF_TEST(three pipelined requests in one buffer) {
  std::string get = "GET /db/a HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string del = "DELETE /db/b HTTP/1.1\r\nHost: h\r\n\r\n";
  CAF_REQUIRE(feed(get + simple_post + del));
  CAF_REQUIRE_EQUAL(out.size(), 3u);
  CAF_CHECK_EQUAL(out[0].method, static_cast<int>(HTTP_GET));
  CAF_CHECK_EQUAL(out[0].path, "/db/a");
  CAF_CHECK_EQUAL(out[0].body, "");
  CAF_CHECK_EQUAL(out[1].path, "/db/foo");
  CAF_CHECK_EQUAL(out[1].body, "bar");
  CAF_CHECK_EQUAL(out[2].method, static_cast<int>(HTTP_DELETE));
  CAF_CHECK_EQUAL(out[2].path, "/db/b");
}

CAF_TEST(a pipelined request may end in the next read) {
  auto both = simple_post + simple_post;
  CAF_REQUIRE(feed(both.substr(0, simple_post.size() + 10)));
  CAF_CHECK_EQUAL(out.size(), 1u);
  CAF_CHECK(!parser.idle());
  CAF_REQUIRE(feed(both.substr(simple_post.size() + 10)));
  CAF_CHECK_EQUAL(out.size(), 2u);
  CAF_CHECK(parser.idle());
}

CAF_TEST(a binary body with NULs comes out intact) {
  std::string value{"a\0b\r\n\0\xff", 7};
  CAF_REQUIRE(feed("PUT /db/k HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n" + value));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0].method, static_cast<int>(HTTP_PUT));
  CAF_CHECK_EQUAL(out[0].body.size(), 7u);
  CAF_CHECK(out[0].body == value);
}

CAF_TEST(a chunked body is joined) {
  CAF_REQUIRE(feed("POST /db/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0].body, "abcde");
}

CAF_TEST(HTTP 1.0 is not kept alive unless asked) {
  CAF_REQUIRE(feed("GET /status HTTP/1.0\r\n\r\n"));
  CAF_REQUIRE(feed("GET /status HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  CAF_CHECK(!out[0].keep_alive);
  CAF_CHECK(out[0].http10);
  CAF_CHECK(out[1].keep_alive);
}

CAF_TEST(Connection close ends keep alive) {
  CAF_REQUIRE(feed("GET /status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK(!out[0].keep_alive);
}

CAF_TEST(HEAD requests are marked) {
  CAF_REQUIRE(feed("HEAD /status HTTP/1.1\r\nHost: h\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK(out[0].head);
}

CAF_TEST(an absolute target is split into path and query) {
  CAF_REQUIRE(feed("GET http://h:1/db/x?consistency=stale HTTP/1.1\r\nHost: h\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0].path, "/db/x");
  CAF_CHECK_EQUAL(out[0].query, "consistency=stale");
  CAF_REQUIRE(feed("GET /db/y?a=1#frag HTTP/1.1\r\nHost: h\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  CAF_CHECK_EQUAL(out[1].path, "/db/y");
  CAF_CHECK_EQUAL(out[1].query, "a=1");
}

CAF_TEST(oversized headers give 431) {
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(1100, 'a');
  CAF_CHECK(!feed(big));
  CAF_CHECK_EQUAL(parser.error().status, 431);
  CAF_CHECK(out.empty());
  CAF_CHECK(!feed("\r\n\r\n")); // stays broken
}

CAF_TEST(oversized headers in small chunks give 431) {
  CAF_REQUIRE(feed("GET / HTTP/1.1\r\nHost: h\r\n"));
  bool ok = true;
  for (int i = 0; i < 100 && ok; ++i)
    ok = feed("X-Header: 0123456789\r\n");
  CAF_CHECK(!ok);
  CAF_CHECK_EQUAL(parser.error().status, 431);
}

CAF_TEST(headers just under the limit pass) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  head += std::string(1024 - head.size() - 4, 'a') + "\r\n\r\n";
  CAF_REQUIRE_EQUAL(head.size(), 1024u);
  CAF_CHECK(feed(head + head));
  CAF_CHECK_EQUAL(out.size(), 2u);
}

CAF_TEST(a Content-Length over the limit gives 413 before the body) {
  CAF_CHECK(!feed("POST /db/k HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n"));
  CAF_CHECK_EQUAL(parser.error().status, 413);
  CAF_CHECK(out.empty());
}

CAF_TEST(a chunked body over the limit gives 413) {
  CAF_CHECK(!feed("POST /db/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "41\r\n"
                  + std::string(65, 'x')));
  CAF_CHECK_EQUAL(parser.error().status, 413);
}

// Found by fuzz/http_parser_fuzz.cpp: the same stream must give the same
// answer however TCP splits it. A chunk over the limit followed by a byte
// other than CR gave 400 in one piece and 413 in small ones; so did bad
// framing after the byte that passed the limit, and a head ending in
// "\n\rA" (libhttp-parser took the A for LF; the framing check did not).
CAF_TEST(the answer does not depend on how the stream is split) {
  std::string head = "POST /db/k HTTP/1.1\r\nHost: h\r\n"
                     "Transfer-Encoding: chunked\r\n";
  struct split_case {
    std::string bytes;
    int status;
  };
  split_case cases[] = {
    {head + "\r\n41\r\n" + std::string(65, 'x') + "Z0\r\n\r\n", 413},
    {head + "\r\n3\r\nabc\r\n41\r\n" + std::string(65, 'x') + "ZZ", 413},
    {head + "\r\n3\r\nabcXX41\r\n" + std::string(65, 'x') + "\r\n", 400},
    {head + "\rA5\r\nhea" + std::string(70, 'x'), 400},
    {"GET /status HTTP/1.1\r\nHost: h\r\n\rX", 400},
  };
  for (auto& c : cases) {
    for (size_t piece : {c.bytes.size(), size_t{1}, size_t{7}, size_t{64}}) {
      CAF_MESSAGE("pieces of " << piece << " bytes");
      request_parser p{parser_limits{1024, 64}};
      std::vector<http_request> got;
      bool ok = true;
      for (size_t i = 0; i < c.bytes.size() && ok; i += piece)
        ok = p.feed(c.bytes.data() + i, std::min(piece, c.bytes.size() - i),
                    got);
      CAF_CHECK(!ok);
      CAF_CHECK_EQUAL(p.error().status, c.status);
      CAF_CHECK(got.empty());
    }
  }
}

CAF_TEST(a body at the limit passes) {
  CAF_CHECK(feed("POST /db/k HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n"
                 + std::string(64, 'x')));
  CAF_CHECK_EQUAL(out.size(), 1u);
}

CAF_TEST(garbage gives 400) {
  CAF_CHECK(!feed("BLAH\r\n\r\n"));
  CAF_CHECK_EQUAL(parser.error().status, 400);
  CAF_CHECK(!parser.error().what.empty());
}

CAF_TEST(requests before an error are still returned) {
  CAF_CHECK(!feed(simple_post + "GET / HTTP/1.1\r\nHost: h\r\nbad header line\r\n\r\n"));
  CAF_CHECK_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(parser.error().status, 400);
}

CAF_TEST(an upgrade is refused) {
  CAF_CHECK(!feed("CONNECT h:1 HTTP/1.1\r\nHost: h\r\n\r\nxyz"));
  CAF_CHECK_EQUAL(parser.error().status, 400);
}

CAF_TEST(Expect 100-continue is offered once while the body is due) {
  CAF_REQUIRE(feed("PUT /db/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                   "Content-Length: 3\r\n\r\n"));
  CAF_CHECK(parser.take_continue());
  CAF_CHECK(!parser.take_continue());
  CAF_REQUIRE(feed("abc"));
  CAF_CHECK_EQUAL(out.size(), 1u);
  CAF_REQUIRE(feed("PUT /db/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                   "Content-Length: 3\r\n\r\nabc"));
  CAF_CHECK(!parser.take_continue()); // the body is already here
}

CAF_TEST(HTTP 1.1 without Host gives 400) {
  CAF_CHECK(!feed("GET /status HTTP/1.1\r\n\r\n"));
  CAF_CHECK_EQUAL(parser.error().status, 400);
  CAF_CHECK(out.empty());
}

CAF_TEST(two Host headers give 400) {
  CAF_CHECK(!feed("GET /status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
  CAF_CHECK_EQUAL(parser.error().status, 400);
}

CAF_TEST(HTTP 1.0 needs no Host) {
  CAF_CHECK(feed("GET /status HTTP/1.0\r\n\r\n"));
  CAF_CHECK_EQUAL(out.size(), 1u);
}

CAF_TEST(versions other than 1.0 and 1.1 give 505) {
  for (auto v : {"HTTP/9.9", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9"}) {
    request_parser p;
    std::string req = std::string{"GET / "} + v + "\r\nHost: h\r\n\r\n";
    CAF_CHECK(!p.feed(req.data(), req.size(), out));
    CAF_CHECK_EQUAL(p.error().status, 505);
  }
  CAF_CHECK(out.empty());
}

CAF_TEST(data not followed by CRLF in a chunked body gives 400) {
  CAF_CHECK(!feed("POST /db/k HTTP/1.1\r\nHost: h\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"));
  CAF_CHECK_EQUAL(parser.error().status, 400);
  CAF_CHECK(out.empty());
}

CAF_TEST(bad chunk framing in pieces gives 400) {
  std::string head = "POST /db/k HTTP/1.1\r\nHost: h\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
  for (auto body : {"3\r\nabc\n0\r\n\r\n", "3\r\nabc\r0\r\n\r\n",
                    "3\nabc\r\n0\r\n\r\n", "\r\n", "0\r\nX: y\n\r\n"}) {
    request_parser p;
    std::vector<http_request> got;
    std::string all = head + body;
    bool ok = true;
    for (size_t i = 0; i < all.size() && ok; ++i)
      ok = p.feed(all.data() + i, 1, got);
    CAF_CHECK(!ok);
    CAF_CHECK_EQUAL(p.error().status, 400);
    CAF_CHECK(got.empty());
  }
}

CAF_TEST(good chunk framing with extensions and trailers passes) {
  CAF_REQUIRE(feed("POST /db/k HTTP/1.1\r\nHost: h\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"
                   "3;name=x\r\nabc\r\nA\r\n0123456789\r\n0\r\n"
                   "X-Trailer: 1\r\n\r\n"));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0].body, "abc0123456789");
}

CAF_TEST(Content-Length with Transfer-Encoding gives 400) {
  CAF_CHECK(!feed("POST /db/k HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  CAF_CHECK_EQUAL(parser.error().status, 400);
  CAF_CHECK(out.empty());
}

CAF_TEST(transfer codings other than chunked give 400) {
  for (auto te : {"gzip", "gzip, chunked", "chunked, chunked", "identity"}) {
    request_parser p;
    std::string req = std::string{"POST /db/k HTTP/1.1\r\nHost: h\r\n"}
                      + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n";
    CAF_CHECK(!p.feed(req.data(), req.size(), out));
    CAF_CHECK_EQUAL(p.error().status, 400);
  }
  CAF_CHECK(out.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()

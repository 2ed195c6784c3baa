#define CAF_SUITE http.response
#include <caf/test/dsl.hpp>

#include <string>

#include <caf/sec.hpp>

#include "http/error_map.hpp"
#include "http/response.hpp"
#include "messages/errors.hpp"

using namespace raftd;
using namespace raftd::http;

CAF_TEST(an empty 200) {
  CAF_CHECK_EQUAL(serialize(empty_response(200), framing{}),
                  "HTTP/1.1 200 OK\r\n"
                  "Content-Length: 0\r\n"
                  "\r\n");
}

CAF_TEST(a value) {
  http_response r;
  r.body = std::string{"v\0\xff", 3};
  r.type = content_type::octet_stream;
  std::string want = "HTTP/1.1 200 OK\r\n"
                     "Content-Length: 3\r\n"
                     "Content-Type: application/octet-stream\r\n"
                     "\r\n";
  CAF_CHECK(serialize(r, framing{}) == want + std::string{"v\0\xff", 3});
}

CAF_TEST(json) {
  http_response r;
  r.body = "{}";
  r.type = content_type::json;
  CAF_CHECK_EQUAL(serialize(r, framing{}), "HTTP/1.1 200 OK\r\n"
                                           "Content-Length: 2\r\n"
                                           "Content-Type: application/json\r\n"
                                           "\r\n"
                                           "{}");
}

CAF_TEST(an error that closes the connection) {
  auto r = text_response(400, "bad\n");
  CAF_CHECK_EQUAL(serialize(r, framing{true, false, false}),
                  "HTTP/1.1 400 Bad Request\r\n"
                  "Content-Length: 4\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Connection: close\r\n"
                  "\r\n"
                  "bad\n");
}

CAF_TEST(a 405 with Allow) {
  auto r = text_response(405, "method not allowed\n");
  r.allow = "GET";
  CAF_CHECK_EQUAL(serialize(r, framing{}),
                  "HTTP/1.1 405 Method Not Allowed\r\n"
                  "Content-Length: 19\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Allow: GET\r\n"
                  "\r\n"
                  "method not allowed\n");
}

CAF_TEST(HTTP 1.0 keep alive is echoed and HEAD has no body) {
  auto r = empty_response(404);
  CAF_CHECK_EQUAL(serialize(r, framing{false, true, false}),
                  "HTTP/1.1 404 Not Found\r\n"
                  "Content-Length: 0\r\n"
                  "Connection: keep-alive\r\n"
                  "\r\n");
  auto t = text_response(405, "no\n");
  CAF_CHECK_EQUAL(serialize(t, framing{false, false, true}),
                  "HTTP/1.1 405 Method Not Allowed\r\n"
                  "Content-Length: 3\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "\r\n");
}

CAF_TEST(reason phrases) {
  int codes[] = {200, 307, 400, 404, 405, 409, 413, 431, 500, 503, 504};
  for (auto c : codes)
    CAF_CHECK_NOT_EQUAL(std::string{reason_phrase(c)}, "Unknown");
  CAF_CHECK_EQUAL(std::string{reason_phrase(413)}, "Payload Too Large");
}

// -- error mapping --------------------------------------------------------

namespace {

http_response map(const caf::error& e, op_kind op = op_kind::write) {
  return error_response(e, op, "/db/a%20b", "consistency=stale", "RENDERED");
}

} // namespace

CAF_TEST(not_leader with an address redirects to the same path) {
  auto r = map(make_error(errc::not_leader, "10.0.0.2:4001"));
  CAF_CHECK_EQUAL(r.status, 307);
  CAF_CHECK_EQUAL(r.location,
                  "http://10.0.0.2:4001/db/a%20b?consistency=stale");
  CAF_CHECK_EQUAL(r.body, "raft.Server: Not current leader\n");
  auto no_query = error_response(make_error(errc::not_leader, "h:1"),
                                 op_kind::write, "/db/k", "", "");
  CAF_CHECK_EQUAL(no_query.location, "http://h:1/db/k");
}

CAF_TEST(no known leader gives 503) {
  auto a = map(make_error(errc::not_leader));
  auto b = map(make_error(errc::no_leader));
  CAF_CHECK_EQUAL(a.status, 503);
  CAF_CHECK_EQUAL(b.status, 503);
  CAF_CHECK_EQUAL(a.body, "no leader known: nothing was proposed\n");
  CAF_CHECK_EQUAL(b.body, a.body);
  CAF_CHECK(a.location.empty());
  CAF_CHECK_EQUAL(map(make_error(errc::shutting_down)).status, 503);
}

CAF_TEST(outcome_unknown gives 504 saying it may still commit) {
  auto r = map(make_error(errc::outcome_unknown));
  CAF_CHECK_EQUAL(r.status, 504);
  CAF_CHECK(r.body.find("may still commit") != std::string::npos);
}

CAF_TEST(other raftd errors) {
  CAF_CHECK_EQUAL(map(make_error(errc::value_too_large)).status, 413);
  auto bad = map(make_error(errc::bad_request, "no such thing"));
  CAF_CHECK_EQUAL(bad.status, 400);
  CAF_CHECK_EQUAL(bad.body, "no such thing\n");
  auto disk = map(make_error(errc::storage_failed, "disk full"));
  CAF_CHECK_EQUAL(disk.status, 507);
  CAF_CHECK_EQUAL(disk.body, "disk full\n");
  auto gone = map(make_error(errc::unreachable, "no raftd node at h:1"));
  CAF_CHECK_EQUAL(gone.status, 503);
  CAF_CHECK_EQUAL(gone.body, "no raftd node at h:1\n");
  CAF_CHECK_EQUAL(map(make_error(errc::internal, "a bug")).status, 500);
}

CAF_TEST(membership errors carry their context) {
  auto taken = map(make_error(errc::conflict, "name abc1234 is taken"));
  CAF_CHECK_EQUAL(taken.status, 409);
  CAF_CHECK_EQUAL(taken.body, "name abc1234 is taken\n");
  CAF_CHECK_EQUAL(std::string{reason_phrase(409)}, "Conflict");
  auto busy = map(make_error(errc::busy, "a join of x is in progress"));
  CAF_CHECK_EQUAL(busy.status, 503);
  CAF_CHECK_EQUAL(busy.body, "a join of x is in progress\n");
  auto missing = map(make_error(errc::not_found, "no member x"));
  CAF_CHECK_EQUAL(missing.status, 404);
  CAF_CHECK_EQUAL(missing.body, "no member x\n");
  // Without a context each still says what happened.
  for (auto code : {errc::conflict, errc::busy, errc::not_found}) {
    auto r = map(make_error(code));
    CAF_CHECK_GREATER(r.body.size(), 1u);
    CAF_CHECK_EQUAL(r.body.back(), '\n');
  }
}

CAF_TEST(a superseded write is a 503 saying it had no effect) {
  auto r = map(make_error(errc::superseded));
  CAF_CHECK_EQUAL(r.status, 503);
  CAF_CHECK_EQUAL(r.body,
                  "the write was superseded by a new leader and not applied\n");
  CAF_CHECK(r.location.empty());
}

CAF_TEST(CAF errors) {
  auto timeout = caf::make_error(caf::sec::request_timeout);
  auto w = map(timeout, op_kind::write);
  CAF_CHECK_EQUAL(w.status, 504);
  CAF_CHECK(w.body.find("may still commit") != std::string::npos);
  CAF_CHECK_EQUAL(map(timeout, op_kind::read).status, 503);
  CAF_CHECK_EQUAL(map(caf::make_error(caf::sec::request_receiver_down)).status,
                  503);
  CAF_CHECK_EQUAL(map(caf::make_error(caf::sec::unexpected_message)).status,
                  500);
}

CAF_TEST(a streamed body is framed in chunks and ends with the last chunk) {
  CAF_CHECK_EQUAL(stream_head(content_type::octet_stream, framing{}, true),
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n");
  std::string body;
  append_chunk(body, "");
  CAF_CHECK_EQUAL(body, "");
  append_chunk(body, std::string(26, 'x'));
  CAF_CHECK_EQUAL(body, "1a\r\n" + std::string(26, 'x') + "\r\n");
  CAF_CHECK_EQUAL(std::string{last_chunk}, "0\r\n\r\n");
}

CAF_TEST(an HTTP/1.0 stream is not chunked and closes the connection) {
  framing f;
  f.echo_keep_alive = true;
  CAF_CHECK_EQUAL(stream_head(content_type::octet_stream, f, false),
                  "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                  "\r\nConnection: close\r\n\r\n");
}

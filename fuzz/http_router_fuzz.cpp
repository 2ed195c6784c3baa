// Fuzzes route_request and percent_decode (http/router.hpp).
//
//   input := method:u8 target      target split at its first '?' as the
//                                  parser splits it: path '?' query
//
// Asserted: no crash or UB; an error route has status 400, 404 or 405, a
// body ending in '\n' and an Allow header exactly for 405; any other route
// has a non-empty key without '/' that is the percent-decoding of its path
// segment; the four /db methods and DELETE /members never give 405;
// percent_decode never grows its input, and decodes "%XX" of every byte back
// to the bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <http_parser.h>

#include "http/router.hpp"
#include "raft/check.hpp"

using namespace raftd;
using namespace raftd::http;

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string encode_all(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 0xf];
  }
  return out;
}

void check_error(const route& r, std::string_view path) {
  RAFTD_CHECK(r.status == 400 || r.status == 404 || r.status == 405,
              "error status " + std::to_string(r.status));
  RAFTD_CHECK(!r.body.empty() && r.body.back() == '\n', "body: " + r.body);
  RAFTD_CHECK((r.status == 405) == !r.allow.empty(), "Allow header");
  bool known = starts_with(path, "/db/") || path == "/status"
               || path == "/snapshot" || path == "/join"
               || starts_with(path, "/members/");
  RAFTD_CHECK((r.status == 404) == !known, "404 for a known path");
}

void check_key(const route& r, std::string_view segment) {
  RAFTD_CHECK(!r.key.empty(), "empty key routed");
  RAFTD_CHECK(r.key.find('/') == std::string::npos, "'/' in a key");
  std::string decoded;
  RAFTD_CHECK(percent_decode(segment, false, decoded) && decoded == r.key,
              "key is not the decoded segment");
}

void check_route(int method, std::string_view path, std::string_view query) {
  auto r = route_request(method, path, query);
  if (r.kind == route_kind::error) {
    check_error(r, path);
    bool db_method = method == HTTP_GET || method == HTTP_PUT
                     || method == HTTP_POST || method == HTTP_DELETE;
    RAFTD_CHECK(!(r.status == 405 && starts_with(path, "/db/") && db_method),
                "405 for a /db method");
    RAFTD_CHECK(!(r.status == 405 && starts_with(path, "/members/")
                  && method == HTTP_DELETE),
                "405 for DELETE /members");
    return;
  }
  RAFTD_CHECK(r.status == 0 && r.body.empty() && r.allow.empty(),
              "a routed request carries an error");
  if (r.kind == route_kind::leave)
    check_key(r, path.substr(9));
  else if (r.kind != route_kind::status && r.kind != route_kind::join
           && r.kind != route_kind::snapshot)
    check_key(r, path.substr(4));
  if (r.kind != route_kind::db_get)
    RAFTD_CHECK(r.mode == read_mode::linearizable, "mode set for a write");
}

void check_percent(std::string_view s) {
  for (bool plus : {false, true}) {
    std::string out;
    if (percent_decode(s, plus, out))
      RAFTD_CHECK(out.size() <= s.size(), "decoding grew the input");
  }
  std::string back;
  RAFTD_CHECK(percent_decode(encode_all(s), true, back) && back == s,
              "%XX did not decode back");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  // Every enum http_method value (0 to 33 in 2.9) and a few past the end.
  int method = data[0] % 40;
  std::string target(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view t = target;
  auto q = t.find('?');
  auto path = t.substr(0, q);
  auto query = q == std::string_view::npos ? std::string_view{}
                                           : t.substr(q + 1);
  // Exact-size copies, so ASan sees a read past either.
  std::string p{path};
  std::string qs{query};
  check_route(method, p, qs);
  check_percent(t);
  return 0;
}

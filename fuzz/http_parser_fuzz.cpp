// Fuzzes request_parser::feed (http/parser.hpp): the same stream fed in one
// call and in random splits must give the same requests and the same error,
// as the acceptor sees whatever chunks TCP delivers.
//
//   input := split_seed:u8 limits:u8 stream
//
// split_seed 0 feeds the stream whole only. Otherwise a PRNG seeded with it
// cuts the stream into pieces of 1 to 64 bytes. `limits` picks small header
// and body limits, so 413 and 431 are reached with short inputs.
// Asserted: no crash or UB (ASan, UBSan); split-invariance; a failed feed
// leaves a 400/413/431/505 with a one-line text, and every later feed fails
// without adding requests; no body is over the limit.

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "http/parser.hpp"
#include "raft/check.hpp"

using namespace raftd::http;

namespace {

/// What feeding a whole stream leaves behind.
struct outcome {
  std::vector<http_request> requests;
  bool ok = true;
  parse_error error;
  bool idle = true;
};

bool same(const http_request& a, const http_request& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query
         && a.body == b.body && a.keep_alive == b.keep_alive
         && a.http10 == b.http10 && a.head == b.head;
}

void check_error(request_parser& p, const outcome& o) {
  auto& e = o.error;
  RAFTD_CHECK(e.status == 400 || e.status == 413 || e.status == 431
                || e.status == 505,
              "unexpected status " + std::to_string(e.status));
  RAFTD_CHECK(!e.what.empty() && e.what.find('\n') == std::string::npos,
              "error text not one line: " + e.what);
  // Once broken, the parser ignores everything after.
  std::vector<http_request> more;
  RAFTD_CHECK(!p.feed("GET / HTTP/1.0\r\n\r\n", 18, more) && more.empty(),
              "a broken parser parsed more");
}

outcome run(const parser_limits& lim, const std::string& s,
            uint8_t split_seed) {
  request_parser p{lim};
  outcome o;
  if (split_seed == 0) {
    o.ok = p.feed(s.data(), s.size(), o.requests);
  } else {
    std::minstd_rand rng{split_seed};
    std::uniform_int_distribution<size_t> len{1, 64};
    for (size_t pos = 0; pos < s.size() && o.ok;) {
      auto n = std::min(len(rng), s.size() - pos);
      // A copy of exactly n bytes: ASan sees any read past the piece.
      std::vector<char> piece(s.begin() + pos, s.begin() + pos + n);
      o.ok = p.feed(piece.data(), n, o.requests);
      pos += n;
      p.take_continue();
    }
  }
  o.error = p.error();
  o.idle = p.idle();
  RAFTD_CHECK(o.ok == (o.error.status == 0), "feed's result and error() "
                                             "disagree");
  if (!o.ok)
    check_error(p, o);
  for (auto& r : o.requests)
    RAFTD_CHECK(r.body.size() <= lim.max_body_bytes, "body over the limit");
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  auto split_seed = data[0];
  parser_limits lim;
  lim.max_header_bytes = 64 + 32 * (data[1] & 0x1f); // 64 to 1056
  lim.max_body_bytes = 8 * (data[1] >> 5);           // 0 to 56
  std::string stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  auto whole = run(lim, stream, 0);
  if (split_seed == 0)
    return 0;
  auto split = run(lim, stream, split_seed);
  RAFTD_CHECK(whole.requests.size() == split.requests.size(),
              "split changed the number of requests");
  for (size_t i = 0; i < whole.requests.size(); ++i)
    RAFTD_CHECK(same(whole.requests[i], split.requests[i]),
                "split changed request " + std::to_string(i));
  RAFTD_CHECK(whole.error.status == split.error.status
                && whole.error.what == split.error.what,
              "split changed the error: " + whole.error.what + " vs "
                + split.error.what);
  RAFTD_CHECK(!whole.ok || whole.idle == split.idle,
              "split changed idle()");
  return 0;
}

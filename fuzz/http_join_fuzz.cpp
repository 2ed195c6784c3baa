// Fuzzes the POST /join body (http/join.hpp).
//
//   input := body                        parse_join_request(body)
//          | 0xff name 0x00 http 0x00 raft   join_request_json of that member
//
// Asserted: no crash, UB or escaping exception; a failure gives a non-empty
// error without control bytes (it goes into a one-line answer); a success
// gives a valid name, "host:port" addresses with a port of 1 to 65535 and no
// leading zero, and the member round trips: parse(join_request_json(m)) is
// m. join_request_json of any member is valid JSON.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http/join.hpp"
#include "raft/check.hpp"

using namespace raftd;
using namespace raftd::http;

namespace {

bool valid_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  for (size_t i = 0; i < colon; ++i)
    if (!isalnum(static_cast<unsigned char>(s[i])) && s[i] != '.'
        && s[i] != '-' && s[i] != '_')
      return false;
  auto port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port[0] == '0'
      || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::stoul(port) <= 65535;
}

void check_member(const member& m) {
  RAFTD_CHECK(!m.name.empty() && m.name.size() <= max_member_name
                && m.name.find_first_not_of("0123456789abcdefghijklmnopqrstuv"
                                            "wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "_-")
                     == std::string::npos,
              "accepted name " + m.name);
  RAFTD_CHECK(valid_host_port(m.http_addr), "http_addr " + m.http_addr);
  RAFTD_CHECK(valid_host_port(m.raft_addr), "raft_addr " + m.raft_addr);
  member back;
  std::string error;
  RAFTD_CHECK(parse_join_request(join_request_json(m), back, error),
              "own join body refused: " + error);
  RAFTD_CHECK(back == m, "join body did not round trip");
}

void check_parse(std::string_view body) {
  member m;
  std::string error;
  if (parse_join_request(body, m, error)) {
    RAFTD_CHECK(error.empty(), "success with an error: " + error);
    check_member(m);
    return;
  }
  RAFTD_CHECK(!error.empty(), "failure without an error");
  for (unsigned char c : error)
    RAFTD_CHECK(c >= 0x20 && c != 0x7f, "control byte in error: " + error);
}

void check_json(std::string_view in) {
  member m;
  auto a = in.find('\0');
  m.name = std::string{in.substr(0, a)};
  if (a != std::string_view::npos) {
    in.remove_prefix(a + 1);
    auto b = in.find('\0');
    m.http_addr = std::string{in.substr(0, b)};
    if (b != std::string_view::npos)
      m.raft_addr = std::string{in.substr(b + 1)};
  }
  auto text = join_request_json(m);
  RAFTD_CHECK(nlohmann::json::accept(text), "not JSON: " + text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so ASan sees any read past the body.
  std::string body(reinterpret_cast<const char*>(data), size);
  if (!body.empty() && static_cast<unsigned char>(body[0]) == 0xff)
    check_json(std::string_view{body}.substr(1));
  else
    check_parse(body);
  return 0;
}

// Fuzzes the configuration entry's value (raft/membership.hpp).
//
//   input := value                      decode_members(value)
//          | 0xff field (0x00 field)*   members of three fields each,
//                                       encoded then decoded
//
// Asserted: no crash or UB; when decode succeeds, encode(decode(x)) decodes
// to the same members, and is x itself when x is version 2 (the encoding is
// canonical); encode then decode gives back any members, whatever bytes
// their fields hold.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raft/check.hpp"
#include "raft/membership.hpp"

using namespace raftd;

namespace {

void check_decode(const std::string& x) {
  auto ms = decode_members(x);
  if (!ms)
    return;
  auto y = encode_members(*ms);
  auto back = decode_members(y);
  RAFTD_CHECK(back && *back == *ms, "encode(decode(x)) changed the members");
  if (!x.empty() && x.front() == members_version)
    RAFTD_CHECK(y == x, "version 2 value not canonical");
}

void check_encode(std::string_view in) {
  std::vector<std::string> fields;
  for (;;) {
    auto z = in.find('\0');
    fields.emplace_back(in.substr(0, z));
    if (z == std::string_view::npos)
      break;
    in.remove_prefix(z + 1);
  }
  std::vector<member> ms;
  for (size_t i = 0; i + 2 < fields.size(); i += 3)
    ms.push_back(member{fields[i], fields[i + 1], fields[i + 2]});
  auto back = decode_members(encode_members(ms));
  RAFTD_CHECK(back && *back == ms, "decode(encode(ms)) is not ms");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string x(reinterpret_cast<const char*>(data), size);
  if (!x.empty() && static_cast<unsigned char>(x[0]) == 0xff)
    check_encode(std::string_view{x}.substr(1));
  else
    check_decode(x);
  return 0;
}

// The configuration entry's value (raft/membership.hpp): version 2 with
// escaping, and version 1 as written before it, still read.
#define CAF_SUITE raft.membership
#include <caf/test/unit_test.hpp>

#include "raft/membership.hpp"

using namespace raftd;

CAF_TEST(a configuration round trips with tabs newlines and backslashes) {
  std::vector<member> ms{{"a", "h1:80", "h1:81"},
                         {"we\tird\nna\\me", "h\\2:80", "h2\t:81"},
                         {"", "", ""}};
  auto text = encode_members(ms);
  CAF_CHECK_EQUAL(text.front(), members_version);
  auto back = decode_members(text);
  CAF_REQUIRE(back);
  CAF_CHECK(*back == ms);
  auto none = decode_members(encode_members({}));
  CAF_REQUIRE(none);
  CAF_CHECK(none->empty());
}

CAF_TEST(version 1 values written before still decode) {
  auto v1 = decode_members("a\th1:80\th1:81\nb\th2:80\th2:81\n");
  CAF_REQUIRE(v1);
  CAF_REQUIRE_EQUAL(v1->size(), 2u);
  CAF_CHECK((*v1)[1] == (member{"b", "h2:80", "h2:81"}));
  auto empty = decode_members("");
  CAF_REQUIRE(empty);
  CAF_CHECK(empty->empty());
  CAF_CHECK(!decode_members("only\tone-tab\n"));
  CAF_CHECK(!decode_members("a\tb\tc\td\n"));
}

CAF_TEST(malformed version 2 values and unknown versions are refused) {
  std::string v2(1, members_version);
  CAF_CHECK(!decode_members(v2 + "a\tb\tc"));      // no final newline
  CAF_CHECK(!decode_members(v2 + "a\tb\n"));        // a field missing
  CAF_CHECK(!decode_members(v2 + "a\tb\tc\td\n"));  // one too many
  CAF_CHECK(!decode_members(v2 + "a\\x\tb\tc\n"));  // unknown escape
  CAF_CHECK(!decode_members(v2 + "a\tb\tc\\"));     // escape cut short
  CAF_CHECK(!decode_members(std::string(1, '\x03') + "a\tb\tc\n"));
}

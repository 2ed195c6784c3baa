#define CAF_SUITE http.join
#include <caf/test/dsl.hpp>

#include <cstring>
#include <string>

#include "http/join.hpp"

using namespace raftd;
using namespace raftd::http;

namespace {

struct good_case {
  const char* body;
  member want;
};

struct bad_case {
  const char* body;
  const char* error; // expected verbatim
};

/// A body with the seed's two fields.
std::string seed_body(const std::string& name, const std::string& conn) {
  return R"({"name":")" + name + R"(","connectionString":")" + conn + "\"}";
}

} // namespace

CAF_TEST(valid join requests) {
  good_case cases[] = {
    // The seed's body, trailing newline included: peer port = HTTP + 1000.
    {"{\"name\":\"abc1234\",\"connectionString\":\"http://localhost:4002\"}\n",
     {"abc1234", "localhost:4002", "localhost:5002"}},
    {R"({"connectionString":"http://10.0.0.2:4001/","name":"A_b-9"})",
     {"A_b-9", "10.0.0.2:4001", "10.0.0.2:5001"}},
    {R"({"name":"n","connectionString":"http://h:1","raftAddress":"r:2"})",
     {"n", "h:1", "r:2"}},
    {R"({"name":"n","connectionString":"http://h:64535"})",
     {"n", "h:64535", "h:65535"}},
    {R"({"name":"n","connectionString":"http://h:65535","raftAddress":"h:1"})",
     {"n", "h:65535", "h:1"}},
    {R"( { "name" : "n" , "connectionString" : "http://h:080" } )",
     {"n", "h:80", "h:1080"}},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.body);
    member m;
    std::string error;
    CAF_CHECK(parse_join_request(c.body, m, error));
    CAF_CHECK_EQUAL(error, "");
    CAF_CHECK_EQUAL(m.name, c.want.name);
    CAF_CHECK_EQUAL(m.http_addr, c.want.http_addr);
    CAF_CHECK_EQUAL(m.raft_addr, c.want.raft_addr);
  }
  member m;
  std::string error;
  CAF_CHECK(parse_join_request(seed_body(std::string(64, 'x'), "http://h:1"),
                               m, error));
}

CAF_TEST(malformed or incomplete join requests) {
  bad_case cases[] = {
    {"[]", "a join request must be a JSON object"},
    {"\"x\"", "a join request must be a JSON object"},
    {"null", "a join request must be a JSON object"},
    {R"({"name":"n","connectionString":"http://h:1","x":1})",
     R"(unknown field "x")"},
    {R"({"name":"n","connectionString":"http://h:1","a\nb":1})",
     R"(unknown field "a\nb")"},
    {R"({"connectionString":"http://h:1"})", R"(missing field "name")"},
    {R"({"name":"n"})", R"(missing field "connectionString")"},
    {R"({"name":7,"connectionString":"http://h:1"})",
     R"(field "name" must be a string)"},
    {R"({"name":"n","connectionString":null})",
     R"(field "connectionString" must be a string)"},
    {R"({"name":"n","connectionString":"http://h:1","raftAddress":5})",
     R"(field "raftAddress" must be a string)"},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.body);
    member m;
    std::string error;
    CAF_CHECK(!parse_join_request(c.body, m, error));
    CAF_CHECK_EQUAL(error, c.error);
  }
}

CAF_TEST(json syntax errors are one line) {
  const char* bodies[] = {"", "{", "{name:1}", "{\"name\":\"n\"} x",
                          "{\"name\":\"\xff\"}", "{\"a\":\"\n\"}"};
  for (auto body : bodies) {
    member m;
    std::string error;
    CAF_CHECK(!parse_join_request(body, m, error));
    CAF_MESSAGE(error);
    CAF_CHECK_EQUAL(error.rfind("malformed JSON: ", 0), 0u);
    for (auto c : error)
      CAF_CHECK(c >= ' ' && c <= '~'); // printable ASCII: one clean line
  }
}

// Found by fuzz/http_join_fuzz.cpp: an unknown field's name was echoed with
// DEL and non-ASCII bytes as they came; now it is escaped like the rest. And
// every error from the JSON library is a 400, not an exception.
CAF_TEST(join errors are one line of printable ASCII) {
  bad_case cases[] = {
    {"{\"a\x7f\":1}", R"(unknown field "a\u007f")"},
    {"{\"\xc3\xa9\":1}", R"(unknown field "\u00e9")"},
    {"{\"\xff\":1}", "malformed JSON: "},
    // A number past double's range threw out_of_range, not parse_error: it
    // escaped parse_join_request (and would have ended the acceptor).
    {"1e400", "malformed JSON: number overflow parsing '1e400'"},
    {R"({"name":"n","connectionString":"http://h:1","x":-1E999})",
     "malformed JSON: number overflow"},
  };
  for (auto& c : cases) {
    member m;
    std::string error;
    CAF_CHECK(!parse_join_request(c.body, m, error));
    CAF_MESSAGE(error);
    CAF_CHECK_EQUAL(error.compare(0, strlen(c.error), c.error), 0);
    for (auto ch : error)
      CAF_CHECK(ch >= ' ' && ch <= '~');
  }
}

CAF_TEST(deep nesting is refused without a stack overflow) {
  constexpr size_t depth = 200000;
  auto body = std::string(depth, '[') + std::string(depth, ']');
  member m;
  std::string error;
  CAF_CHECK(!parse_join_request(body, m, error));
  CAF_CHECK_EQUAL(error, "a join request must be a JSON object");
}

CAF_TEST(names are checked) {
  // JSON escapes: a tab, a NUL, and U+00E9 from its \u form.
  const char* names[] = {"",      "a b",    "a/b",        "a.b",
                         "\xc3\xa9", "a\\tb", "a\\u0000b", "\\u00e9"};
  for (auto name : names) {
    member m;
    std::string error;
    CAF_CHECK(!parse_join_request(seed_body(name, "http://h:1"), m, error));
    CAF_CHECK_EQUAL(error, "name: want 1 to 64 characters of [0-9A-Za-z_-]");
  }
  member m;
  std::string error;
  CAF_CHECK(!parse_join_request(seed_body(std::string(65, 'x'), "http://h:1"),
                                m, error));
}

CAF_TEST(connection strings and raft addresses are checked) {
  bad_case cases[] = {
    {"h:1", R"(connectionString must be "http://host:port")"},
    {"https://h:1", R"(connectionString must be "http://host:port")"},
    {"http://h", R"(connectionString: missing ":port" after "h")"},
    {"http://:1", R"(connectionString: missing host before ":port")"},
    {"http://[::1]:1", "connectionString: bad host: want a name or an IPv4 "
                       "address, of [0-9A-Za-z._-]"},
    {"http://u@h:1", "connectionString: bad host: want a name or an IPv4 "
                     "address, of [0-9A-Za-z._-]"},
    {"http://h:0", R"(connectionString: port "0" is not in 1-65535)"},
    {"http://h:", R"(connectionString: missing port number after ":")"},
    {"http://h:65536", R"(connectionString: port "65536" is not in 1-65535)"},
    {"http://h:123456",
     R"(connectionString: port "123456" is not in 1-65535)"},
    {"http://h:-1", R"(connectionString: port "-1" is not a number)"},
    {"http://h:1/db", R"(connectionString: port "1/db" is not a number)"},
    {"http://h:1//", R"(connectionString: port "1/" is not a number)"},
    {"http://h:1?x", R"(connectionString: port "1?x" is not a number)"},
    {"http://h:64536", "the default raftAddress port 65536 is over 65535: "
                       "give raftAddress"},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.body);
    member m;
    std::string error;
    CAF_CHECK(!parse_join_request(seed_body("n", c.body), m, error));
    CAF_CHECK_EQUAL(error, c.error);
  }
  const char* bad_raft[] = {"h", "h:0", ":1", "http://h:1", "h:1/", "h:99999",
                            "[::1]:1"};
  for (auto raft : bad_raft) {
    auto body = R"({"name":"n","connectionString":"http://h:1","raftAddress":")"
                + std::string{raft} + "\"}";
    member m;
    std::string error;
    CAF_CHECK(!parse_join_request(body, m, error));
    CAF_CHECK_EQUAL(error.rfind("raftAddress: ", 0), 0u);
  }
}

CAF_TEST(what a joining node sends parses back to the same member) {
  member m{"abc1234", "node1.example:4001", "10.1.2.3:5001"};
  auto body = join_request_json(m);
  CAF_CHECK_EQUAL(body, R"({"name":"abc1234",)"
                        R"("connectionString":"http://node1.example:4001",)"
                        R"("raftAddress":"10.1.2.3:5001"})");
  member back;
  std::string error;
  CAF_CHECK(parse_join_request(body, back, error));
  CAF_CHECK_EQUAL(error, "");
  CAF_CHECK(back == m);
}

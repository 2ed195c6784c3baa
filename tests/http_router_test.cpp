#define CAF_SUITE http.router
#include <caf/test/dsl.hpp>

#include <string>

#include <http_parser.h>

#include "http/router.hpp"

using namespace raftd;
using namespace raftd::http;

namespace {

struct case_ {
  int method;
  const char* path;
  const char* query;
  route_kind kind;
  int status;        // for errors
  std::string key;   // for db routes
};

constexpr auto err = route_kind::error;

void check(const case_& c) {
  CAF_MESSAGE(http_method_str(static_cast<http_method>(c.method))
              << " " << c.path << "?" << c.query);
  auto r = route_request(c.method, c.path, c.query);
  CAF_CHECK(r.kind == c.kind);
  if (c.kind == err) {
    CAF_CHECK_EQUAL(r.status, c.status);
    CAF_CHECK(!r.body.empty() && r.body.back() == '\n');
  } else {
    CAF_CHECK_EQUAL(r.key, c.key);
  }
}

} // namespace

CAF_TEST(db routes by method) {
  case_ cases[] = {
    {HTTP_GET, "/db/foo", "", route_kind::db_get, 0, "foo"},
    {HTTP_POST, "/db/foo", "", route_kind::db_put, 0, "foo"},
    {HTTP_PUT, "/db/foo", "", route_kind::db_put, 0, "foo"},
    {HTTP_DELETE, "/db/foo", "", route_kind::db_delete, 0, "foo"},
    {HTTP_GET, "/status", "", route_kind::status, 0, ""},
    {HTTP_GET, "/snapshot", "", route_kind::snapshot, 0, ""},
  };
  for (auto& c : cases)
    check(c);
}

CAF_TEST(keys are percent decoded and may not hold a slash) {
  case_ cases[] = {
    {HTTP_GET, "/db/%41", "", route_kind::db_get, 0, "A"},
    {HTTP_GET, "/db/a%20b+c", "", route_kind::db_get, 0, "a b+c"},
    {HTTP_PUT, "/db/%e2%82%ac", "", route_kind::db_put, 0, "\xe2\x82\xac"},
    {HTTP_GET, "/db/%2F", "", err, 400, ""},
    {HTTP_GET, "/db/%2f", "", err, 400, ""},
    {HTTP_GET, "/db/a/b", "", err, 400, ""},
    {HTTP_GET, "/db/a/", "", err, 400, ""},
    {HTTP_GET, "/db/", "", err, 400, ""},
    {HTTP_POST, "/db/", "", err, 400, ""},
    {HTTP_GET, "/db/%zz", "", err, 400, ""},
    {HTTP_GET, "/db/%4", "", err, 400, ""},
    {HTTP_GET, "/db/abc%", "", err, 400, ""},
  };
  for (auto& c : cases)
    check(c);
  auto r = route_request(HTTP_GET, "/db/%00x", "");
  CAF_CHECK(r.kind == route_kind::db_get);
  CAF_CHECK(r.key == std::string("\0x", 2));
}

CAF_TEST(read consistency comes from the query) {
  auto mode = [](const char* query) {
    auto r = route_request(HTTP_GET, "/db/k", query);
    CAF_REQUIRE(r.kind == route_kind::db_get);
    return r.mode;
  };
  CAF_CHECK(mode("") == read_mode::linearizable);
  CAF_CHECK(mode("consistency=stale") == read_mode::stale);
  CAF_CHECK(mode("x=1&consistency=stale") == read_mode::stale);
  CAF_CHECK(mode("consistency=%73tale") == read_mode::stale);
  CAF_CHECK(mode("consistency=linearizable") == read_mode::linearizable);
  CAF_CHECK(mode("other=stale") == read_mode::linearizable);
  case_ bad[] = {
    {HTTP_GET, "/db/k", "consistency=weak", err, 400, ""},
    {HTTP_GET, "/db/k", "consistency=", err, 400, ""},
    {HTTP_GET, "/db/k", "consistency", err, 400, ""},
    {HTTP_GET, "/db/k", "consistency=%zz", err, 400, ""},
  };
  for (auto& c : bad)
    check(c);
}

CAF_TEST(unknown routes give 404 page not found) {
  const char* paths[] = {"/",         "/db",      "/dbx/a",   "/status/",
                         "/statusx",  "/snapshot/", "/join/",   "/joinx",   "/members",
                         "/member/a", "/JOIN",    "*",        ""};
  for (auto p : paths) {
    auto r = route_request(HTTP_GET, p, "");
    CAF_CHECK(r.kind == err);
    CAF_CHECK_EQUAL(r.status, 404);
    CAF_CHECK_EQUAL(r.body, "404 page not found\n");
  }
  CAF_CHECK_EQUAL(route_request(HTTP_POST, "/nope", "").status, 404);
}

CAF_TEST(wrong methods give 405 with Allow) {
  int db_bad[] = {HTTP_HEAD, HTTP_PATCH, HTTP_OPTIONS, HTTP_TRACE};
  for (auto m : db_bad) {
    auto r = route_request(m, "/db/k", "");
    CAF_CHECK_EQUAL(r.status, 405);
    CAF_CHECK_EQUAL(r.allow, "GET, PUT, POST, DELETE");
  }
  int status_bad[] = {HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_HEAD};
  for (auto m : status_bad) {
    auto r = route_request(m, "/status", "");
    CAF_CHECK_EQUAL(r.status, 405);
    CAF_CHECK_EQUAL(r.allow, "GET");
  }
  for (auto m : status_bad) {
    auto r = route_request(m, "/snapshot", "");
    CAF_CHECK_EQUAL(r.status, 405);
    CAF_CHECK_EQUAL(r.allow, "GET");
  }
  // The method is checked before the key.
  CAF_CHECK_EQUAL(route_request(HTTP_PATCH, "/db/", "").status, 405);
}

CAF_TEST(membership routes) {
  case_ cases[] = {
    {HTTP_POST, "/join", "", route_kind::join, 0, ""},
    {HTTP_POST, "/join", "x=1", route_kind::join, 0, ""},
    {HTTP_DELETE, "/members/abc1234", "", route_kind::leave, 0, "abc1234"},
    {HTTP_DELETE, "/members/a%2Db", "", route_kind::leave, 0, "a-b"},
    {HTTP_DELETE, "/members/", "", err, 400, ""},
    {HTTP_DELETE, "/members/a/b", "", err, 400, ""},
    {HTTP_DELETE, "/members/a%2fb", "", err, 400, ""},
    {HTTP_DELETE, "/members/%zz", "", err, 400, ""},
  };
  for (auto& c : cases)
    check(c);
  auto r = route_request(HTTP_DELETE, "/members/", "");
  CAF_CHECK_EQUAL(r.body, "empty name\n");
}

CAF_TEST(membership routes check the method) {
  int join_bad[] = {HTTP_GET, HTTP_PUT, HTTP_DELETE, HTTP_HEAD};
  for (auto m : join_bad) {
    auto r = route_request(m, "/join", "");
    CAF_CHECK_EQUAL(r.status, 405);
    CAF_CHECK_EQUAL(r.allow, "POST");
  }
  int members_bad[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_HEAD};
  for (auto m : members_bad) {
    auto r = route_request(m, "/members/x", "");
    CAF_CHECK_EQUAL(r.status, 405);
    CAF_CHECK_EQUAL(r.allow, "DELETE");
  }
  // The method is checked before the name.
  CAF_CHECK_EQUAL(route_request(HTTP_GET, "/members/", "").status, 405);
}

CAF_TEST(percent decoding) {
  std::string out;
  CAF_CHECK(percent_decode("a%41%62+", false, out));
  CAF_CHECK_EQUAL(out, "aAb+");
  CAF_CHECK(percent_decode("a+b", true, out));
  CAF_CHECK_EQUAL(out, "a b");
  CAF_CHECK(!percent_decode("%g1", false, out));
  CAF_CHECK(!percent_decode("%", false, out));
  CAF_CHECK(!percent_decode("%1", false, out));
}

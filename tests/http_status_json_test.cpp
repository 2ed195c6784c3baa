#define CAF_SUITE http.status_json
#include <caf/test/dsl.hpp>

#include <nlohmann/json.hpp>

#include "http/status_json.hpp"

using namespace raftd;
using json = nlohmann::json;

CAF_TEST(all fields are rendered) {
  node_status s;
  s.name = "abc1234";
  s.state = "leader";
  s.term = 7;
  s.leader = "abc1234";
  s.leader_http = "localhost:4001";
  s.commit_index = 10;
  s.applied_index = 9;
  s.last_index = 11;
  s.first_index = 5;
  s.snapshot_index = 6;
  s.snapshot_term = 3;
  s.snapshots_installed = 2;
  s.snapshots_sent = 4;
  s.storage_error = "storage_failed: disk full";
  member_status m;
  m.info = member{"def5678", "localhost:4002", "localhost:5002"};
  m.role = "follower";
  m.match_index = 8;
  m.reachable = true;
  s.members.push_back(m);
  auto text = http::status_json(s);
  CAF_CHECK_EQUAL(text.find('\n'), std::string::npos);
  auto j = json::parse(text);
  CAF_CHECK_EQUAL(j["name"], "abc1234");
  CAF_CHECK_EQUAL(j["state"], "leader");
  CAF_CHECK_EQUAL(j["term"], 7);
  CAF_CHECK_EQUAL(j["leader"], "abc1234");
  CAF_CHECK_EQUAL(j["leader_http"], "localhost:4001");
  CAF_CHECK_EQUAL(j["commit_index"], 10);
  CAF_CHECK_EQUAL(j["applied_index"], 9);
  CAF_CHECK_EQUAL(j["last_index"], 11);
  CAF_CHECK_EQUAL(j["first_index"], 5);
  CAF_CHECK_EQUAL(j["snapshot_index"], 6);
  CAF_CHECK_EQUAL(j["snapshot_term"], 3);
  CAF_CHECK_EQUAL(j["snapshots_installed"], 2);
  CAF_CHECK_EQUAL(j["snapshots_sent"], 4);
  CAF_REQUIRE_EQUAL(j["members"].size(), 1u);
  auto& jm = j["members"][0];
  CAF_CHECK_EQUAL(jm["name"], "def5678");
  CAF_CHECK_EQUAL(jm["http"], "localhost:4002");
  CAF_CHECK_EQUAL(jm["raft"], "localhost:5002");
  CAF_CHECK_EQUAL(jm["role"], "follower");
  CAF_CHECK_EQUAL(jm["match_index"], 8);
  CAF_CHECK_EQUAL(jm["reachable"], true);
  CAF_CHECK_EQUAL(j["storage_error"], "storage_failed: disk full");
  CAF_CHECK_EQUAL(j.size(), 15u);
  CAF_CHECK_EQUAL(jm.size(), 6u);
}

CAF_TEST(keys keep the documented order) {
  auto text = http::status_json(node_status{});
  auto prefix = R"({"name":"","state":"","term":0,"leader":"",)";
  CAF_CHECK_EQUAL(text.rfind(prefix, 0), 0u);
  CAF_CHECK(json::parse(text)["members"] == json::array());
}

CAF_TEST(bytes that are not utf8 do not break rendering) {
  node_status s;
  s.leader = "\xff\xfe";
  auto j = json::parse(http::status_json(s));
  CAF_CHECK_EQUAL(j["leader"], "\xef\xbf\xbd\xef\xbf\xbd");
}

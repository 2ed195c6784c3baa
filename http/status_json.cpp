#include "http/status_json.hpp"

#include <nlohmann/json.hpp>

namespace raftd::http {

namespace {

// ordered_json keeps the keys in the documented order, for human readers.
using json = nlohmann::ordered_json;

json member_json(const member_status& m) {
  return json{{"name", m.info.name},
              {"http", m.info.http_addr},
              {"raft", m.info.raft_addr},
              {"role", m.role},
              {"match_index", m.match_index},
              {"reachable", m.reachable}};
}

} // namespace

std::string status_json(const node_status& s) {
  auto members = json::array();
  for (auto& m : s.members)
    members.push_back(member_json(m));
  json j{{"name", s.name},
         {"state", s.state},
         {"term", s.term},
         {"leader", s.leader},
         {"leader_http", s.leader_http},
         {"commit_index", s.commit_index},
         {"applied_index", s.applied_index},
         {"last_index", s.last_index},
         {"first_index", s.first_index},
         {"snapshot_index", s.snapshot_index},
         {"snapshot_term", s.snapshot_term},
         {"snapshots_installed", s.snapshots_installed},
         {"snapshots_sent", s.snapshots_sent},
         {"members", std::move(members)},
         {"storage_error", s.storage_error}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace raftd::http

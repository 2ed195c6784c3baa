#include "daemon/joiner.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "daemon/logging.hpp"
#include "http/client.hpp"
#include "http/join.hpp"

namespace raftd {

namespace {

using clock_type = std::chrono::steady_clock;

/// One attempt, following up to `max_redirects` redirects to the leader.
/// Returns the final status (0: no answer) and sets `detail`.
int attempt(const join_config& cfg, const std::string& body,
            std::string& detail) {
  auto host_port = cfg.target;
  std::string target = "/join";
  for (int hops = 0; hops <= cfg.max_redirects; ++hops) {
    std::string err;
    auto resp = http::http_request("POST", host_port, target, body,
                                   "application/json", cfg.attempt_timeout,
                                   err);
    if (!resp) {
      detail = host_port + ": " + err;
      return 0;
    }
    detail = host_port + " answered " + std::to_string(resp->status) + " "
             + resp->body;
    while (!detail.empty() && detail.back() == '\n')
      detail.pop_back();
    if (resp->status != 307 || resp->location.empty())
      return resp->status;
    if (!http::split_location(resp->location, host_port, target)) {
      detail = "bad redirect: " + resp->location;
      return 0;
    }
    RAFTD_LOG(info, "join redirected to " << host_port);
  }
  return 0;
}

/// 4xx (but a 404 from a node not yet serving /join) means the cluster
/// looked at the request and said no: retrying will not help.
bool refused(int status) {
  return status >= 400 && status < 500 && status != 404 && status != 408;
}

} // namespace

std::optional<std::vector<node_name>>
fetch_member_names(const std::string& target, std::chrono::milliseconds timeout,
                   std::string& error) {
  auto resp = http::http_request("GET", target, "/status", "", "", timeout,
                                 error);
  if (!resp)
    return std::nullopt;
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  if (resp->status != 200 || !j.is_object() || !j.contains("members")
      || !j["members"].is_array()) {
    error = "no raftd status at " + target;
    return std::nullopt;
  }
  std::vector<node_name> names;
  for (auto& m : j["members"])
    if (m.is_object() && m.contains("name") && m["name"].is_string())
      names.push_back(m["name"].get<std::string>());
  return names;
}

join_outcome join_cluster(const join_config& cfg, const member& self,
                          const std::function<bool(std::chrono::milliseconds)>&
                            sleep,
                          std::string& why) {
  auto body = http::join_request_json(self);
  auto give_up_at = clock_type::now() + cfg.deadline;
  auto backoff = cfg.retry_min;
  RAFTD_LOG(notice, "attempting to join " << cfg.target);
  for (;;) {
    auto status = attempt(cfg, body, why);
    if (status == 200) {
      RAFTD_LOG(notice, "joined the cluster through " << cfg.target);
      return join_outcome::joined;
    }
    if (refused(status))
      return join_outcome::refused;
    if (clock_type::now() + backoff >= give_up_at)
      return join_outcome::gave_up;
    RAFTD_LOG(warn, "join not done yet (" << why << "); retrying");
    if (!sleep(backoff))
      return join_outcome::interrupted;
    backoff = std::min(cfg.retry_max, backoff * 2);
  }
}

} // namespace raftd

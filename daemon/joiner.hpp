#pragma once
// `raftd -join host:port`: asks a member to add this node (the seed's
// `POST /join`), following redirects and retrying until this node is a
// member, the cluster refuses it, or the deadline passes.

#include <chrono>
#include <functional>
#include <optional>
#include <vector>
#include <string>

#include "messages/types.hpp"

namespace raftd {

struct join_config {
  /// "host:port" of any member's HTTP API.
  std::string target;
  /// Give up after this long without success.
  std::chrono::milliseconds deadline{60000};
  /// One attempt's bound (the leader catches this node up meanwhile).
  std::chrono::milliseconds attempt_timeout{10000};
  /// Back-off between attempts, doubling up to the maximum.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{2000};
  /// Redirects followed in a row before counting as a failed attempt.
  int max_redirects = 5;
};

/// The outcome of joining.
enum class join_outcome { joined, refused, gave_up, interrupted };

/// The member names the node at `target` ("host:port", HTTP) knows, from its
/// /status; nothing (and `error` set) if it cannot be asked.
std::optional<std::vector<node_name>>
fetch_member_names(const std::string& target, std::chrono::milliseconds timeout,
                   std::string& error);

/// Joins `self` to the cluster. `sleep(d)` waits d between attempts and
/// returns false if the process is told to stop meanwhile. `why` gets the
/// reason when not joined.
join_outcome join_cluster(const join_config& cfg, const member& self,
                          const std::function<bool(std::chrono::milliseconds)>&
                            sleep,
                          std::string& why);

} // namespace raftd

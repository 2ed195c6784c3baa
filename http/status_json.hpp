#pragma once
// The JSON body of `GET /status`.

#include <string>

#include "messages/types.hpp"

namespace raftd::http {

/// Renders `s` as one line of JSON, keys in this order:
/// {"name","state","term","leader","leader_http","commit_index",
///  "applied_index","last_index","members":[{"name","http","raft","role",
///  "match_index","reachable"}, ...]}.
/// Bytes that are not UTF-8 become U+FFFD, so rendering never fails.
std::string status_json(const node_status& s);

} // namespace raftd::http

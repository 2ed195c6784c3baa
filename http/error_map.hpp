#pragma once
// How a failed request to the node becomes an HTTP answer. Pure: the caller
// passes the rendered error text in, so no actor system is needed.
//
//   not_leader "host:port"    -> 307, Location: http://host:port/path?query
//   not_leader "" / no_leader -> 503 (nothing was proposed)
//   shutting_down             -> 503
//   outcome_unknown           -> 504 (proposed; it may still commit)
//   value_too_large           -> 413
//   bad_request               -> 400, the context
//   conflict                  -> 409, the context (a join's name/address taken)
//   busy                      -> 503, the context (a membership change runs)
//   not_found                 -> 404, the context (no such member)
//   superseded                -> 503 (truncated by a new leader: no effect)
//   CAF request_timeout       -> 504 for a write, 503 for a read
//   CAF request_receiver_down -> 503 (the node is gone: nothing was proposed)
//   anything else             -> 500, the rendered error

#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "http/response.hpp"

namespace raftd::http {

/// Whether a request may change state (only then can its outcome be unknown).
enum class op_kind { read, write };

/// The body of a redirect to the leader (the seed's error text).
inline constexpr std::string_view not_leader_body
  = "raft.Server: Not current leader\n";

/// The body of a 503 when no leader is known.
inline constexpr std::string_view no_leader_body
  = "no leader known: nothing was proposed\n";

/// The body of a 503 for a write a new leader truncated: it definitely had
/// no effect, so it is safe to retry (not a 500).
inline constexpr std::string_view superseded_body
  = "the write was superseded by a new leader and not applied\n";

/// Maps `e`, the error reply to a request of kind `op` for the raw target
/// `path` + `query`, to a response. `rendered` is `system().render(e)`.
http_response error_response(const caf::error& e, op_kind op,
                             std::string_view path, std::string_view query,
                             const std::string& rendered);

} // namespace raftd::http

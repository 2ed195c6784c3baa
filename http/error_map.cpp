#include "http/error_map.hpp"

#include <caf/sec.hpp>

#include "messages/errors.hpp"

namespace raftd::http {

namespace {

constexpr std::string_view outcome_unknown_body
  = "outcome unknown: the write was proposed but not confirmed in time; "
    "it may still commit\n";
constexpr std::string_view read_timeout_body
  = "no answer from the node in time\n";
constexpr std::string_view shutting_down_body
  = "shutting down: nothing was proposed\n";
constexpr std::string_view node_down_body
  = "node unavailable: nothing was proposed\n";
constexpr std::string_view busy_fallback
  = "another membership change is in progress; retry";

http_response text(int status, std::string_view body) {
  return text_response(status, std::string{body});
}

http_response redirect(const std::string& leader, std::string_view path,
                       std::string_view query) {
  auto r = text(307, not_leader_body);
  r.location = "http://" + leader + std::string{path};
  if (!query.empty())
    r.location += "?" + std::string{query};
  return r;
}

/// A context line, or `fallback` when the error carries none.
std::string context_line(const caf::error& e, std::string_view fallback) {
  auto ctx = context_of(e);
  return (ctx.empty() ? std::string{fallback} : ctx) + "\n";
}

http_response caf_error_response(const caf::error& e, op_kind op,
                                 const std::string& rendered) {
  if (e == caf::sec::request_timeout)
    return op == op_kind::write ? text(504, outcome_unknown_body)
                                : text(503, read_timeout_body);
  if (e == caf::sec::request_receiver_down)
    return text(503, node_down_body);
  return text_response(500, rendered + "\n");
}

} // namespace

http_response error_response(const caf::error& e, op_kind op,
                             std::string_view path, std::string_view query,
                             const std::string& rendered) {
  if (e.category() != errc_category())
    return caf_error_response(e, op, rendered);
  switch (static_cast<errc>(e.code())) {
    case errc::not_leader:
      if (auto leader = context_of(e); !leader.empty())
        return redirect(leader, path, query);
      return text(503, no_leader_body);
    case errc::no_leader: return text(503, no_leader_body);
    case errc::shutting_down: return text(503, shutting_down_body);
    case errc::outcome_unknown: return text(504, outcome_unknown_body);
    case errc::value_too_large:
      return text_response(413, context_line(e, "value too large"));
    case errc::bad_request:
      return text_response(400, context_line(e, "bad request"));
    case errc::conflict:
      return text_response(409, context_line(e, "conflict"));
    case errc::busy:
      return text_response(503, context_line(e, busy_fallback));
    case errc::not_found:
      return text_response(404, context_line(e, "not found"));
    case errc::superseded: return text(503, superseded_body);
    case errc::storage_failed:
      return text_response(507, context_line(e, "this node cannot write to "
                                                "its disk"));
    case errc::unreachable:
      return text_response(503, context_line(e, "unreachable"));
    default: return text_response(500, rendered + "\n");
  }
}

} // namespace raftd::http

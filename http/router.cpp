#include "http/router.hpp"

#include <http_parser.h>

#include "http/hex.hpp"

namespace raftd::http {

namespace {

constexpr std::string_view db_prefix = "/db/";
constexpr std::string_view status_path = "/status";
constexpr std::string_view snapshot_path = "/snapshot";
constexpr std::string_view join_path = "/join";
constexpr std::string_view members_prefix = "/members/";
constexpr std::string_view consistency_param = "consistency";

route error_route(int status, std::string body, std::string_view allow = {}) {
  route r;
  r.status = status;
  r.body = std::move(body);
  r.allow = std::string{allow};
  return r;
}

/// Parses the `consistency` parameter into `mode`. Other parameters are
/// ignored, as Go's `URL.Query().Get` does; the first `consistency` wins.
/// Returns an error text, or "" if the query is fine.
std::string parse_read_mode(std::string_view query, read_mode& mode) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string name;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), true, name)
        || name != consistency_param)
      continue;
    if (eq != std::string_view::npos
        && !percent_decode(pair.substr(eq + 1), true, value))
      return "bad percent-encoding in query\n";
    if (value == "stale")
      mode = read_mode::stale;
    else if (value == "linearizable")
      mode = read_mode::linearizable;
    else
      return "bad consistency: want stale or linearizable\n";
    return {};
  }
  return {};
}

/// Decodes and checks one path segment, the {key} of /db/{key} or the
/// {name} of /members/{name}; `what` names it in the error text. Returns an
/// error text or "".
std::string decode_segment(std::string_view raw, std::string_view what,
                           std::string& out) {
  auto what_s = std::string{what};
  if (raw.empty())
    return "empty " + what_s + "\n";
  if (!percent_decode(raw, false, out))
    return "bad percent-encoding in " + what_s + "\n";
  if (raw.find('/') != std::string_view::npos
      || out.find('/') != std::string::npos)
    return what_s + " may not contain '/'\n";
  return {};
}

route route_db(int method, std::string_view raw_key, std::string_view query) {
  route r;
  if (method == HTTP_GET)
    r.kind = route_kind::db_get;
  else if (method == HTTP_POST || method == HTTP_PUT)
    r.kind = route_kind::db_put;
  else if (method == HTTP_DELETE)
    r.kind = route_kind::db_delete;
  else
    return error_route(405, "method not allowed\n", db_allow);
  if (auto err = decode_segment(raw_key, "key", r.key); !err.empty())
    return error_route(400, std::move(err));
  if (r.kind == route_kind::db_get) {
    if (auto err = parse_read_mode(query, r.mode); !err.empty())
      return error_route(400, std::move(err));
  }
  return r;
}

route route_status(int method) {
  if (method != HTTP_GET)
    return error_route(405, "method not allowed\n", status_allow);
  route r;
  r.kind = route_kind::status;
  return r;
}

route route_snapshot(int method) {
  if (method != HTTP_GET)
    return error_route(405, "method not allowed\n", snapshot_allow);
  route r;
  r.kind = route_kind::snapshot;
  return r;
}

route route_join(int method) {
  if (method != HTTP_POST)
    return error_route(405, "method not allowed\n", join_allow);
  route r;
  r.kind = route_kind::join;
  return r;
}

route route_members(int method, std::string_view raw_name) {
  if (method != HTTP_DELETE)
    return error_route(405, "method not allowed\n", members_allow);
  route r;
  r.kind = route_kind::leave;
  if (auto err = decode_segment(raw_name, "name", r.key); !err.empty())
    return error_route(400, std::move(err));
  return r;
}

} // namespace

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) // '%' and two hex digits
        return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
  }
  return true;
}

route route_request(int method, std::string_view path,
                    std::string_view query) {
  if (path.substr(0, db_prefix.size()) == db_prefix)
    return route_db(method, path.substr(db_prefix.size()), query);
  if (path == status_path)
    return route_status(method);
  if (path == snapshot_path)
    return route_snapshot(method);
  if (path == join_path)
    return route_join(method);
  if (path.substr(0, members_prefix.size()) == members_prefix)
    return route_members(method, path.substr(members_prefix.size()));
  return error_route(404, std::string{not_found_body});
}

} // namespace raftd::http

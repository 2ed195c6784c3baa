#include "http/join.hpp"

#include <nlohmann/json.hpp>

#include "messages/address.hpp"

namespace raftd::http {

namespace {

// ordered_json keeps the keys in the seed's order in what we send.
using json = nlohmann::ordered_json;

constexpr std::string_view name_field = "name";
constexpr std::string_view conn_field = "connectionString";
constexpr std::string_view raft_field = "raftAddress";
constexpr std::string_view http_scheme = "http://";

/// Longest host name (DNS: 253 characters).
constexpr size_t max_host_length = 253;

/// Highest port; the default peer port (HTTP port + offset) must fit.
constexpr uint32_t max_port = 65535;

/// Longest parser detail quoted in an error (it may echo the input).
constexpr size_t max_error_detail = 240;

bool is_name_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
         || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

bool is_host_char(char c) {
  return is_name_char(c) || c == '.';
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > max_member_name)
    return false;
  for (auto c : s)
    if (!is_name_char(c))
      return false;
  return true;
}

bool valid_host(std::string_view s) {
  if (s.empty() || s.size() > max_host_length)
    return false;
  for (auto c : s)
    if (!is_host_char(c))
      return false;
  return true;
}

/// Parses the "host:port" of the field `field` with the shared parser, then
/// holds the host to our rule (a name or IPv4: see join.hpp). Returns an
/// error text or "".
std::string parse_address(std::string_view s, std::string_view field,
                          host_port& out) {
  auto f = std::string{field};
  auto r = parse_host_port(s);
  if (!r)
    return f + ": " + r.error;
  if (!valid_host(r.value->host))
    return f + ": bad host: want a name or an IPv4 address, "
           + "of [0-9A-Za-z._-]";
  out = std::move(*r.value);
  return {};
}

/// Sets out.http_addr and out.raft_addr. `raft` is null when absent.
std::string parse_addresses(const std::string& conn, const std::string* raft,
                            member& out) {
  std::string_view rest = conn;
  if (rest.substr(0, http_scheme.size()) != http_scheme)
    return std::string{conn_field} + " must be \"http://host:port\"";
  rest.remove_prefix(http_scheme.size());
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  host_port http;
  if (auto err = parse_address(rest, conn_field, http); !err.empty())
    return err;
  out.http_addr = to_string(http);
  if (raft != nullptr) {
    host_port addr;
    auto err = parse_address(*raft, raft_field, addr);
    if (err.empty())
      out.raft_addr = to_string(addr);
    return err;
  }
  uint32_t port = http.port + uint32_t{default_raft_port_offset};
  if (port > max_port)
    return "the default " + std::string{raft_field} + " port "
           + std::to_string(port) + " is over 65535: give "
           + std::string{raft_field};
  out.raft_addr = to_string(host_port{http.host, static_cast<uint16_t>(port)});
  return {};
}

/// The string field `key` of `j`, or null. Absent is an error unless
/// `optional`; an error goes to `error` unless it already holds one.
const std::string* string_field(const json& j, std::string_view key,
                                bool optional, std::string& error) {
  auto quoted = "\"" + std::string{key} + "\"";
  auto i = j.find(key);
  if (i != j.end() && i->is_string())
    return i->get_ptr<const std::string*>();
  if (!error.empty())
    return nullptr;
  if (i != j.end())
    error = "field " + quoted + " must be a string";
  else if (!optional)
    error = "missing field " + quoted;
  return nullptr;
}

/// Returns an error text for the first field that is not ours, or "".
std::string check_known_fields(const json& j) {
  for (auto& field : j.items()) {
    auto& key = field.key();
    if (key != name_field && key != conn_field && key != raft_field)
      // dump() quotes and escapes it, with ensure_ascii so the error is
      // printable ASCII on one line, as parse_detail's is.
      return "unknown field "
             + json(key).dump(-1, ' ', true, json::error_handler_t::replace);
  }
  return {};
}

/// The parser's own message without its "[json.exception...] " prefix,
/// shortened, with bytes outside printable ASCII (echoed input) as '?'.
std::string parse_detail(const json::exception& e) {
  std::string_view what = e.what();
  if (auto end = what.find("] "); end != std::string_view::npos)
    what.remove_prefix(end + 2);
  auto out = std::string{what.substr(0, max_error_detail)};
  for (auto& c : out)
    if (c < ' ' || c > '~')
      c = '?';
  return out;
}

bool parse_object(std::string_view body, json& j, std::string& error) {
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    // Not only parse_error: a number past double's range ("1e400") throws
    // out_of_range, which must not escape to the acceptor either.
    error = "malformed JSON: " + parse_detail(e);
    return false;
  }
  if (!j.is_object()) {
    error = "a join request must be a JSON object";
    return false;
  }
  return true;
}

bool parse_fields(const json& j, member& out, std::string& error) {
  if (error = check_known_fields(j); !error.empty())
    return false;
  auto name = string_field(j, name_field, false, error);
  auto conn = string_field(j, conn_field, false, error);
  auto raft = string_field(j, raft_field, true, error);
  if (!error.empty())
    return false;
  if (!valid_name(*name)) {
    error = "name: want 1 to " + std::to_string(max_member_name)
            + " characters of [0-9A-Za-z_-]";
    return false;
  }
  out.name = *name;
  error = parse_addresses(*conn, raft, out);
  return error.empty();
}

} // namespace

bool parse_join_request(std::string_view body, member& out,
                        std::string& error) {
  error.clear();
  json j;
  return parse_object(body, j, error) && parse_fields(j, out, error);
}

std::string join_request_json(const member& m) {
  json j{{name_field, m.name},
         {conn_field, std::string{http_scheme} + m.http_addr},
         {raft_field, m.raft_addr}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace raftd::http

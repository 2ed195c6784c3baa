#include "http/join.hpp"

#include <nlohmann/json.hpp>

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

/// Most digits in a port ("65535").
constexpr size_t max_port_digits = 5;

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

/// Parses a decimal port in [1, 65535]; 0 if it is none.
uint32_t parse_port(std::string_view s) {
  if (s.empty() || s.size() > max_port_digits)
    return 0;
  uint32_t port = 0;
  for (auto c : s) {
    if (c < '0' || c > '9')
      return 0;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  return port <= max_port ? port : 0;
}

/// Parses "host:port" of the field `field`. Returns an error text or "".
std::string parse_host_port(std::string_view s, std::string_view field,
                            std::string& host, uint32_t& port) {
  auto f = std::string{field};
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos)
    return f + ": missing \":port\"";
  if (!valid_host(s.substr(0, colon)))
    return f + ": bad host: want a name or an IPv4 address, "
           + "of [0-9A-Za-z._-]";
  port = parse_port(s.substr(colon + 1));
  if (port == 0)
    return f + ": bad port: want 1 to 65535";
  host = std::string{s.substr(0, colon)};
  return {};
}

std::string join_addr(const std::string& host, uint32_t port) {
  return host + ":" + std::to_string(port);
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
  std::string host;
  uint32_t port = 0;
  if (auto err = parse_host_port(rest, conn_field, host, port); !err.empty())
    return err;
  out.http_addr = join_addr(host, port);
  if (raft != nullptr) {
    auto err = parse_host_port(*raft, raft_field, host, port);
    if (err.empty())
      out.raft_addr = join_addr(host, port);
    return err;
  }
  if (port + default_raft_port_offset > max_port)
    return "the default " + std::string{raft_field} + " port "
           + std::to_string(port + default_raft_port_offset)
           + " is over 65535: give " + std::string{raft_field};
  out.raft_addr = join_addr(host, port + default_raft_port_offset);
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

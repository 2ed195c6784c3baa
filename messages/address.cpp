#include "messages/address.hpp"

namespace raftd {

namespace {

constexpr uint32_t max_port = 65535;

/// Longest piece of input an error quotes (it may be anything).
constexpr size_t max_quoted = 32;

/// `s` in quotes, shortened, with bytes outside printable ASCII as '?': the
/// error goes into logs and HTTP answers (fuzz/http_join_fuzz.cpp checks it).
std::string quoted(std::string_view s) {
  auto out = std::string{s.substr(0, max_quoted)};
  for (auto& c : out)
    if (c < ' ' || c > '~')
      c = '?';
  return "\"" + out + (s.size() > max_quoted ? "...\"" : "\"");
}

parsed_host_port fail(std::string why) {
  return {std::nullopt, std::move(why)};
}

/// Checks the port text; "" if it is a port, else why not.
std::string port_error(std::string_view s) {
  if (s.empty())
    return "missing port number after \":\"";
  if (s.find_first_not_of("0123456789") != std::string_view::npos)
    return "port " + quoted(s) + " is not a number";
  if (!parse_port(s))
    return "port " + quoted(s) + " is not in 1-65535";
  return {};
}

/// Builds the result once host and port text are split apart.
parsed_host_port make(std::string_view host, std::string_view port) {
  if (host.empty())
    return fail("missing host before \":port\"");
  if (host.find_first_of("[]") != std::string_view::npos)
    return fail("stray \"[\" or \"]\" in host " + quoted(host));
  if (auto err = port_error(port); !err.empty())
    return fail(std::move(err));
  return {host_port{std::string{host}, *parse_port(port)}, {}};
}

/// "[v6]:port" or "[v6]" (with a default port).
parsed_host_port parse_bracketed(std::string_view text,
                                 std::optional<uint16_t> default_port) {
  auto close = text.find(']');
  if (close == std::string_view::npos)
    return fail("\"[\" without \"]\"");
  auto host = text.substr(1, close - 1);
  auto rest = text.substr(close + 1);
  if (rest.empty() && default_port)
    return make(host, std::to_string(*default_port));
  if (rest.empty() || rest.front() != ':')
    return fail("want \":port\" after \"]\"");
  return make(host, rest.substr(1));
}

} // namespace

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  uint32_t port = 0;
  for (auto c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    // Stop before it can overflow: any leading zeros, then at most 5 digits.
    port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port > max_port)
      return std::nullopt;
  }
  if (port == 0)
    return std::nullopt;
  return static_cast<uint16_t>(port);
}

parsed_host_port parse_host_port(std::string_view text,
                                 std::optional<uint16_t> default_port) {
  if (!text.empty() && text.front() == '[')
    return parse_bracketed(text, default_port);
  auto colon = text.rfind(':');
  if (colon != std::string_view::npos)
    return make(text.substr(0, colon), text.substr(colon + 1));
  if (!default_port)
    return fail(text.empty() ? "empty address: want host:port"
                             : "missing \":port\" after " + quoted(text));
  return make(text, std::to_string(*default_port));
}

std::string to_string(const host_port& x) {
  auto port = std::to_string(x.port);
  if (x.host.find(':') != std::string::npos)
    return "[" + x.host + "]:" + port;
  return x.host + ":" + port;
}

} // namespace raftd

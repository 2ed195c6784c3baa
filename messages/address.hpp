#pragma once
// The one "host:port" type and parser of every entry point: the -join flag,
// raftctl -c, the join body, redirects (Location), the HTTP client and the
// replicator's connect. No CAF headers: the CLI and tests include it cheaply.
//
//   address := host ":" port
//            | "[" v6 "]" ":" port     an IPv6 literal, brackets dropped
//   port    := digit+                  value 1-65535; leading zeros allowed
//
// An unbracketed host may hold ':' ("::1:4001" is host "::1", port 4001):
// the port follows the last ':', as every parser before this one split it.
// A host never holds '[' or ']', so to_string() always parses back.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raftd {

/// A TCP endpoint: a name, an IPv4 or an IPv6 literal, and a port.
struct host_port {
  std::string host; ///< Never empty once parsed; no brackets.
  uint16_t port = 0; ///< 1-65535 once parsed.
};

/// What parse_host_port() found: the address, or why the text is none.
struct parsed_host_port {
  std::optional<host_port> value;
  std::string error; ///< One line, set iff `value` is empty.

  explicit operator bool() const {
    return value.has_value();
  }
};

/// Parses "host:port" or "[v6]:port". With `default_port`, the ":port" may
/// be left out (a URL's authority: "h", "[::1]"). Never throws; the error
/// names the problem: empty host, missing ":port", a port that is not a
/// number or not in 1-65535, or stray brackets.
parsed_host_port
parse_host_port(std::string_view text,
                std::optional<uint16_t> default_port = std::nullopt);

/// Parses a decimal port in 1-65535 (as -p takes it); nullopt otherwise.
std::optional<uint16_t> parse_port(std::string_view text);

/// "host:port", or "[host]:port" when the host holds ':' (IPv6).
std::string to_string(const host_port& x);

inline bool operator==(const host_port& a, const host_port& b) {
  return a.host == b.host && a.port == b.port;
}

} // namespace raftd

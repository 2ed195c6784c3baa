#include "daemon/node_config.hpp"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>

#include "messages/address.hpp"

namespace raftd {

namespace {

constexpr uint16_t raft_port_offset = 1000;
constexpr uint64_t max_size_flag = uint64_t{1} << 40;

bool parse_uint(const std::string& text, uint64_t max, uint64_t& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  errno = 0;
  auto v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0 || v > max)
    return false;
  out = v;
  return true;
}

bool parse_port(const std::string& text, uint16_t& out) {
  auto port = raftd::parse_port(text);
  out = port.value_or(out);
  return port.has_value();
}

/// -join: stored normalized ("h:080" -> "h:80"), so that it compares equal
/// to the http_addr the member got from its own join body.
bool set_join(node_config& c, const std::string& v) {
  auto r = parse_host_port(v);
  if (r)
    c.join = to_string(*r.value);
  return static_cast<bool>(r);
}

/// What a flag's "invalid value" error adds: the address parser's reason.
std::string invalid_detail(const std::string& name, const std::string& value) {
  if (name == "join")
    return ": " + parse_host_port(value).error;
  return {};
}

using setter = std::function<bool(node_config&, const std::string&)>;

/// Flags that take a value, with the check that accepts it.
const std::map<std::string, setter>& value_flags() {
  static const std::map<std::string, setter> flags{
    {"h", [](node_config& c, const std::string& v) {
       c.host = v;
       return !v.empty();
     }},
    {"p", [](node_config& c, const std::string& v) {
       return parse_port(v, c.http_port);
     }},
    {"raft-port", [](node_config& c, const std::string& v) {
       return parse_port(v, c.raft_port);
     }},
    {"join", set_join},
    {"restore", [](node_config& c, const std::string& v) {
       c.restore = v;
       return !v.empty();
     }},
    {"max-value-size", [](node_config& c, const std::string& v) {
       uint64_t n = 0;
       if (!parse_uint(v, max_size_flag, n) || n == 0)
         return false;
       c.max_value_size = n;
       return true;
     }},
    {"max-conns", [](node_config& c, const std::string& v) {
       uint64_t n = 0;
       if (!parse_uint(v, 1 << 20, n) || n == 0)
         return false;
       c.max_conns = n;
       return true;
     }},
    {"idle-timeout", [](node_config& c, const std::string& v) {
       return parse_duration(v, c.idle_timeout) && c.idle_timeout.count() > 0;
     }},
    {"election-timeout", [](node_config& c, const std::string& v) {
       return parse_duration(v, c.election_timeout)
              && c.election_timeout.count() >= 10;
     }},
    {"heartbeat", [](node_config& c, const std::string& v) {
       return parse_duration(v, c.heartbeat) && c.heartbeat.count() > 0;
     }},
    {"write-timeout", [](node_config& c, const std::string& v) {
       return parse_duration(v, c.write_timeout) && c.write_timeout.count() > 0;
     }},
    {"snapshot-entries", [](node_config& c, const std::string& v) {
       return parse_uint(v, uint64_t{1} << 40, c.snapshot_entries);
     }},
    {"snapshot-trailing", [](node_config& c, const std::string& v) {
       return parse_uint(v, uint64_t{1} << 40, c.snapshot_trailing);
     }},
  };
  return flags;
}

/// Boolean flags (`-v`, `-v=true`).
bool set_bool_flag(node_config& c, const std::string& name) {
  if (name == "v")
    c.log_level = std::max(c.log_level, 3);
  else if (name == "debug")
    c.log_level = std::max(c.log_level, 4);
  else if (name == "trace")
    c.log_level = 5;
  else if (name == "help")
    c.help = true;
  else
    return false;
  return true;
}

} // namespace

bool parse_duration(const std::string& text, std::chrono::milliseconds& out) {
  auto digits = text.find_first_not_of("0123456789");
  uint64_t n = 0;
  if (!parse_uint(text.substr(0, digits), uint64_t{1} << 32, n))
    return false;
  auto unit = digits == std::string::npos ? std::string{} : text.substr(digits);
  if (unit.empty() || unit == "ms")
    out = std::chrono::milliseconds{n};
  else if (unit == "s")
    out = std::chrono::milliseconds{n * 1000};
  else if (unit == "m")
    out = std::chrono::milliseconds{n * 60000};
  else
    return false;
  return true;
}

parse_result parse_args(const std::vector<std::string>& args) {
  parse_result r;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a.size() < 2 || a[0] != '-' || !positional.empty()) {
      positional.push_back(a); // Go's flag stops at the first non-flag
      continue;
    }
    auto name = a.substr(a[1] == '-' ? 2 : 1);
    std::string value;
    auto eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto f = value_flags().find(name);
    if (f == value_flags().end()) {
      if (has_value && value != "true" && value != "false") {
        r.error = "invalid value \"" + value + "\" for flag -" + name;
        return r;
      }
      if (value == "false")
        continue;
      if (!set_bool_flag(r.cfg, name)) {
        r.error = "flag provided but not defined: -" + name;
        return r;
      }
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        r.error = "flag needs an argument: -" + name;
        return r;
      }
      value = args[++i];
    }
    if (!f->second(r.cfg, value)) {
      r.error = "invalid value \"" + value + "\" for flag -" + name
                + invalid_detail(name, value);
      return r;
    }
  }
  if (r.cfg.help)
    return r;
  if (positional.empty()) {
    r.error = "data path argument required";
    return r;
  }
  if (positional.size() > 1) {
    r.error = "unexpected argument after the data path: " + positional[1];
    return r;
  }
  r.cfg.data_path = positional[0];
  if (r.cfg.raft_port == 0) {
    if (r.cfg.http_port > 65535 - raft_port_offset) {
      r.error = "-p " + std::to_string(r.cfg.http_port)
                + " leaves no room for the default peer port; set -raft-port";
      return r;
    }
    r.cfg.raft_port = r.cfg.http_port + raft_port_offset;
  }
  if (r.cfg.raft_port == r.cfg.http_port)
    r.error = "-raft-port must differ from -p";
  else if (!r.cfg.restore.empty() && !r.cfg.join.empty())
    r.error = "-restore makes a new cluster; start the node, then -join "
              "others to it";
  return r;
}

std::string usage(const std::string& prog) {
  return "Usage: " + prog + " [flags] <data-path>\n"
    "       " + prog + " -restore FILE [-h host -p port -raft-port port]"
    " <data-path>\n"
    "  -h host               address to bind and advertise (default localhost)\n"
    "  -p port               HTTP port (default 4001)\n"
    "  -raft-port port       peer port for Raft and CAF clients"
    " (default: HTTP port + 1000)\n"
    "  -join host:port       HTTP address of a cluster member to join\n"
    "  -v                    verbose (info) logging\n"
    "  -debug                debug logging\n"
    "  -trace                trace logging\n"
    "  -max-value-size n     largest value in bytes (default 1048576)\n"
    "  -max-conns n          most open HTTP connections (default 1024)\n"
    "  -idle-timeout d       close idle HTTP connections after d (default 60s)\n"
    "  -election-timeout d   election timeout, random in [d, 2d)"
    " (default 150ms)\n"
    "  -heartbeat d          leader heartbeat interval (default 50ms)\n"
    "  -write-timeout d      wait for a write to commit before 504"
    " (default 5s)\n"
    "  -snapshot-entries n   applied entries between log compactions;"
    " 0: never\n"
    "                        compact (default 50000)\n"
    "  -snapshot-trailing n  log entries kept behind the snapshot for"
    " followers\n"
    "                        a little behind (default 20000)\n"
    "  -restore FILE         make <data-path> (new or empty) from a backup"
    " as a\n"
    "                        one-member cluster, then exit (GET /snapshot,\n"
    "                        raftctl snapshot save)\n"
    "  -help                 print this help\n"
    "Durations take ms, s or m (500ms, 2s).\n";
}

} // namespace raftd

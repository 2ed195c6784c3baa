#pragma once
// The daemon's command line, seed-compatible (Go `flag` forms: -p 4001,
// -p=4001, --p 4001). Parsing is pure so that tests drive it directly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace raftd {

struct node_config {
  std::string data_path;
  std::string host = "localhost";
  uint16_t http_port = 4001;
  /// 0 until parsed: then -raft-port, or the HTTP port + 1000.
  uint16_t raft_port = 0;
  /// "host:port" of a member's HTTP API (normalized: to_string of
  /// messages/address.hpp), or empty.
  std::string join;
  int log_level = 2; ///< log_level::notice; -v info, -debug, -trace.
  size_t max_value_size = 1 << 20;
  size_t max_conns = 1024;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds election_timeout{150};
  std::chrono::milliseconds heartbeat{50};
  std::chrono::milliseconds write_timeout{5000};
  /// Log compaction (§7): the state machine syncs after this many applied
  /// entries, and the log then keeps `snapshot_trailing` entries behind its
  /// snapshot (README, "Log compaction", says how these were chosen).
  uint64_t snapshot_entries = 50000;
  uint64_t snapshot_trailing = 20000;
  /// -restore FILE: make data_path from this backup, then exit
  /// (daemon/restore.hpp).
  std::string restore;
  bool help = false;
};

/// The outcome of parsing argv: a config, or a one-line error.
struct parse_result {
  node_config cfg;
  std::string error; ///< Empty on success.
};

parse_result parse_args(const std::vector<std::string>& args);

/// The usage text, flags and defaults.
std::string usage(const std::string& prog);

/// Parses "150ms", "2s", "1m" (a bare number means milliseconds).
bool parse_duration(const std::string& text, std::chrono::milliseconds& out);

} // namespace raftd

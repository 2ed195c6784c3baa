#pragma once
// Benchmark-only overrides of the daemon's thread layout, read from RAFTD_*
// environment variables (README, "Threads per node"). Each is checked: a
// value out of range stops the start with a usage error, rather than, say,
// "abc" silently giving a scheduler of 0 threads.

#include <cstddef>
#include <functional>
#include <string>

namespace raftd {

struct bench_knobs {
  /// RAFTD_SCHEDULER_THREADS, 1 to 64.
  size_t scheduler_threads = 1;
  /// RAFTD_SCHEDULER_POLICY: "sharing" or "stealing".
  std::string scheduler_policy = "sharing";
  /// RAFTD_MIDDLEMAN_WORKERS, 0 to 64.
  size_t middleman_workers = 0;
  /// RAFTD_SM_DETACHED: "1" (the state machine on its own thread) or "0".
  bool sm_detached = true;
  /// RAFTD_DIRECT_WRITES: "1" (answers straight to the socket) or "0".
  bool direct_writes = true;
};

/// Looks up an environment variable: its value, or null if unset.
using env_lookup = std::function<const char*(const char*)>;

/// Reads the knobs through `get` (std::getenv in the daemon). On a bad
/// value, `error` names the variable, what it wants and what it got, and the
/// knobs are left at their defaults.
bench_knobs read_bench_knobs(const env_lookup& get, std::string& error);

} // namespace raftd

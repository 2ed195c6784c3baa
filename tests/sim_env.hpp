#pragma once
// How the simulation's test suites learn which seeds to run. CAF's test
// runner hands arguments after `--` to the actor system's config parser,
// which rejects options it does not know, so scripts/sim.sh uses the
// environment instead:
//   RAFTD_SIM_FIRST=S   first seed (default 1)
//   RAFTD_SIM_SEEDS=N   how many seeds (default: the CI budget)
//   RAFTD_SIM_SEED=S    run only seed S, printing every step
//   RAFTD_SIM_BUGS=a,b  switch on known bugs (tests/sim_cluster.hpp)
//   RAFTD_SIM_DURABLE_CHECK=0  leave out the "durable before reply" check
//   RAFTD_SIM_MEMBERSHIP=off|half|all  which seeds change membership
//                                      (default half)
//   RAFTD_SIM_SNAPSHOTS=off|half|all  which seeds compact their logs and
//                                     install snapshots (default half)
//   RAFTD_SIM_STRICT_CHANGES=1  a committed leave must be answered as a
//                               success (fails today: the leader's removal)
//   RAFTD_SIM_UNGUARDED_CHANGES=1  changes reach leaders that have not
//                               committed in their term (fails today:
//                               a lost committed entry, or no election)

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/sim_cluster.hpp"

namespace raftd::sim {

/// Seeds CI runs in sim.cluster; each bug test in sim.bugs gets as many.
constexpr uint64_t ci_seed_budget = 1000;

inline uint64_t env_u64(const char* name, uint64_t fallback) {
  auto* s = std::getenv(name);
  return s && *s ? std::strtoull(s, nullptr, 10) : fallback;
}

inline bool env_has(const char* name) {
  auto* s = std::getenv(name);
  return s && *s;
}

inline std::string env_str(const char* name) {
  auto* s = std::getenv(name);
  return s ? s : "";
}

/// The options every sim.cluster seed runs with, from the environment.
inline sim_options env_options(uint64_t seed, const bug_switches& bugs) {
  sim_options opts;
  opts.seed = seed;
  opts.bugs = bugs;
  opts.check_durable_replies = env_u64("RAFTD_SIM_DURABLE_CHECK", 1) != 0;
  opts.strict_change_replies = env_u64("RAFTD_SIM_STRICT_CHANGES", 0) != 0;
  opts.unguarded_changes = env_u64("RAFTD_SIM_UNGUARDED_CHANGES", 0) != 0;
  if (!parse_membership(env_str("RAFTD_SIM_MEMBERSHIP"), opts.membership)) {
    std::cerr << "RAFTD_SIM_MEMBERSHIP: off, half or all" << std::endl;
    std::abort();
  }
  if (!parse_snapshots(env_str("RAFTD_SIM_SNAPSHOTS"), opts.snapshots)) {
    std::cerr << "RAFTD_SIM_SNAPSHOTS: off, half or all" << std::endl;
    std::abort();
  }
  return opts;
}

/// One line per failing seed, for people and for scripts/sim.sh.
inline void print_failure(const sim_result& r) {
  std::cout << "SIM FAIL seed=" << r.seed << " step=" << r.step
            << " t=" << r.virtual_ms << "ms nodes=" << r.nodes << " check=\""
            << r.check << "\": " << r.detail << std::endl;
}

/// Wall-clock seconds since `t0`.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

} // namespace raftd::sim

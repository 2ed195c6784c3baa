// Proof that the simulation has teeth: with a known bug switched on, some
// seed within the CI budget breaks the check named for what the bug breaks.
// The network's "durable before reply" check is off in the first three, so
// each bug must be caught by what it breaks (two leaders, diverging logs, a
// lost committed entry), not by a check aimed at the rule it skips; the
// client-facing bugs must be caught by the history checker alone.
#define CAF_SUITE sim.bugs
#include <caf/test/unit_test.hpp>

#include "tests/sim_checker.hpp"
#include "tests/sim_env.hpp"

using namespace raftd::sim;

namespace {

/// Runs seeds until one breaks a check other than liveness; returns it, or
/// a result with ok == true if none did within the budget.
sim_result hunt(sim_options opts) {
  auto first = env_u64("RAFTD_SIM_FIRST", 1);
  auto count = env_u64("RAFTD_SIM_SEEDS", ci_seed_budget);
  sim_result last;
  for (auto seed = first; seed < first + count; ++seed) {
    opts.seed = seed;
    last = run_simulation(opts);
    if (!last.ok && last.check != check::liveness) {
      std::cout << "SIM CAUGHT after " << seed - first + 1
                << " seeds: " << describe(last) << std::endl;
      return last;
    }
  }
  last.ok = true;
  return last;
}

/// The options of a hunt for one bug, without the durability check.
sim_options with_bugs(const bug_switches& bugs) {
  sim_options opts;
  opts.bugs = bugs;
  opts.check_durable_replies = false;
  return opts;
}

} // namespace

CAF_TEST(a vote granted before it is durable is caught) {
  bug_switches bugs;
  bugs.vote_before_durable = true;
  auto r = hunt(with_bugs(bugs));
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::election_safety); // seed 74 today
}

CAF_TEST(an old term entry committed by counting is caught) {
  bug_switches bugs;
  bugs.commit_old_terms = true;
  auto r = hunt(with_bugs(bugs));
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::leader_completeness); // seed 10 today
}

CAF_TEST(appends accepted without the consistency check are caught) {
  bug_switches bugs;
  bugs.skip_log_check = true;
  auto r = hunt(with_bugs(bugs));
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::log_matching); // seed 4 today
}

CAF_TEST(the durability check catches an early vote without a crash) {
  // The vote reply passes the network before the voter's disk holds the
  // vote: no crash, no second candidate needed. (Not every seed shows it:
  // the persister may still win the race to the disk.)
  bug_switches bugs;
  bugs.vote_before_durable = true;
  auto opts = with_bugs(bugs);
  opts.check_durable_replies = true;
  auto r = hunt(opts);
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::durable_replies);
  CAF_CHECK_LESS_OR_EQUAL(r.seed, env_u64("RAFTD_SIM_FIRST", 1) + 5);
}

// A follower (or a deposed leader) that answers a linearizable read from
// its own state machine returns a value older than a write acknowledged
// before the read began. The index-based read check is off: the history
// checker alone must see it.
CAF_TEST(linearizable reads served locally are caught by the history) {
  bug_switches bugs;
  bugs.local_reads = true;
  auto opts = with_bugs(bugs);
  opts.check_reads = false;
  auto r = hunt(opts);
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::history); // seed 2 today
}

// The same bug, with both read checks: the index-based one sees it first.
CAF_TEST(linearizable reads served locally are caught by the read check) {
  bug_switches bugs;
  bugs.local_reads = true;
  auto r = hunt(with_bugs(bugs));
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::linearizable_reads);
}

// A delete answered at its commit with found = true, though the key was
// absent: only the history's delete model (found means the key held a
// value when the delete took effect) can tell.
CAF_TEST(a delete answered before it is applied is caught by the history) {
  bug_switches bugs;
  bugs.delete_before_apply = true;
  auto r = hunt(with_bugs(bugs));
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::history); // seed 1 today
  CAF_CHECK(r.detail.find("delete") != std::string::npos);
}

// A follower that switches to a snapshot after its first chunk holds part
// of the state (§7): its entries check out (an install applies none), only
// the kv state checked against the committed log shows it. Every seed
// compacts here, in chunks of one pair or a few; the seed that catches it
// passes without the bug.
CAF_TEST(a follower that switches to a partial snapshot is caught) {
  bug_switches bugs;
  bugs.partial_snapshot = true;
  auto opts = with_bugs(bugs);
  opts.snapshots = snapshot_mode::all;
  auto r = hunt(opts);
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::kv_state); // seed 5 today
  opts.bugs = bug_switches{};
  opts.seed = r.seed;
  auto clean = run_simulation(opts);
  if (!clean.ok)
    print_failure(clean);
  CAF_CHECK(clean.ok);
}

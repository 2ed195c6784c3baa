// Proof that the simulation has teeth: with a known bug switched on, some
// seed within the CI budget breaks a safety property. The network's
// "durable before reply" check is off here, so each bug must be caught by
// what it breaks (two leaders, diverging logs, a lost committed entry), not
// by a check aimed at the rule it skips.
#define CAF_SUITE sim.bugs
#include <caf/test/unit_test.hpp>

#include "tests/sim_checker.hpp"
#include "tests/sim_env.hpp"

using namespace raftd::sim;

namespace {

bool is_safety(const std::string& check_name) {
  return check_name != check::liveness;
}

/// Runs seeds until one breaks a safety check; returns it, or a result
/// with ok == true if none did within the budget.
sim_result hunt(const bug_switches& bugs, bool durable_check) {
  auto first = env_u64("RAFTD_SIM_FIRST", 1);
  auto count = env_u64("RAFTD_SIM_SEEDS", ci_seed_budget);
  sim_result last;
  for (auto seed = first; seed < first + count; ++seed) {
    sim_options opts;
    opts.seed = seed;
    opts.bugs = bugs;
    opts.check_durable_replies = durable_check;
    last = run_simulation(opts);
    if (!last.ok && is_safety(last.check)) {
      std::cout << "SIM CAUGHT after " << seed - first + 1
                << " seeds: " << describe(last) << std::endl;
      return last;
    }
  }
  last.ok = true;
  return last;
}

} // namespace

CAF_TEST(a vote granted before it is durable is caught) {
  bug_switches bugs;
  bugs.vote_before_durable = true;
  auto r = hunt(bugs, false);
  CAF_CHECK(!r.ok);
}

CAF_TEST(an old term entry committed by counting is caught) {
  bug_switches bugs;
  bugs.commit_old_terms = true;
  auto r = hunt(bugs, false);
  CAF_CHECK(!r.ok);
}

CAF_TEST(appends accepted without the consistency check are caught) {
  bug_switches bugs;
  bugs.skip_log_check = true;
  auto r = hunt(bugs, false);
  CAF_CHECK(!r.ok);
}

CAF_TEST(the durability check catches an early vote without a crash) {
  // The vote reply passes the network before the voter's disk holds the
  // vote: no crash, no second candidate needed. (Not every seed shows it:
  // the persister may still win the race to the disk.)
  bug_switches bugs;
  bugs.vote_before_durable = true;
  auto r = hunt(bugs, true);
  CAF_REQUIRE(!r.ok);
  CAF_CHECK_EQUAL(r.check, check::durable_replies);
  CAF_CHECK_LESS_OR_EQUAL(r.seed, env_u64("RAFTD_SIM_FIRST", 1) + 5);
}

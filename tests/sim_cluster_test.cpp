// The deterministic cluster simulation over many seeds (CI), and the proof
// that a seed replays its run exactly. scripts/sim.sh runs more seeds.
#define CAF_SUITE sim.cluster
#include <caf/test/unit_test.hpp>

#include "tests/sim_env.hpp"

using namespace raftd::sim;

namespace {

/// Runs one seed with every step printed (RAFTD_SIM_SEED).
void replay_one(uint64_t seed, const bug_switches& bugs) {
  sim_options opts;
  opts.seed = seed;
  opts.bugs = bugs;
  opts.check_durable_replies = env_u64("RAFTD_SIM_DURABLE_CHECK", 1) != 0;
  opts.trace = &std::cout;
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
  for (auto seed = first; seed < first + count; ++seed) {
    sim_options opts;
    opts.seed = seed;
    opts.bugs = bugs;
    opts.check_durable_replies = env_u64("RAFTD_SIM_DURABLE_CHECK", 1) != 0;
    auto r = run_simulation(opts);
    steps += r.step;
    crashes += r.crashes;
    acked += r.acked_writes;
    reads += r.reads;
    terms += r.max_term;
    if (!r.ok) {
      ++failed;
      print_failure(r);
    }
  }
  auto secs = seconds_since(t0);
  std::cout << "SIM SUMMARY first=" << first << " seeds=" << count
            << " failed=" << failed << " steps=" << steps
            << " crashes=" << crashes << " acked_writes=" << acked
            << " reads=" << reads << " terms=" << terms << " seconds=" << secs
            << " seeds_per_second=" << count / secs << std::endl;
  CAF_CHECK_EQUAL(failed, 0u);
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

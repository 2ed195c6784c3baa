// The simulation's safety checks on hand-made histories: each property
// fails on the smallest history that breaks it, and a consistent history
// passes. Cores are real raft_cores, put into shape through their inputs.
#define CAF_SUITE sim.checker
#include <caf/test/unit_test.hpp>

#include "raft/core.hpp"
#include "tests/sim_checker.hpp"

using namespace raftd;
using namespace raftd::sim;

namespace {

log_entry config_entry() {
  std::vector<member> ms;
  for (auto id : {"a", "b", "c"})
    ms.push_back(member{id, std::string{id} + ":80", std::string{id} + ":1"});
  return log_entry{1, 1, entry_kind::config, {}, encode_members(ms)};
}

log_entry put(uint64_t index, uint64_t term, std::string value) {
  return log_entry{term, index, entry_kind::put, "k", std::move(value)};
}

/// A follower of {a, b, c} in `term` with `log` (after the config entry),
/// whose state machine applied (so it knows committed) `commit` entries.
raft_core follower(node_name id, uint64_t term, std::vector<log_entry> log,
                   uint64_t commit = 0) {
  log.insert(log.begin(), config_entry());
  core_config cc;
  cc.id = std::move(id);
  return raft_core{cc, hard_state{term, {}}, std::move(log), commit};
}

/// Wins the election for term `term_before + 1` with b's votes.
raft_core leader(node_name id, uint64_t term_before,
                 std::vector<log_entry> log) {
  auto c = follower(std::move(id), term_before, std::move(log));
  effects e;
  for (int i = 0; i < 100 && c.role() == role_kind::follower; ++i)
    c.tick(e);
  auto voter = c.id() == "b" ? "c" : "b";
  c.handle_vote_response(vote_response{c.term() + 1, voter, true, true}, e);
  c.handle_vote_response(vote_response{c.term(), voter, true, false}, e);
  CAF_REQUIRE(c.role() == role_kind::leader);
  return c;
}

std::string failed_check(const safety_checker& sc) {
  return sc.failure() ? sc.failure()->check : "none";
}

} // namespace

CAF_TEST(a consistent history passes) {
  safety_checker sc{3};
  auto l = leader("a", 1, {});
  sc.on_step(0, l);
  sc.on_step(1, follower("b", 2, {l.entry(2)}, 2));
  sc.on_applied(1, {config_entry(), l.entry(2)});
  sc.on_step(2, follower("c", 2, {l.entry(2)}));
  CAF_CHECK_EQUAL(failed_check(sc), "none");
}

CAF_TEST(two leaders in one term break election safety) {
  safety_checker sc{3};
  sc.on_step(0, leader("a", 1, {}));
  sc.on_step(1, leader("b", 1, {}));
  CAF_CHECK_EQUAL(failed_check(sc), check::election_safety);
}

CAF_TEST(one index and term with two different entries breaks log matching) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}));
  sc.on_step(1, follower("b", 2, {put(2, 2, "y")}));
  CAF_CHECK_EQUAL(failed_check(sc), check::log_matching);
}

CAF_TEST(an equal entry behind different logs breaks log matching) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 4, {put(2, 2, "x"), put(3, 4, "z")}));
  sc.on_step(1, follower("b", 4, {put(2, 3, "y"), put(3, 4, "z")}));
  CAF_CHECK_EQUAL(failed_check(sc), check::log_matching);
}

CAF_TEST(a leader without a committed entry breaks leader completeness) {
  safety_checker sc{3};
  // a knows index 2 (term 2) committed in term 2; c then leads term 3
  // with a log that ends before it.
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_step(2, leader("c", 2, {}));
  CAF_CHECK_EQUAL(failed_check(sc), check::leader_completeness);
}

CAF_TEST(a stale leader of an older term may lack a later commit) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 5, {put(2, 5, "x")}, 2));
  sc.on_step(2, leader("c", 2, {})); // leads term 3 < 5: not a violation
  CAF_CHECK_EQUAL(failed_check(sc), "none");
}

CAF_TEST(two nodes committing different entries break commit agreement) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_step(1, follower("b", 3, {put(2, 3, "y")}, 2));
  CAF_CHECK_EQUAL(failed_check(sc), check::commit_agreement);
}

CAF_TEST(a node dropping a committed entry breaks committed entries kept) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_step(0, follower("a", 3, {})); // same run, log truncated at 2
  CAF_CHECK_EQUAL(failed_check(sc), check::committed_kept);
}

CAF_TEST(a restart may lose what was never durable) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.restarted(0);
  sc.on_step(0, follower("a", 2, {}));
  CAF_CHECK_EQUAL(failed_check(sc), "none");
}

CAF_TEST(applying an uncommitted entry breaks state machine safety) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 1));
  sc.on_applied(0, {config_entry(), put(2, 2, "x")});
  CAF_CHECK_EQUAL(failed_check(sc), check::state_machine_safety);
}

CAF_TEST(applying out of order breaks state machine safety) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_applied(0, {config_entry()});
  sc.on_applied(0, {config_entry()});
  CAF_CHECK_EQUAL(failed_check(sc), check::state_machine_safety);
}

CAF_TEST(an acknowledged write applied as something else is caught) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_applied(0, {config_entry(), put(2, 2, "x")});
  sc.on_acked_write(2, "k", "y");
  CAF_CHECK_EQUAL(failed_check(sc), check::acked_writes);
}

CAF_TEST(an acknowledged write never applied is caught at the end) {
  safety_checker sc{3};
  sc.on_acked_write(5, "k", "y");
  CAF_CHECK_EQUAL(failed_check(sc), "none");
  sc.finish();
  CAF_CHECK_EQUAL(failed_check(sc), check::acked_writes);
}

CAF_TEST(one write applied at two indexes is caught) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x"), put(3, 2, "x")}, 3));
  sc.on_applied(0, {config_entry(), put(2, 2, "x"), put(3, 2, "x")});
  CAF_CHECK_EQUAL(failed_check(sc), check::acked_writes);
}

namespace {

/// A follower of {a, b, c} in `term` whose log was compacted to `upto` (its
/// snapshot, applied), holding `log` after it.
raft_core compacted(node_name id, uint64_t term, uint64_t upto,
                    uint64_t upto_term, std::vector<log_entry> log) {
  core_config cc;
  cc.id = std::move(id);
  auto cfg = config_entry();
  snapshot_meta m{upto, upto_term, cfg.index, cfg.value};
  return raft_core{cc, hard_state{term, {}},
                   raft_log{upto, upto_term, std::move(log)}, m};
}

} // namespace

// §7: a compacted prefix holds the committed entries; a log view that
// starts after one (a restart, an install) takes them as its own.
CAF_TEST(a compacted log holds the committed entries) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x"), put(3, 2, "y")}, 3));
  sc.on_step(1, compacted("b", 2, 3, 2, {put(4, 2, "z")}));
  sc.on_step(0, compacted("a", 2, 2, 2, {put(3, 2, "y")}));
  CAF_CHECK_EQUAL(failed_check(sc), "none");
}

CAF_TEST(a log compacted past the committed entries breaks safety) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_step(1, compacted("b", 2, 3, 2, {}));
  CAF_CHECK_EQUAL(failed_check(sc), check::state_machine_safety);
}

// An install jumps the applied index; a batch the store skips afterwards
// (it covers what the snapshot holds) is no second application.
CAF_TEST(an install of committed entries passes) {
  safety_checker sc{3};
  auto a = follower("a", 2, {put(2, 2, "x"), put(3, 2, "y")}, 3);
  sc.on_step(0, a);
  sc.on_applied(0, {config_entry(), a.entry(2), a.entry(3)});
  sc.on_installed(1, snapshot_meta{3, 2, 1, {}});
  sc.on_applied(1, {a.entry(2), a.entry(3)});
  sc.check_kv(1, 3, kv_pairs{{"k", "y"}}, "after an install");
  CAF_CHECK_EQUAL(sc.applied_upto(1), 3u);
  CAF_CHECK_EQUAL(failed_check(sc), "none");
}

CAF_TEST(an install of an uncommitted entry breaks safety) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x")}, 2));
  sc.on_installed(1, snapshot_meta{2, 3, 1, {}}); // term 3: not that entry
  CAF_CHECK_EQUAL(failed_check(sc), check::state_machine_safety);
}

CAF_TEST(a kv state unlike the committed log breaks the kv state check) {
  safety_checker sc{3};
  sc.on_step(0, follower("a", 2, {put(2, 2, "x"), put(3, 2, "y")}, 3));
  sc.check_kv(1, 2, kv_pairs{{"k", "x"}}, "after an apply");
  CAF_CHECK_EQUAL(failed_check(sc), "none");
  sc.check_kv(1, 3, kv_pairs{}, "after an install"); // k=y is missing
  CAF_CHECK_EQUAL(failed_check(sc), check::kv_state);
}

// The Raft rules, one test each, named after the paper's sections (Ongaro &
// Ousterhout §5; Ongaro's thesis for pre-vote and check-quorum). The core is
// pure, so these drive it directly: no actors, no clock.
#define CAF_SUITE raft.core
#include <caf/test/unit_test.hpp>

#include "raft/core.hpp"

using namespace raftd;

namespace {

std::vector<member> members_of(const std::vector<std::string>& ids) {
  std::vector<member> ms;
  for (auto& id : ids)
    ms.push_back(member{id, id + ":1", id + ":2"});
  return ms;
}

/// A log whose entry 1 is the configuration `ids` and whose entry i has
/// term terms[i - 1].
std::vector<log_entry> make_log(const std::vector<std::string>& ids,
                                const std::vector<uint64_t>& terms) {
  std::vector<log_entry> log;
  for (size_t i = 0; i < terms.size(); ++i) {
    log_entry e{terms[i], i + 1, entry_kind::noop, {}, {}};
    if (i == 0) {
      e.kind = entry_kind::config;
      e.value = encode_members(members_of(ids));
    }
    log.push_back(e);
  }
  return log;
}

raft_core make_core(const std::string& id, const std::vector<std::string>& ids,
                    const std::vector<uint64_t>& terms, hard_state hs = {},
                    uint64_t applied = 0) {
  core_config cfg;
  cfg.id = id;
  cfg.seed = 42;
  cfg.election_ticks = 10;
  if (hs.term == 0 && !terms.empty())
    hs.term = terms.back();
  return raft_core{cfg, hs, make_log(ids, terms), applied};
}

/// LogCabin-style invariants, checked after every step.
void check_invariants(const raft_core& c) {
  CAF_CHECK_LESS_OR_EQUAL(c.commit_index(), c.last_index());
  CAF_CHECK_LESS_OR_EQUAL(c.stable_index(), c.last_index());
  CAF_CHECK_GREATER_OR_EQUAL(c.term(), c.last_term());
  for (uint64_t i = 1; i <= c.last_index(); ++i) {
    CAF_CHECK_EQUAL(c.entry(i).index, i);
    if (i > 1)
      CAF_CHECK_LESS_OR_EQUAL(c.term_at(i - 1), c.term_at(i));
  }
  if (c.role() == role_kind::leader)
    CAF_CHECK_EQUAL(c.leader(), c.id());
}

/// Ticks until `c` leaves the follower role (bounded).
void time_out(raft_core& c, effects& out) {
  for (int i = 0; i < 100 && c.role() == role_kind::follower; ++i)
    c.tick(out);
}

append_request append(uint64_t term, const std::string& leader,
                      uint64_t prev_index, uint64_t prev_term,
                      std::vector<std::pair<uint64_t, uint64_t>> entries,
                      uint64_t commit) {
  append_request req{term, leader, prev_index, prev_term, {}, commit, {}};
  for (auto& [index, t] : entries)
    req.entries.push_back(log_entry{t, index, entry_kind::put, "k", "v"});
  return req;
}

} // namespace

// -- §5.2 leader election ------------------------------------------------------

CAF_TEST(a lone voter elects itself at once and appends a no-op 5.2 5.4.2) {
  core_config cfg;
  cfg.id = "a";
  raft_core c{cfg, {}, {}, 0};
  effects out;
  c.bootstrap(member{"a", "h:1", "h:2"}, out);
  CAF_CHECK_EQUAL(out.append.size(), 1u);
  c.tick(out);
  CAF_CHECK_EQUAL(c.role(), role_kind::leader);
  CAF_CHECK_EQUAL(c.term(), 1u);
  CAF_CHECK(out.save_state);
  CAF_REQUIRE_EQUAL(out.append.size(), 2u);
  CAF_CHECK_EQUAL(out.append[1].kind, entry_kind::noop);
  CAF_CHECK_EQUAL(out.append[1].term, 1u);
  // Nothing is committed to the state machine before it is durable.
  CAF_CHECK(out.committed.empty());
  c.persisted(2, 1, out);
  CAF_CHECK_EQUAL(c.commit_index(), 2u);
  CAF_CHECK_EQUAL(out.committed.size(), 2u);
  check_invariants(c);
}

CAF_TEST(a follower grants one vote per term 5.2) {
  auto c = make_core("c", {"a", "b", "c"}, {1});
  effects out;
  auto r1 = c.handle_vote_request(vote_request{2, "a", 1, 1, false, {}}, out);
  CAF_CHECK(r1.granted);
  CAF_CHECK(out.save_state); // term and vote durable before the reply
  CAF_CHECK_EQUAL(c.durable_state(), (hard_state{2, "a"}));
  effects out2;
  auto r2 = c.handle_vote_request(vote_request{2, "b", 1, 1, false, {}}, out2);
  CAF_CHECK(!r2.granted);
  // Asking again for the same candidate is answered the same way.
  auto r3 = c.handle_vote_request(vote_request{2, "a", 1, 1, false, {}}, out2);
  CAF_CHECK(r3.granted);
  check_invariants(c);
}

CAF_TEST(a restarted follower keeps its vote from the durable state 5.2) {
  // The seed lost its vote on restart; here the vote comes back from disk.
  auto c = make_core("c", {"a", "b", "c"}, {1}, hard_state{2, "a"});
  effects out;
  auto r = c.handle_vote_request(vote_request{2, "b", 1, 1, false, {}}, out);
  CAF_CHECK(!r.granted);
  CAF_CHECK_EQUAL(c.durable_state(), (hard_state{2, "a"}));
}

CAF_TEST(a follower denies its vote to a candidate with an older log 5.4.1) {
  auto c = make_core("b", {"a", "b", "c"}, {1, 1, 2});
  effects out;
  // Same last term, shorter log.
  CAF_CHECK(!c.handle_vote_request(vote_request{3, "a", 2, 2, false, {}}, out)
               .granted);
  // Lower last term, longer log.
  CAF_CHECK(!c.handle_vote_request(vote_request{3, "a", 9, 1, false, {}}, out)
               .granted);
  // Higher last term, shorter log: more up-to-date.
  CAF_CHECK(c.handle_vote_request(vote_request{3, "a", 2, 3, false, {}}, out)
              .granted);
  check_invariants(c);
}

CAF_TEST(a request from an older term is rejected with the current term 5.1) {
  auto c = make_core("b", {"a", "b", "c"}, {1}, hard_state{5, ""});
  effects out;
  auto v = c.handle_vote_request(vote_request{4, "a", 9, 4, false, {}}, out);
  CAF_CHECK(!v.granted);
  CAF_CHECK_EQUAL(v.term, 5u);
  auto a = c.handle_append_request(append(4, "a", 1, 1, {}, 0), out);
  CAF_CHECK(!a.success);
  CAF_CHECK_EQUAL(a.term, 5u);
  CAF_CHECK(c.leader().empty());
}

CAF_TEST(a candidate with a majority becomes leader 5.2) {
  core_config cfg;
  cfg.id = "a";
  cfg.pre_vote = false;
  cfg.election_ticks = 10;
  raft_core c{cfg, {1, ""}, make_log({"a", "b", "c"}, {1}), 0};
  effects out;
  time_out(c, out);
  CAF_CHECK_EQUAL(c.role(), role_kind::candidate);
  CAF_CHECK_EQUAL(c.term(), 2u);
  CAF_CHECK(out.save_state);
  CAF_CHECK_EQUAL(out.after_sync.size(), 2u); // b and c, after the write
  effects out2;
  c.handle_vote_response(vote_response{2, "b", true, false}, out2);
  CAF_CHECK_EQUAL(c.role(), role_kind::leader);
  CAF_REQUIRE_EQUAL(out2.append.size(), 1u);
  CAF_CHECK_EQUAL(out2.append[0].kind, entry_kind::noop);
  check_invariants(c);
}

CAF_TEST(a server outside its uncommitted configuration still campaigns 4.2.2) {
  core_config cfg;
  cfg.id = "a";
  cfg.pre_vote = false;
  cfg.election_ticks = 10;
  // {a, b, c} committed at 1; "remove a" (the configuration {b, c}) at 2,
  // not committed: a may hold the only log that can win.
  auto log = make_log({"a", "b", "c"}, {1, 1});
  log[1].kind = entry_kind::config;
  log[1].value = encode_members(members_of({"b", "c"}));
  raft_core c{cfg, {1, ""}, log, 1};
  CAF_REQUIRE(c.config_pending());
  effects out;
  time_out(c, out);
  CAF_REQUIRE_EQUAL(c.role(), role_kind::candidate);
  CAF_CHECK_EQUAL(out.after_sync.size(), 2u); // b and c
  // Its own vote does not count: b alone is not a majority of {b, c}.
  effects out2;
  c.handle_vote_response(vote_response{2, "b", true, false}, out2);
  CAF_CHECK_EQUAL(c.role(), role_kind::candidate);
  c.handle_vote_response(vote_response{2, "c", true, false}, out2);
  CAF_CHECK_EQUAL(c.role(), role_kind::leader);
  check_invariants(c);
}

CAF_TEST(a server removed by a committed configuration never campaigns 4.2.2) {
  core_config cfg;
  cfg.id = "a";
  cfg.election_ticks = 10;
  auto log = make_log({"a", "b", "c"}, {1, 1});
  log[1].kind = entry_kind::config;
  log[1].value = encode_members(members_of({"b", "c"}));
  raft_core c{cfg, {1, ""}, log, 2}; // the removal is committed
  effects out;
  time_out(c, out);
  CAF_CHECK_EQUAL(c.role(), role_kind::follower);
  CAF_CHECK(out.after_sync.empty());
}

CAF_TEST(a duplicated vote is counted once 5.2) {
  core_config cfg;
  cfg.id = "a";
  cfg.pre_vote = false;
  raft_core c{cfg, {1, ""}, make_log({"a", "b", "c", "d", "e"}, {1}), 0};
  effects out;
  time_out(c, out);
  c.handle_vote_response(vote_response{2, "b", true, false}, out);
  c.handle_vote_response(vote_response{2, "b", true, false}, out);
  CAF_CHECK_EQUAL(c.role(), role_kind::candidate); // 2 of 5 is no majority
  c.handle_vote_response(vote_response{2, "x", true, false}, out); // no member
  CAF_CHECK_EQUAL(c.role(), role_kind::candidate);
  c.handle_vote_response(vote_response{2, "c", true, false}, out);
  CAF_CHECK_EQUAL(c.role(), role_kind::leader);
}

CAF_TEST(a higher term in a reply makes a leader step down 5.1) {
  auto c = make_core("a", {"a"}, {1});
  effects out;
  c.tick(out);
  CAF_REQUIRE_EQUAL(c.role(), role_kind::leader);
  c.observe_term(c.term() + 3, out);
  CAF_CHECK_EQUAL(c.role(), role_kind::follower);
  CAF_CHECK(c.durable_state().voted_for.empty());
  CAF_CHECK(out.save_state);
  check_invariants(c);
}

// -- thesis §9.6 pre-vote, §6.2 / §4.2.3 check-quorum and leases ---------------

CAF_TEST(a pre-candidate does not change its term thesis 9.6) {
  auto c = make_core("a", {"a", "b", "c"}, {1, 3});
  effects out;
  time_out(c, out);
  CAF_CHECK_EQUAL(c.role(), role_kind::pre_candidate);
  CAF_CHECK_EQUAL(c.term(), 3u);
  CAF_CHECK(!out.save_state);
  CAF_REQUIRE_EQUAL(out.after_sync.size(), 2u);
  CAF_CHECK(out.after_sync[0].second.pre_vote);
  CAF_CHECK_EQUAL(out.after_sync[0].second.term, 4u);
  // A granted pre-vote from a majority starts the real election.
  effects out2;
  c.handle_vote_response(vote_response{4, "b", true, true}, out2);
  CAF_CHECK_EQUAL(c.role(), role_kind::candidate);
  CAF_CHECK_EQUAL(c.term(), 4u);
  CAF_CHECK(out2.save_state);
  CAF_CHECK(!out2.after_sync.front().second.pre_vote);
}

CAF_TEST(a pre-vote changes nothing at the voter thesis 9.6) {
  auto c = make_core("b", {"a", "b", "c"}, {1, 2});
  effects out;
  auto r = c.handle_vote_request(vote_request{3, "a", 2, 2, true, {}}, out);
  CAF_CHECK(r.granted);
  CAF_CHECK_EQUAL(r.term, 3u);
  CAF_CHECK_EQUAL(c.term(), 2u);
  CAF_CHECK(!out.save_state);
  CAF_CHECK(c.durable_state().voted_for.empty());
}

CAF_TEST(a follower with a live leader ignores disruptive candidates 4.2.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1});
  effects out;
  c.handle_append_request(append(1, "a", 1, 1, {}, 1), out);
  CAF_REQUIRE_EQUAL(c.leader(), "a");
  // A rejoining node with a higher term must not depose a healthy leader.
  auto r = c.handle_vote_request(vote_request{7, "c", 5, 1, false, {}}, out);
  CAF_CHECK(!r.granted);
  CAF_CHECK_EQUAL(c.term(), 1u);
  auto p = c.handle_vote_request(vote_request{2, "c", 5, 1, true, {}}, out);
  CAF_CHECK(!p.granted);
  // Once the leader has been silent for an election timeout, it may vote.
  for (int i = 0; i < 10; ++i)
    c.tick(out);
  CAF_CHECK(c.handle_vote_request(vote_request{2, "c", 5, 1, true, {}}, out)
              .granted);
}

CAF_TEST(a follower stops vouching for a leader silent for a timeout 6.2) {
  auto c = make_core("b", {"a", "b", "c"}, {1});
  effects out;
  c.handle_append_request(append(1, "a", 1, 1, {}, 1), out);
  CAF_CHECK(c.leader_heard_recently());
  for (int i = 0; i < 9; ++i)
    c.tick(out);
  CAF_CHECK(c.leader_heard_recently()); // heartbeats may still come
  c.tick(out);
  CAF_CHECK(!c.leader_heard_recently()); // clients should not be sent there
  CAF_CHECK_EQUAL(c.leader(), "a");      // though it may still lead
  c.handle_append_request(append(1, "a", 1, 1, {}, 1), out);
  CAF_CHECK(c.leader_heard_recently());
}

CAF_TEST(a leader without a majority steps down check quorum thesis 6.2) {
  core_config cfg;
  cfg.id = "a";
  cfg.pre_vote = false;
  cfg.election_ticks = 10;
  raft_core c{cfg, {1, ""}, make_log({"a", "b", "c"}, {1}), 0};
  effects out;
  time_out(c, out);
  c.handle_vote_response(vote_response{2, "b", true, false}, out);
  CAF_REQUIRE_EQUAL(c.role(), role_kind::leader);
  // b answers during the first round: still a majority (a, b).
  for (int i = 0; i < 9; ++i)
    c.tick(out);
  c.handle_match("b", 2, 1, out);
  c.tick(out);
  CAF_CHECK_EQUAL(c.role(), role_kind::leader);
  // Nobody answers during the next round: step down.
  for (int i = 0; i < 10; ++i)
    c.tick(out);
  CAF_CHECK_EQUAL(c.role(), role_kind::follower);
  CAF_CHECK_EQUAL(c.term(), 2u); // stepping down does not bump the term
}

CAF_TEST(requests addressed to another node change nothing) {
  // A new node on a dead member's address must not join that old cluster.
  auto c = make_core("new", {"new"}, {1});
  effects out;
  auto a = c.handle_append_request(
    append_request{9, "old-leader", 1, 1, {}, 1, "dead"}, out);
  CAF_CHECK(!a.success);
  CAF_CHECK_EQUAL(a.term, 0u); // nothing the sender can act on
  auto v = c.handle_vote_request(vote_request{9, "x", 9, 9, false, "dead"},
                                 out);
  CAF_CHECK(!v.granted);
  CAF_CHECK_EQUAL(c.term(), 1u);
  CAF_CHECK(c.leader().empty());
  CAF_CHECK(!out.needs_write());
}

// -- §5.3 log replication --------------------------------------------------------

CAF_TEST(append rejects a missing previous entry with a hint 5.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1, 1});
  effects out;
  auto r = c.handle_append_request(append(2, "a", 5, 2, {{6, 2}}, 0), out);
  CAF_CHECK(!r.success);
  CAF_CHECK_EQUAL(r.conflict_index, 3u); // our last index + 1
  CAF_CHECK_EQUAL(c.last_index(), 2u);
  CAF_CHECK_EQUAL(c.leader(), "a");
  check_invariants(c);
}

CAF_TEST(append rejects a mismatching term and names its first index 5.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1, 2, 2, 2});
  effects out;
  auto r = c.handle_append_request(append(3, "a", 4, 3, {}, 0), out);
  CAF_CHECK(!r.success);
  CAF_CHECK_EQUAL(r.conflict_term, 2u);
  CAF_CHECK_EQUAL(r.conflict_index, 2u); // the leader can skip term 2 whole
}

CAF_TEST(append deletes a conflicting suffix and appends 5.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1, 1, 2, 2});
  effects out;
  auto r = c.handle_append_request(append(3, "a", 2, 1, {{3, 3}, {4, 3}, {5, 3}},
                                          0),
                                   out);
  CAF_CHECK(r.success);
  CAF_CHECK_EQUAL(r.match_index, 5u);
  CAF_CHECK_EQUAL(out.truncate_from, 3u);
  CAF_CHECK_EQUAL(out.append.size(), 3u);
  CAF_CHECK_EQUAL(c.term_at(3), 3u);
  CAF_CHECK_EQUAL(c.last_index(), 5u);
  CAF_CHECK_EQUAL(c.stable_index(), 2u); // the new entries are not durable yet
  check_invariants(c);
}

CAF_TEST(a duplicated append changes nothing 5.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1});
  effects out;
  auto req = append(2, "a", 1, 1, {{2, 2}, {3, 2}}, 0);
  c.handle_append_request(req, out);
  effects out2;
  auto r = c.handle_append_request(req, out2);
  CAF_CHECK(r.success);
  CAF_CHECK_EQUAL(r.match_index, 3u);
  CAF_CHECK(!out2.needs_write());
  // An older, shorter request does not truncate what came after it.
  auto r2 = c.handle_append_request(append(2, "a", 1, 1, {{2, 2}}, 0), out2);
  CAF_CHECK(r2.success);
  CAF_CHECK_EQUAL(c.last_index(), 3u);
  CAF_CHECK_EQUAL(r2.match_index, 2u);
}

CAF_TEST(a follower commits min of leader commit and last new entry 5.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1});
  effects out;
  c.handle_append_request(append(2, "a", 1, 1, {{2, 2}}, 9), out);
  CAF_CHECK_EQUAL(c.commit_index(), 2u);
  // Committed entries reach the state machine only once durable here: entry
  // 1 was loaded from disk, entry 2 is still being written.
  CAF_REQUIRE_EQUAL(out.committed.size(), 1u);
  CAF_CHECK_EQUAL(out.committed[0].index, 1u);
  c.persisted(2, 2, out);
  CAF_REQUIRE_EQUAL(out.committed.size(), 2u);
  CAF_CHECK_EQUAL(out.committed[1].index, 2u);
  check_invariants(c);
}

CAF_TEST(a stale durability report after a truncation is ignored 5.3) {
  auto c = make_core("b", {"a", "b", "c"}, {1, 1});
  effects out;
  c.handle_append_request(append(2, "a", 2, 1, {{3, 2}, {4, 2}}, 0), out);
  c.handle_append_request(append(3, "a", 2, 1, {{3, 3}}, 0), out);
  // The write of (4, 2) completes after it was replaced: not our log now.
  c.persisted(4, 2, out);
  CAF_CHECK_EQUAL(c.stable_index(), 2u);
  c.persisted(3, 3, out);
  CAF_CHECK_EQUAL(c.stable_index(), 3u);
}

// -- §5.4.2 committing entries from previous terms -----------------------------

CAF_TEST(a leader counts replicas only for current term entries 5.4.2) {
  core_config cfg;
  cfg.id = "a";
  cfg.pre_vote = false;
  // a led term 2 and wrote index 2; it now wins term 3.
  raft_core c{cfg, {2, "a"}, make_log({"a", "b", "c"}, {1, 2}), 1};
  effects out;
  time_out(c, out);
  c.handle_vote_response(vote_response{3, "b", true, false}, out);
  CAF_REQUIRE_EQUAL(c.role(), role_kind::leader);
  CAF_REQUIRE_EQUAL(c.last_index(), 3u); // the term-3 no-op
  c.persisted(3, 3, out);
  // A majority holds index 2 (term 2): not enough to commit it by counting.
  c.handle_match("b", 3, 2, out);
  CAF_CHECK_EQUAL(c.commit_index(), 1u);
  // Once the term-3 no-op is on a majority, index 2 commits with it.
  c.handle_match("b", 3, 3, out);
  CAF_CHECK_EQUAL(c.commit_index(), 3u);
  CAF_CHECK_EQUAL(out.committed.size(), 2u);
  check_invariants(c);
}

CAF_TEST(a match report from an older term is ignored 5.4.2) {
  auto c = make_core("a", {"a"}, {1});
  effects out;
  c.tick(out);
  c.handle_match("a", c.term() - 1, 99, out);
  CAF_CHECK_EQUAL(c.commit_index(), 0u);
}

CAF_TEST(proposals on a follower are refused 5.1) {
  auto c = make_core("b", {"a", "b", "c"}, {1});
  effects out;
  CAF_CHECK(!c.propose(entry_kind::put, "k", "v", out));
  CAF_CHECK(!out.needs_write());
}

CAF_TEST(membership codec round trips thesis 4.1) {
  auto ms = members_of({"abc1234", "def5678"});
  auto back = decode_members(encode_members(ms));
  CAF_REQUIRE(back);
  CAF_CHECK(*back == ms);
  CAF_CHECK(!decode_members("only\tone-tab\n"));
}

// Log compaction and InstallSnapshot in the pure core (§7; thesis ch. 5),
// and what a restart makes of a log and a snapshot written at different
// moments (raft/reconcile.hpp).
#define CAF_SUITE raft.compaction
#include <caf/test/unit_test.hpp>

#include "messages/errors.hpp"
#include "raft/core.hpp"
#include "raft/membership.hpp"
#include "raft/reconcile.hpp"

using namespace raftd;

namespace {

std::vector<member> members_of(const std::vector<std::string>& ids) {
  std::vector<member> ms;
  for (auto& id : ids)
    ms.push_back(member{id, id + ":1", id + ":2"});
  return ms;
}

/// Entry 1 is the configuration `ids`; entry i has term terms[i - 1].
std::vector<log_entry> make_log(const std::vector<std::string>& ids,
                                const std::vector<uint64_t>& terms) {
  std::vector<log_entry> log;
  for (size_t i = 0; i < terms.size(); ++i) {
    log_entry e{terms[i], i + 1, entry_kind::put, "k", std::to_string(i + 1)};
    if (i == 0) {
      e.kind = entry_kind::config;
      e.key.clear();
      e.value = encode_members(members_of(ids));
    }
    log.push_back(e);
  }
  return log;
}

core_config config_of(const std::string& id) {
  core_config cfg;
  cfg.id = id;
  cfg.seed = 7;
  cfg.election_ticks = 10;
  return cfg;
}

/// A follower `id` of {a, b, c} holding `terms`, everything applied.
raft_core follower(const std::string& id, const std::vector<uint64_t>& terms) {
  hard_state hs{terms.back(), {}};
  return raft_core{config_of(id), hs, make_log({"a", "b", "c"}, terms),
                   terms.size()};
}

snapshot_meta snap(uint64_t index, uint64_t term, uint64_t config_index = 1,
                   std::vector<std::string> ids = {"a", "b", "c"}) {
  return snapshot_meta{index, term, config_index,
                       encode_members(members_of(ids))};
}

append_request heartbeat(uint64_t term, uint64_t prev_index,
                         uint64_t prev_term, uint64_t commit) {
  return append_request{term, "a", prev_index, prev_term, {}, commit, {}, 0};
}

} // namespace

CAF_TEST(compaction drops the prefix and keeps its last term 7) {
  auto c = follower("b", {1, 1, 2, 2, 3});
  effects e;
  c.compact(3, e);
  CAF_CHECK_EQUAL(e.compact_to, 3u);
  CAF_CHECK_EQUAL(e.compact_term, 2u);
  CAF_CHECK_EQUAL(c.log().first_index(), 4u);
  CAF_CHECK_EQUAL(c.term_at(3), 2u);
  CAF_CHECK_EQUAL(c.last_index(), 5u);
  CAF_CHECK(!c.log().holds(3));
  // The configuration at entry 1 went with the prefix but stays in force.
  CAF_CHECK_EQUAL(c.members().size(), 3u);
  CAF_CHECK_EQUAL(c.config_index(), 1u);
}

CAF_TEST(an append before the compacted prefix matches from the prefix on 7) {
  auto c = follower("b", {1, 1, 2, 2});
  effects e;
  c.compact(3, e);
  // The leader's (older) view: entries 2.. after entry 1; 2 and 3 are
  // compacted here, 4 is held, 5 is new.
  append_request req{2, "a", 1, 1, {}, 4, {}, 0};
  for (uint64_t i = 2; i <= 5; ++i)
    req.entries.push_back(log_entry{i < 3 ? 1u : 2u, i, entry_kind::put, "k",
                                    "v"});
  effects e2;
  auto r = c.handle_append_request(req, e2);
  CAF_CHECK(r.success);
  CAF_CHECK_EQUAL(r.match_index, 5u);
  CAF_REQUIRE_EQUAL(e2.append.size(), 1u);
  CAF_CHECK_EQUAL(e2.append[0].index, 5u);
  // A heartbeat from before the prefix matches too.
  effects e3;
  auto r3 = c.handle_append_request(heartbeat(2, 0, 0, 4), e3);
  CAF_CHECK(r3.success);
  CAF_CHECK_EQUAL(r3.match_index, 3u);
}

CAF_TEST(a snapshot the log continues keeps the entries after it 7) {
  auto c = follower("b", {1, 1, 2, 2, 2});
  effects e;
  c.install_snapshot(snap(3, 2), e);
  CAF_CHECK_EQUAL(c.log().first_index(), 4u);
  CAF_CHECK_EQUAL(c.last_index(), 5u);
  CAF_CHECK_EQUAL(e.compact_to, 3u);
  CAF_CHECK_EQUAL(e.truncate_from, 0u);
  CAF_CHECK_GREATER_OR_EQUAL(c.commit_index(), 3u);
}

CAF_TEST(a snapshot the log does not continue replaces it whole 7) {
  // Entries 3-4 of term 2 were never committed; the leader's snapshot at 4
  // has term 3 there.
  hard_state hs{2, {}};
  raft_core c{config_of("b"), hs, make_log({"a", "b", "c"}, {1, 1, 2, 2}), 2};
  effects e;
  c.install_snapshot(snap(4, 3), e);
  CAF_CHECK_EQUAL(c.last_index(), 4u);
  CAF_CHECK_EQUAL(c.last_term(), 3u);
  CAF_CHECK_EQUAL(c.log().first_index(), 5u);
  CAF_CHECK_EQUAL(c.commit_index(), 4u);
  CAF_CHECK_EQUAL(e.compact_to, 4u);
  CAF_CHECK_EQUAL(e.compact_term, 3u);
  CAF_CHECK_EQUAL(e.truncate_from, 5u);
  CAF_CHECK(e.committed.empty()); // the snapshot is applied already
  // The log continues after it.
  effects e2;
  append_request req{3, "a", 4, 3, {}, 5, {}, 0};
  req.entries.push_back(log_entry{3, 5, entry_kind::put, "k", "v"});
  auto r = c.handle_append_request(req, e2);
  CAF_CHECK(r.success);
  CAF_CHECK_EQUAL(r.match_index, 5u);
}

CAF_TEST(a snapshot brings its configuration 7 4.1) {
  auto c = follower("d", {1});
  effects e;
  c.install_snapshot(snap(10, 4, 8, {"a", "b", "c", "d"}), e);
  CAF_CHECK_EQUAL(c.members().size(), 4u);
  CAF_CHECK_EQUAL(c.config_index(), 8u);
  CAF_CHECK(c.is_voter("d"));
}

CAF_TEST(a snapshot older than the compacted prefix changes nothing 7) {
  auto c = follower("b", {1, 1, 2, 2});
  effects e;
  c.compact(3, e);
  effects e2;
  c.install_snapshot(snap(2, 1), e2);
  CAF_CHECK_EQUAL(c.log().first_index(), 4u);
  CAF_CHECK(!e2.needs_write());
}

CAF_TEST(a restart continues a compacted log 7) {
  std::vector<log_entry> tail;
  for (uint64_t i = 6; i <= 8; ++i)
    tail.push_back(log_entry{3, i, entry_kind::put, "k", "v"});
  raft_log log{5, 2, tail};
  raft_core c{config_of("b"), hard_state{3, {}}, std::move(log), snap(6, 3)};
  CAF_CHECK_EQUAL(c.log().first_index(), 6u);
  CAF_CHECK_EQUAL(c.commit_index(), 6u);
  CAF_CHECK_EQUAL(c.term_at(5), 2u);
  CAF_CHECK_EQUAL(c.members().size(), 3u);
}

CAF_TEST(a leader cut off from the compacted entries asks for a snapshot 7) {
  // Covered where the entries are asked for: role_fanout next_append says
  // errc::compacted (actors.role). Here: a vote still compares last terms
  // of a log that is all prefix (§5.4.1).
  raft_log log{5, 2, {}};
  raft_core c{config_of("b"), hard_state{2, {}}, std::move(log), snap(5, 2)};
  effects e;
  auto r = c.handle_vote_request(vote_request{3, "c", 5, 2, false, "b"}, e);
  CAF_CHECK(r.granted);
  effects e2;
  auto r2 = c.handle_vote_request(vote_request{4, "a", 9, 1, false, "b"}, e2);
  CAF_CHECK(!r2.granted);
}

// -- restart: raft/reconcile.hpp -------------------------------------------------

CAF_TEST(a log that continues the snapshot is left alone) {
  durable_log dl;
  dl.prefix_index = 3;
  dl.prefix_term = 1;
  for (uint64_t i = 4; i <= 6; ++i)
    dl.entries.push_back(log_entry{2, i, entry_kind::put, "k", "v"});
  auto fix = reconcile_log(dl, snapshot_meta{5, 2, 0, {}});
  CAF_REQUIRE(fix);
  CAF_CHECK(!*fix);
  CAF_CHECK_EQUAL(dl.entries.size(), 3u);
}

CAF_TEST(a log that ends before the snapshot restarts after it) {
  durable_log dl;
  for (uint64_t i = 1; i <= 3; ++i)
    dl.entries.push_back(log_entry{1, i, entry_kind::put, "k", "v"});
  auto fix = reconcile_log(dl, snapshot_meta{9, 2, 0, {}});
  CAF_REQUIRE(fix);
  CAF_REQUIRE(*fix);
  CAF_CHECK_EQUAL((*fix)->compact_to, 9u);
  CAF_CHECK_EQUAL((*fix)->compact_term, 2u);
  CAF_CHECK_EQUAL((*fix)->truncate_from, 10u);
  CAF_CHECK(dl.entries.empty());
  CAF_CHECK_EQUAL(dl.prefix_index, 9u);
}

CAF_TEST(a log that conflicts with the snapshot restarts after it) {
  durable_log dl;
  for (uint64_t i = 1; i <= 5; ++i)
    dl.entries.push_back(log_entry{1, i, entry_kind::put, "k", "v"});
  auto fix = reconcile_log(dl, snapshot_meta{4, 2, 0, {}});
  CAF_REQUIRE(fix);
  CAF_REQUIRE(*fix);
  CAF_CHECK(dl.entries.empty());
  CAF_CHECK_EQUAL(dl.prefix_term, 2u);
}

CAF_TEST(a log compacted past the snapshot is corrupt) {
  durable_log dl;
  dl.prefix_index = 8;
  dl.prefix_term = 2;
  auto fix = reconcile_log(dl, snapshot_meta{5, 2, 0, {}});
  CAF_REQUIRE(!fix);
  CAF_CHECK(is(fix.error(), errc::corrupt_data));
}

CAF_TEST(a state from before snapshots ahead of its log is corrupt) {
  durable_log dl;
  dl.entries.push_back(log_entry{1, 1, entry_kind::put, "k", "v"});
  auto fix = reconcile_log(dl, snapshot_meta{3, 0, 0, {}});
  CAF_REQUIRE(!fix);
  CAF_CHECK(is(fix.error(), errc::corrupt_data));
}

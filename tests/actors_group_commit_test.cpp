// Group commit without an actor (actors/group_commit.hpp): one write in
// flight, the rest collecting in the next, replies waiting on durability.
#define CAF_SUITE actors.group_commit
#include <caf/test/unit_test.hpp>

#include "actors/group_commit.hpp"
#include "raft/core.hpp"

using namespace raftd;

namespace {

effects appending(std::vector<uint64_t> indexes, uint64_t term = 1) {
  effects e;
  for (auto i : indexes)
    e.append.push_back(log_entry{term, i, entry_kind::put, "k", "v"});
  return e;
}

} // namespace

CAF_TEST(a reply with nothing pending goes out at once) {
  group_commit gc;
  int ran = 0;
  gc.after([&] { ++ran; });
  CAF_CHECK_EQUAL(ran, 1);
  CAF_CHECK(!gc.start());
}

CAF_TEST(writes merged during one write share the next 10.2.1) {
  group_commit gc;
  auto e1 = appending({1});
  gc.merge(e1, hard_state{1, "a"});
  auto first = gc.start();
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(first->entries.size(), 1u);
  CAF_CHECK(gc.in_flight());
  for (uint64_t i = 2; i <= 4; ++i) {
    auto e = appending({i});
    gc.merge(e, hard_state{1, "a"});
  }
  CAF_CHECK(!gc.start()); // one write at the persister at a time
  auto [last, after] = gc.finish();
  CAF_CHECK_EQUAL(last.first, 1u);
  auto second = gc.start();
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(second->entries.size(), 3u);
  CAF_CHECK(!second->has_state); // no save asked for
}

CAF_TEST(a reply waits for the write that carries its state 5.1) {
  group_commit gc;
  std::vector<int> ran;
  auto e1 = appending({1});
  gc.merge(e1, hard_state{1, "a"});
  gc.after([&] { ran.push_back(1); }); // waits for the batch with entry 1
  CAF_REQUIRE(gc.start());
  effects vote;
  vote.save_state = true;
  gc.merge(vote, hard_state{2, "b"});
  gc.after([&] { ran.push_back(2); }); // waits for the vote's write
  auto done = gc.finish();
  CAF_REQUIRE_EQUAL(done.second.size(), 1u);
  done.second.front()();
  CAF_CHECK_EQUAL(ran, std::vector<int>{1});
  auto next = gc.start();
  CAF_REQUIRE(next);
  CAF_CHECK(next->has_state);
  CAF_CHECK_EQUAL(next->state, (hard_state{2, "b"}));
  auto done2 = gc.finish();
  CAF_CHECK_EQUAL(done2.first.first, 0u); // no entries in the vote's write
  for (auto& f : done2.second)
    f();
  CAF_CHECK_EQUAL(ran, (std::vector<int>{1, 2}));
}

CAF_TEST(a truncation drops what the next batch meant to append 5.3) {
  group_commit gc;
  auto e1 = appending({5, 6, 7});
  gc.merge(e1, {});
  auto cut = appending({6}, 2);
  cut.truncate_from = 6;
  gc.merge(cut, {});
  auto b = gc.start();
  CAF_REQUIRE(b);
  CAF_CHECK_EQUAL(b->truncate_from, 6u);
  CAF_REQUIRE_EQUAL(b->entries.size(), 2u);
  CAF_CHECK_EQUAL(b->entries.back().term, 2u);
  CAF_CHECK_EQUAL(gc.finish().first, (group_commit::last_entry{6, 2}));
}

CAF_TEST(a snapshot past the next batch drops what it covers 7) {
  group_commit gc;
  auto e1 = appending({5, 6, 7}, 2);
  e1.truncate_from = 5;
  gc.merge(e1, hard_state{2, ""});
  // An installed snapshot at 6 (of another term): the log restarts after
  // it, so nothing at or below 6 is written and the truncation moves past.
  effects e2;
  e2.compact_to = 6;
  e2.compact_term = 3;
  e2.truncate_from = 7;
  gc.merge(e2, hard_state{3, ""});
  auto b = gc.start();
  CAF_REQUIRE(b);
  CAF_CHECK_EQUAL(b->compact_to, 6u);
  CAF_CHECK_EQUAL(b->compact_term, 3u);
  CAF_CHECK_EQUAL(b->truncate_from, 7u);
  CAF_CHECK(b->entries.empty()); // 7 went with the truncation
}

CAF_TEST(a compaction rides along with the entries of the next batch 7) {
  group_commit gc;
  auto e1 = appending({10, 11});
  gc.merge(e1, hard_state{1, ""});
  effects e2;
  e2.compact_to = 4;
  e2.compact_term = 1;
  gc.merge(e2, hard_state{1, ""});
  auto b = gc.start();
  CAF_REQUIRE(b);
  CAF_CHECK_EQUAL(b->compact_to, 4u);
  CAF_CHECK_EQUAL(b->entries.size(), 2u);
  CAF_CHECK_EQUAL(b->truncate_from, 0u);
}

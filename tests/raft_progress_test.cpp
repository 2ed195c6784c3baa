// The replicator's bookkeeping of one peer (etcd's tracker/progress): probe
// until the logs agree, then pipeline within a window (§5.3).
#define CAF_SUITE raft.progress
#include <caf/test/unit_test.hpp>

#include "raft/progress.hpp"

using namespace raftd;

namespace {

peer_progress probing_from(uint64_t next) {
  peer_progress p;
  p.reset(next);
  return p;
}

} // namespace

CAF_TEST(a probe sends one request at a time 5.3) {
  auto p = probing_from(10);
  CAF_CHECK(p.can_send(8));
  p.sent(0, 0); // a heartbeat takes no slot
  CAF_CHECK(p.can_send(8));
  p.sent(12, 0); // entries 10..12
  CAF_CHECK(!p.can_send(8));
}

CAF_TEST(a success frees every append up to its match 5.3) {
  auto p = probing_from(10);
  p.sent(10, 0);
  p.succeeded(10, p.epoch);
  for (uint64_t i = 11; i <= 14; ++i)
    p.sent(i, 1);
  // The reply for 11 is lost; the one for 12 frees it too (etcd's FreeLE).
  p.succeeded(12, p.epoch);
  CAF_CHECK_EQUAL(p.flights.size(), 2u);
  CAF_CHECK_EQUAL(p.flights.front().last, 13u);
}

CAF_TEST(only the oldest unanswered append counts as a stall) {
  auto p = probing_from(10);
  p.sent(10, 0);
  p.succeeded(10, p.epoch);
  p.sent(11, 5);
  p.sent(12, 7);
  CAF_CHECK(!p.stalled(9, 5));
  CAF_CHECK(p.stalled(10, 5)); // 11 went out at 5
  p.succeeded(11, p.epoch);
  CAF_CHECK(!p.stalled(10, 5));
  CAF_CHECK(p.stalled(12, 5));
}

CAF_TEST(a success ends the probe and opens the window 5.3) {
  auto p = probing_from(10);
  p.sent(0, 0);
  p.succeeded(9, p.epoch);
  CAF_CHECK(!p.probe);
  CAF_CHECK_EQUAL(p.match, 9u);
  CAF_CHECK_EQUAL(p.next, 10u);
  for (int i = 0; i < 8; ++i) {
    CAF_REQUIRE(p.can_send(8));
    p.sent(10 + i, 0); // one entry each, pipelined
  }
  CAF_CHECK(!p.can_send(8)); // the in-flight limit
  CAF_CHECK_EQUAL(p.next, 18u);
  p.succeeded(10, p.epoch);
  CAF_CHECK(p.can_send(8));
  CAF_CHECK_EQUAL(p.match, 10u);
}

CAF_TEST(a rejection backs off to the follower hint 5.3) {
  auto p = probing_from(100);
  p.sent(0, 0);
  CAF_CHECK(p.rejected(40, p.epoch)); // follower: my term starts at 40
  CAF_CHECK(p.probe);
  CAF_CHECK_EQUAL(p.next, 40u);
  CAF_CHECK_EQUAL(p.flights.size(), 0u);
  // Without a hint, step back by one; never below the match.
  p.sent(0, 0);
  p.rejected(0, p.epoch);
  CAF_CHECK_EQUAL(p.next, 39u);
  p.match = 38;
  p.sent(0, 0);
  p.rejected(1, p.epoch);
  CAF_CHECK_EQUAL(p.next, 39u);
}

CAF_TEST(replies from before a reset change nothing 5.3) {
  auto p = probing_from(10);
  p.sent(0, 0);
  p.succeeded(9, p.epoch);
  auto old = p.epoch;
  p.sent(10, 0);
  p.sent(11, 0);
  p.failed(old); // a timeout resets the window
  CAF_CHECK(p.probe);
  CAF_CHECK_EQUAL(p.next, 10u);
  auto now = p.epoch;
  CAF_CHECK(!p.rejected(5, old)); // stale rejection: ignored
  CAF_CHECK_EQUAL(p.next, 10u);
  // A stale success still teaches what the peer durably holds.
  p.succeeded(11, old);
  CAF_CHECK_EQUAL(p.match, 11u);
  CAF_CHECK_EQUAL(p.next, 12u);
  CAF_CHECK_EQUAL(p.epoch, now);
}

CAF_TEST(the match never goes backwards 5.3) {
  auto p = probing_from(10);
  p.sent(0, 0);
  p.succeeded(9, p.epoch);
  p.succeeded(5, p.epoch);
  CAF_CHECK_EQUAL(p.match, 9u);
  p.reset(3);
  CAF_CHECK_EQUAL(p.next, 10u); // never re-probe below what matches
}

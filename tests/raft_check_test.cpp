// RAFTD_CHECK (raft/check.hpp) fires in every build, and the core's
// invariants stop it when what the paper guarantees does not hold. The
// handler installed here throws instead of aborting, so the test sees it.
#define CAF_SUITE raft.check
#include <caf/test/unit_test.hpp>

#include <stdexcept>

#include "raft/check.hpp"
#include "raft/core.hpp"

using namespace raftd;

namespace {

struct check_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void throwing_handler(const char*, int, const char*, const std::string& msg) {
  throw check_failed{msg};
}

/// Installs the throwing handler for one test.
struct fixture {
  panic_handler before = set_panic_handler(&throwing_handler);
  ~fixture() {
    set_panic_handler(before);
  }
};

std::vector<log_entry> config_log(std::string value) {
  return {log_entry{1, 1, entry_kind::config, {}, std::move(value)}};
}

raft_core follower_of_three() {
  core_config cfg;
  cfg.id = "a";
  std::vector<member> ms{{"a", "a:1", "a:2"}, {"b", "b:1", "b:2"},
                         {"c", "c:1", "c:2"}};
  return raft_core{cfg, hard_state{1, ""}, config_log(encode_members(ms)), 0};
}

/// Message of the check that `f` makes fire ("" if none fires).
template <class F>
std::string fired(F f) {
  try {
    f();
  } catch (const check_failed& e) {
    return e.what();
  }
  return {};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(check_tests, fixture)

CAF_TEST(a check is on in every build) {
  CAF_CHECK_EQUAL(fired([] { RAFTD_CHECK(1 + 1 == 3, "arithmetic"); }),
                  "arithmetic");
  CAF_CHECK_EQUAL(fired([] { RAFTD_CHECK(true, "never"); }), "");
}

CAF_TEST(a second leader in the same term stops the node 5.2) {
  auto c = follower_of_three();
  effects out;
  auto ok = c.handle_append_request(append_request{2, "b", 1, 1, {}, 0, "a"},
                                    out);
  CAF_REQUIRE(ok.success);
  auto msg = fired([&] {
    c.handle_append_request(append_request{2, "c", 1, 1, {}, 0, "a"}, out);
  });
  CAF_CHECK_NOT_EQUAL(msg.find("two leaders in term 2"), std::string::npos);
}

CAF_TEST(compacting past what was applied stops the node 7) {
  auto c = follower_of_three(); // entry 1, nothing applied
  effects out;
  auto msg = fired([&] { c.compact(1, out); });
  CAF_CHECK_NOT_EQUAL(msg.find("past applied"), std::string::npos);
}

CAF_TEST(a configuration entry that does not decode stops the node 4.1) {
  auto msg = fired([] {
    core_config cfg;
    cfg.id = "a";
    raft_core{cfg, hard_state{1, ""}, config_log("no\ttabs\tenough\tx\n"), 0};
  });
  CAF_CHECK_NOT_EQUAL(msg.find("does not decode"), std::string::npos);
}

CAF_TEST(truncating a committed entry stops the node 5.3) {
  auto c = follower_of_three();
  effects out;
  log_entry e2{2, 2, entry_kind::put, "k", "v"};
  c.handle_append_request(append_request{2, "b", 1, 1, {e2}, 2, "a"}, out);
  c.persisted(2, 2, out);
  CAF_REQUIRE_EQUAL(c.commit_index(), 2u);
  // A leader of term 3 that claims a different entry 2: only an uncommitted
  // entry may be replaced (§5.3), so this can only be a broken cluster.
  log_entry other{3, 2, entry_kind::put, "k", "w"};
  auto msg = fired([&] {
    c.handle_append_request(append_request{3, "c", 1, 1, {other}, 2, "a"},
                            out);
  });
  CAF_CHECK_NOT_EQUAL(msg.find("truncating committed entries"),
                      std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()

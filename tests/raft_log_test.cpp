// The log after its compacted prefix (raft/log.hpp): first index, term
// lookup and bounded slices.
#define CAF_SUITE raft.log
#include <caf/test/unit_test.hpp>

#include "raft/log.hpp"

using namespace raftd;

namespace {

raft_log log_of(std::vector<uint64_t> terms, size_t value_size = 0) {
  std::vector<log_entry> es;
  for (size_t i = 0; i < terms.size(); ++i)
    es.push_back(log_entry{terms[i], i + 1, entry_kind::put, "k",
                           std::string(value_size, 'v')});
  return raft_log{std::move(es)};
}

} // namespace

CAF_TEST(an uncompacted log starts at index 1) {
  auto l = log_of({1, 1, 2});
  CAF_CHECK_EQUAL(l.first_index(), 1u);
  CAF_CHECK_EQUAL(l.last_index(), 3u);
  CAF_CHECK_EQUAL(l.term_at(0), 0u);
  CAF_CHECK_EQUAL(l.term_at(3), 2u);
  CAF_CHECK_EQUAL(l.term_at(4), 0u);
  CAF_CHECK(l.holds(1) && !l.holds(0) && !l.holds(4));
}

CAF_TEST(append and truncate move the last index) {
  auto l = log_of({1, 1, 2});
  l.truncate_from(2);
  CAF_CHECK_EQUAL(l.last_index(), 1u);
  l.append(log_entry{3, 2, entry_kind::put, "k", "v"});
  CAF_CHECK_EQUAL(l.term_at(2), 3u);
  l.truncate_from(5); // beyond the end: nothing to drop
  CAF_CHECK_EQUAL(l.last_index(), 2u);
}

CAF_TEST(slices honour the entry and byte bounds but hold at least one) {
  auto l = log_of({1, 1, 1, 1, 1}, 10); // 11 bytes of key and value each
  CAF_CHECK_EQUAL(l.slice(2, 5).size(), 4u);
  CAF_CHECK_EQUAL(l.slice(2, 5, 2).size(), 2u);
  auto by_bytes = l.slice(1, 5, 100, 22);
  CAF_REQUIRE_EQUAL(by_bytes.size(), 2u);
  CAF_CHECK_EQUAL(by_bytes.front().index, 1u);
  CAF_CHECK_EQUAL(l.slice(1, 5, 100, 1).size(), 1u);
  CAF_CHECK(l.slice(3, 2).empty());
}

CAF_TEST(the latest configuration entry is found from the end) {
  std::vector<log_entry> es{{1, 1, entry_kind::config, {}, "a"},
                            {1, 2, entry_kind::put, "k", "v"},
                            {1, 3, entry_kind::config, {}, "b"},
                            {1, 4, entry_kind::put, "k", "v"}};
  raft_log l{es};
  CAF_REQUIRE(l.last_config() != nullptr);
  CAF_CHECK_EQUAL(l.last_config()->index, 3u);
  l.truncate_from(3);
  CAF_CHECK_EQUAL(l.last_config()->index, 1u);
  CAF_CHECK(raft_log{}.last_config() == nullptr);
}

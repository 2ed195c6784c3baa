#define CAF_SUITE storage.kv_store
#include <caf/test/unit_test.hpp>

#include <functional>
#include <thread>
#include <utility>

#include <leveldb/db.h>

#include "storage/codec.hpp"
#include "storage/kv_store.hpp"
#include "tests/storage_test_util.hpp"

using namespace raftd;
using namespace raftd::test;

namespace {

/// Runs `check` against a fresh LevelDB store and a fresh memory store.
void for_each_store(const std::function<void(kv_store&)>& check) {
  {
    CAF_MESSAGE("leveldb kv store");
    temp_dir tmp;
    auto s = open_leveldb_kv_store(tmp.sub("kv"), true);
    CAF_REQUIRE(s);
    check(**s);
  }
  {
    CAF_MESSAGE("memory kv store");
    auto s = make_memory_kv_store();
    check(*s);
  }
}

/// The value of `key`, or "<absent>"/"<error>".
std::string value_of(kv_store& s, const std::string& key) {
  auto v = s.get(key);
  if (!v)
    return "<error>";
  return v->has_value() ? **v : "<absent>";
}

apply_result apply_ok(kv_store& s, const std::vector<log_entry>& es) {
  auto r = s.apply(es);
  if (!r)
    CAF_FAIL("apply failed: " << context_of(r.error()));
  return *r;
}

std::vector<uint8_t> flags(std::initializer_list<int> xs) {
  std::vector<uint8_t> result;
  for (auto x : xs)
    result.push_back(static_cast<uint8_t>(x));
  return result;
}

} // namespace

CAF_TEST(apply puts and deletes keys and advances the applied index) {
  for_each_store([](kv_store& s) {
    CAF_CHECK_EQUAL(s.applied_index(), 0u);
    CAF_CHECK_EQUAL(value_of(s, "a"), "<absent>");
    auto r = apply_ok(s,
                      {put(1, "a", "1"), put(2, "b", "2"), put(3, "a", "3")});
    CAF_CHECK_EQUAL(r.applied_index, 3u);
    CAF_CHECK(r.found == flags({0, 0, 0})); // puts look nothing up
    CAF_CHECK_EQUAL(s.applied_index(), 3u);
    CAF_CHECK_EQUAL(value_of(s, "a"), "3");
    CAF_CHECK_EQUAL(value_of(s, "b"), "2");
    r = apply_ok(s, {del(4, "a"), del(5, "zzz")});
    CAF_CHECK(r.found == flags({1, 0}));
    CAF_CHECK_EQUAL(value_of(s, "a"), "<absent>");
    CAF_CHECK_EQUAL(value_of(s, "b"), "2");
    CAF_CHECK_EQUAL(s.applied_index(), 5u);
  });
}

CAF_TEST(a later entry in a batch sees an earlier one) {
  for_each_store([](kv_store& s) {
    auto r = apply_ok(s, {put(1, "k", "x"), del(2, "k"), del(3, "k"),
                          put(4, "k", "y"), put(5, "k", "z")});
    CAF_CHECK(r.found == flags({0, 1, 0, 0, 0}));
    CAF_CHECK_EQUAL(value_of(s, "k"), "z");
    r = apply_ok(s, {del(6, "k"), put(7, "k", "w")});
    CAF_CHECK(r.found == flags({1, 0}));
    CAF_CHECK_EQUAL(value_of(s, "k"), "w");
  });
}

CAF_TEST(noop and config entries only advance the index) {
  for_each_store([](kv_store& s) {
    auto r = apply_ok(s, {entry(1, 1, entry_kind::noop, "k", "v"),
                          entry(2, 1, entry_kind::config, "k", "members")});
    CAF_CHECK(r.found == flags({0, 0}));
    CAF_CHECK_EQUAL(r.applied_index, 2u);
    CAF_CHECK_EQUAL(value_of(s, "k"), "<absent>");
    CAF_CHECK_EQUAL(s.applied_index(), 2u);
  });
}

CAF_TEST(entries already applied are skipped) {
  for_each_store([](kv_store& s) {
    apply_ok(s, {put(1, "a", "1"), put(2, "b", "2"), put(3, "c", "3")});
    // 2 and 3 again (with other values), then 4 and 5.
    auto r = apply_ok(s, {put(2, "b", "X"), del(3, "c"), put(4, "b", "4"),
                          del(5, "c")});
    CAF_CHECK(r.found == flags({0, 0, 0, 1}));
    CAF_CHECK_EQUAL(r.applied_index, 5u);
    CAF_CHECK_EQUAL(value_of(s, "b"), "4");
    CAF_CHECK_EQUAL(value_of(s, "c"), "<absent>");
    // Everything already applied: nothing changes.
    r = apply_ok(s, {put(1, "a", "X"), put(2, "a", "Y")});
    CAF_CHECK(r.found == flags({0, 0}));
    CAF_CHECK_EQUAL(r.applied_index, 5u);
    CAF_CHECK_EQUAL(value_of(s, "a"), "1");
    r = apply_ok(s, {});
    CAF_CHECK(r.found.empty());
    CAF_CHECK_EQUAL(r.applied_index, 5u);
  });
}

CAF_TEST(a gap or a bad batch is rejected without writing) {
  for_each_store([](kv_store& s) {
    apply_ok(s, {put(1, "a", "1"), put(2, "b", "2")});
    auto bad = [&](const std::vector<log_entry>& es) {
      auto r = s.apply(es);
      return !r && is(r.error(), errc::internal);
    };
    CAF_CHECK(bad({put(4, "a", "gap")}));                     // gap
    CAF_CHECK(bad({put(3, "a", "x"), put(5, "a", "hole")}));  // hole inside
    CAF_CHECK(bad({put(3, "a", "x"), put(3, "a", "twice")}));
    CAF_CHECK(bad({put(2, "a", "x"), put(1, "a", "backwards")}));
    CAF_CHECK(bad({entry(3, 1, static_cast<entry_kind>(7), "a", "x")}));
    CAF_CHECK(bad({entry(0, 1, entry_kind::put, "a", "zero")}));
    CAF_CHECK_EQUAL(s.applied_index(), 2u);
    CAF_CHECK_EQUAL(value_of(s, "a"), "1");
    apply_ok(s, {put(3, "a", "3")});
    CAF_CHECK_EQUAL(value_of(s, "a"), "3");
  });
}

CAF_TEST(keys and values are binary safe) {
  for_each_store([](kv_store& s) {
    auto nul_key = std::string("\0a\0", 3);
    apply_ok(s, {put(1, nul_key, all_bytes()), put(2, "", "empty key"),
                 put(3, all_bytes(), ""),
                 put(4, std::string(1, '\0'), "one nul")});
    CAF_CHECK_EQUAL(value_of(s, nul_key), all_bytes());
    CAF_CHECK_EQUAL(value_of(s, ""), "empty key");
    CAF_CHECK_EQUAL(value_of(s, all_bytes()), "");
    CAF_CHECK_EQUAL(value_of(s, std::string(1, '\0')), "one nul");
    CAF_CHECK_EQUAL(value_of(s, std::string("\0a", 2)), "<absent>");
    // A user key named like an internal key does not touch it.
    apply_ok(s, {put(5, "a", "not the applied index"), del(6, "v")});
    CAF_CHECK_EQUAL(s.applied_index(), 6u);
  });
}

CAF_TEST(reopening keeps the applied index and the values) {
  temp_dir tmp;
  auto dir = tmp.sub("kv");
  {
    auto s = open_leveldb_kv_store(dir, true);
    CAF_REQUIRE(s);
    apply_ok(**s, {put(1, "a", "1"), put(2, "b", all_bytes()), del(3, "a")});
  }
  {
    auto s = open_leveldb_kv_store(dir, false);
    CAF_REQUIRE(s);
    CAF_CHECK_EQUAL((*s)->applied_index(), 3u);
    CAF_CHECK_EQUAL(value_of(**s, "a"), "<absent>");
    CAF_CHECK_EQUAL(value_of(**s, "b"), all_bytes());
    // Replaying the log from the start after a restart changes nothing.
    auto r = apply_ok(**s, {put(1, "a", "1"), put(2, "b", "old"), del(3, "a"),
                            put(4, "c", "4")});
    CAF_CHECK(r.found == flags({0, 0, 0, 0}));
    CAF_CHECK_EQUAL(value_of(**s, "b"), all_bytes());
  }
  auto s = open_leveldb_kv_store(dir, false);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL((*s)->applied_index(), 4u);
  CAF_CHECK_EQUAL(value_of(**s, "c"), "4");
}

CAF_TEST(a missing or damaged kv database is corrupt_data) {
  temp_dir tmp;
  auto missing = open_leveldb_kv_store(tmp.sub("kv"), false);
  CAF_REQUIRE(!missing);
  CAF_CHECK(is(missing.error(), errc::corrupt_data));
  CAF_CHECK_NOT_EQUAL(context_of(missing.error()).find("missing kv database"),
                      std::string::npos);
  {
    auto s = open_leveldb_kv_store(tmp.sub("kv"), true);
    CAF_REQUIRE(s);
    apply_ok(**s, {put(1, "a", "1")});
  }
  {
    leveldb::DB* db = nullptr;
    CAF_REQUIRE(leveldb::DB::Open(leveldb::Options{}, tmp.sub("kv"), &db).ok());
    CAF_REQUIRE(db->Put(leveldb::WriteOptions{}, codec::applied_index_key(),
                        "short")
                  .ok());
    delete db;
  }
  auto s = open_leveldb_kv_store(tmp.sub("kv"), false);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), errc::corrupt_data));
}

// -- snapshots (§7): meta, durability, readers -------------------------------

namespace {

/// Every pair a reader gives, read `max_bytes` at a time from the start.
std::vector<std::pair<std::string, std::string>>
read_all(snapshot_reader& r, size_t max_bytes = 1) {
  std::vector<std::pair<std::string, std::string>> result;
  r.seek_after({}, true);
  for (;;) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    auto done = r.read(max_bytes, keys, values);
    if (!done)
      CAF_FAIL("read failed: " << context_of(done.error()));
    CAF_CHECK_EQUAL(keys.size(), values.size());
    for (size_t i = 0; i < keys.size(); ++i)
      result.emplace_back(keys[i], values[i]);
    if (*done)
      return result;
    if (keys.empty())
      CAF_FAIL("read returned nothing but is not done");
  }
}

using pairs = std::vector<std::pair<std::string, std::string>>;

} // namespace

CAF_TEST(meta follows the applied entries and durable follows sync) {
  for_each_store([](kv_store& s) {
    CAF_CHECK(s.meta() == snapshot_meta{});
    CAF_CHECK(s.durable() == snapshot_meta{});
    auto r = apply_ok(s, {put(1, "a", "1", 1),
                          entry(2, 1, entry_kind::config, "", "m1"),
                          put(3, "b", "2", 2)});
    CAF_CHECK(s.meta() == (snapshot_meta{3, 2, 2, "m1"}));
    CAF_CHECK(r.durable == snapshot_meta{}); // nothing synced yet
    CAF_CHECK(s.durable() == snapshot_meta{});
    CAF_CHECK(!s.sync());
    CAF_CHECK(s.durable() == (snapshot_meta{3, 2, 2, "m1"}));
    r = apply_ok(s, {entry(4, 3, entry_kind::config, "", "m2"),
                     entry(5, 3, entry_kind::noop)});
    CAF_CHECK(s.meta() == (snapshot_meta{5, 3, 4, "m2"}));
    CAF_CHECK(r.durable == (snapshot_meta{3, 2, 2, "m1"}));
    // Skipped entries change nothing, the durable meta comes back anyway.
    r = apply_ok(s, {entry(5, 9, entry_kind::config, "", "old")});
    CAF_CHECK(s.meta() == (snapshot_meta{5, 3, 4, "m2"}));
    CAF_CHECK(r.durable == (snapshot_meta{3, 2, 2, "m1"}));
    CAF_CHECK(!s.sync());
    CAF_CHECK(s.durable() == s.meta());
  });
}

CAF_TEST(the meta survives a reopen and counts as durable) {
  temp_dir tmp;
  auto dir = tmp.sub("kv");
  {
    auto s = open_leveldb_kv_store(dir, true);
    CAF_REQUIRE(s);
    apply_ok(**s, {put(1, "a", "1", 1),
                   entry(2, 2, entry_kind::config, "", all_bytes())});
    CAF_CHECK(!(*s)->sync());
    apply_ok(**s, {put(3, "b", "2", 3)}); // not synced: still on disk
  }
  auto s = open_leveldb_kv_store(dir, false);
  CAF_REQUIRE(s);
  CAF_CHECK(((*s)->meta() == snapshot_meta{3, 3, 2, all_bytes()}));
  CAF_CHECK((*s)->durable() == (*s)->meta());
}

CAF_TEST(a database of an older raftd has a meta of term 0) {
  temp_dir tmp;
  auto dir = tmp.sub("kv");
  {
    auto s = open_leveldb_kv_store(dir, true);
    CAF_REQUIRE(s);
    apply_ok(**s, {put(1, "a", "1", 4), put(2, "b", "2", 4)});
  }
  {
    leveldb::DB* db = nullptr;
    CAF_REQUIRE(leveldb::DB::Open(leveldb::Options{}, dir, &db).ok());
    CAF_REQUIRE(
      db->Delete(leveldb::WriteOptions{}, codec::snapshot_meta_key()).ok());
    delete db;
  }
  auto s = open_leveldb_kv_store(dir, false);
  CAF_REQUIRE(s);
  CAF_CHECK(((*s)->meta() == snapshot_meta{2, 0, 0, ""}));
  apply_ok(**s, {put(3, "c", "3", 5)});
  CAF_CHECK(((*s)->meta() == snapshot_meta{3, 5, 0, ""}));
}

CAF_TEST(a reader sees the state as of its creation) {
  for_each_store([](kv_store& s) {
    apply_ok(s, {put(1, "b", "2", 1), put(2, "a", "1", 1),
                 entry(3, 2, entry_kind::config, "", "m"),
                 put(4, "", "empty", 2)});
    auto r = s.read_snapshot();
    CAF_REQUIRE(r);
    // Applied after the reader was made: not seen.
    apply_ok(s, {put(5, "c", "3", 2), del(6, "a", 2), put(7, "b", "X", 2)});
    CAF_CHECK(((*r)->meta() == snapshot_meta{4, 2, 3, "m"}));
    auto want = pairs{{"", "empty"}, {"a", "1"}, {"b", "2"}};
    CAF_CHECK(read_all(**r) == want);
    CAF_CHECK(read_all(**r, 1 << 20) == want);
    // Resuming after a key, including the empty key.
    std::vector<std::string> keys;
    std::vector<std::string> values;
    (*r)->seek_after("", false);
    auto done = (*r)->read(1, keys, values);
    CAF_REQUIRE(done);
    CAF_CHECK(!*done);
    CAF_CHECK(keys == std::vector<std::string>{"a"});
    keys.clear();
    values.clear();
    (*r)->seek_after("aa", false); // a key that is not there
    done = (*r)->read(100, keys, values);
    CAF_REQUIRE(done);
    CAF_CHECK(*done);
    CAF_CHECK(keys == std::vector<std::string>{"b"});
    CAF_CHECK(values == std::vector<std::string>{"2"});
    // A new reader sees the new state.
    auto r2 = s.read_snapshot();
    CAF_REQUIRE(r2);
    CAF_CHECK_EQUAL((*r2)->meta().index, 7u);
    CAF_CHECK(read_all(**r2) == (pairs{{"", "empty"}, {"b", "X"}, {"c", "3"}}));
  });
}

CAF_TEST(an empty store gives an empty reader) {
  for_each_store([](kv_store& s) {
    auto r = s.read_snapshot();
    CAF_REQUIRE(r);
    CAF_CHECK((*r)->meta() == snapshot_meta{});
    CAF_CHECK(read_all(**r).empty());
  });
}

CAF_TEST(a reader outlives its store and reads from another thread) {
  temp_dir tmp;
  std::unique_ptr<snapshot_reader> reader;
  {
    auto s = open_leveldb_kv_store(tmp.sub("kv"), true);
    CAF_REQUIRE(s);
    std::vector<log_entry> es;
    for (uint64_t i = 1; i <= 2000; ++i)
      es.push_back(put(i, "key" + std::to_string(i), std::string(100, 'x')));
    apply_ok(**s, es);
    auto r = (*s)->read_snapshot();
    CAF_REQUIRE(r);
    reader = std::move(*r);
    apply_ok(**s, {del(2001, "key1")});
  }
  size_t count = 0;
  bool ok = true;
  std::thread t{[&] {
    reader->seek_after({}, true);
    for (;;) {
      std::vector<std::string> keys;
      std::vector<std::string> values;
      auto done = reader->read(4096, keys, values);
      if (!done) {
        ok = false;
        return;
      }
      count += keys.size();
      if (*done)
        return;
    }
  }};
  t.join();
  CAF_CHECK(ok);
  CAF_CHECK_EQUAL(count, 2000u);
  CAF_CHECK_EQUAL(reader->meta().index, 2000u);
  reader.reset();
  // Once the reader is gone, the database is closed and free again.
  auto again = open_leveldb_kv_store(tmp.sub("kv"), false);
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL((*again)->applied_index(), 2001u);
}

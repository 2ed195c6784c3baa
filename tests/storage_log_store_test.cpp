#define CAF_SUITE storage.log_store
#include <caf/test/unit_test.hpp>

#include <fstream>
#include <functional>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "storage/codec.hpp"
#include "storage/log_store.hpp"
#include "tests/storage_test_util.hpp"

using namespace raftd;
using namespace raftd::test;

namespace {

/// A log store that a test can "restart": close and open again on the same
/// durable state.
class backend {
public:
  virtual ~backend() = default;
  virtual log_store& store() = 0;
  virtual void reopen() = 0;
  virtual const char* name() const = 0;
};

class leveldb_backend : public backend {
public:
  leveldb_backend() {
    open(true);
  }
  log_store& store() override {
    return *store_;
  }
  void reopen() override {
    store_.reset();
    open(false);
  }
  const char* name() const override {
    return "leveldb";
  }

private:
  void open(bool create) {
    auto s = open_leveldb_log_store(dir_.sub("log"), create);
    if (!s)
      CAF_FAIL("cannot open log store: " << context_of(s.error()));
    store_ = std::move(*s);
  }
  temp_dir dir_;
  std::unique_ptr<log_store> store_;
};

class memory_backend : public backend {
public:
  memory_backend() : disk_(std::make_shared<memory_log_disk>()) {
    reopen();
  }
  log_store& store() override {
    return *store_;
  }
  void reopen() override {
    store_.reset();
    store_ = make_memory_log_store(disk_);
  }
  const char* name() const override {
    return "memory";
  }

private:
  std::shared_ptr<memory_log_disk> disk_;
  std::unique_ptr<log_store> store_;
};

/// Runs `check` against a fresh store of each kind.
void for_each_backend(const std::function<void(backend&)>& check) {
  {
    CAF_MESSAGE("leveldb log store");
    leveldb_backend b;
    check(b);
  }
  {
    CAF_MESSAGE("memory log store");
    memory_backend b;
    check(b);
  }
}

/// What load() read, under the names the tests use.
struct loaded {
  hard_state hs;
  uint64_t prefix_index = 0;
  uint64_t prefix_term = 0;
  std::vector<log_entry> entries;
};

loaded load(log_store& s) {
  durable_log d;
  auto err = s.load(d);
  if (err)
    CAF_FAIL("load failed: " << context_of(err));
  return {d.state, d.prefix_index, d.prefix_term, std::move(d.entries)};
}

bool ok(const caf::error& err) {
  if (err)
    CAF_MESSAGE("unexpected error: " << context_of(err));
  return !err;
}

} // namespace

CAF_TEST(an empty store loads nothing) {
  for_each_backend([](backend& b) {
    auto l = load(b.store());
    CAF_CHECK(l.hs == hard_state{});
    CAF_CHECK(l.entries.empty());
    CAF_CHECK_EQUAL(b.store().last_index(), 0u);
    b.reopen();
    CAF_CHECK_EQUAL(b.store().last_index(), 0u);
  });
}

CAF_TEST(appended entries survive a reopen) {
  for_each_backend([](backend& b) {
    auto& s = b.store();
    CAF_CHECK(ok(s.write(append(entries(1, 3)))));
    CAF_CHECK_EQUAL(s.last_index(), 3u);
    CAF_CHECK(ok(s.write(append(entries(4, 4)))));
    CAF_CHECK_EQUAL(s.last_index(), 4u);
    b.reopen();
    CAF_CHECK_EQUAL(b.store().last_index(), 4u);
    auto l = load(b.store());
    CAF_CHECK(l.entries == entries(1, 4));
    CAF_CHECK(ok(b.store().write(append(entries(5, 6)))));
    CAF_CHECK(load(b.store()).entries == entries(1, 6));
  });
}

CAF_TEST(binary keys and values survive a reopen) {
  for_each_backend([](backend& b) {
    std::vector<log_entry> es{
      put(1, std::string("\0k\0", 3), all_bytes()),
      entry(2, 1, entry_kind::config, "", std::string(100000, '\0')),
      del(3, all_bytes()), entry(4, 2, entry_kind::noop)};
    CAF_CHECK(ok(b.store().write(append(es))));
    b.reopen();
    CAF_CHECK(load(b.store()).entries == es);
  });
}

CAF_TEST(hard state is saved and reloaded with the entries) {
  for_each_backend([](backend& b) {
    persist_batch batch = append(entries(1, 2, 3));
    batch.has_state = true;
    batch.state = hard_state{3, "abc1234"};
    CAF_CHECK(ok(b.store().write(batch)));
    b.reopen();
    auto l = load(b.store());
    CAF_CHECK(l.hs == (hard_state{3, "abc1234"}));
    CAF_CHECK(l.entries == entries(1, 2, 3));
    // State alone: a new term, no vote yet.
    persist_batch state_only;
    state_only.has_state = true;
    state_only.state = hard_state{4, ""};
    CAF_CHECK(ok(b.store().write(state_only)));
    CAF_CHECK_EQUAL(b.store().last_index(), 2u);
    b.reopen();
    l = load(b.store());
    CAF_CHECK(l.hs == (hard_state{4, ""}));
    CAF_CHECK_EQUAL(l.entries.size(), 2u);
  });
}

CAF_TEST(truncate and append in one batch 5.3) {
  // A follower drops its conflicting suffix and takes the leader's entries.
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(append(entries(1, 5, 1)))));
    persist_batch batch = append(entries(3, 4, 2));
    batch.truncate_from = 3;
    batch.has_state = true;
    batch.state = hard_state{2, "leader1"};
    CAF_CHECK(ok(b.store().write(batch)));
    CAF_CHECK_EQUAL(b.store().last_index(), 4u);
    b.reopen();
    CAF_CHECK_EQUAL(b.store().last_index(), 4u);
    auto l = load(b.store());
    auto want = entries(1, 2, 1);
    for (auto& e : entries(3, 4, 2))
      want.push_back(e);
    CAF_CHECK(l.entries == want);
    CAF_CHECK(l.hs == (hard_state{2, "leader1"}));
  });
}

CAF_TEST(truncation alone and truncation past the end) {
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(append(entries(1, 5)))));
    persist_batch past_end;
    past_end.truncate_from = 9;
    CAF_CHECK(ok(b.store().write(past_end)));
    CAF_CHECK_EQUAL(b.store().last_index(), 5u);
    // Past the end, entries still start right after the last one.
    past_end.entries = entries(6, 6);
    CAF_CHECK(ok(b.store().write(past_end)));
    CAF_CHECK_EQUAL(b.store().last_index(), 6u);
    persist_batch cut;
    cut.truncate_from = 3;
    CAF_CHECK(ok(b.store().write(cut)));
    CAF_CHECK_EQUAL(b.store().last_index(), 2u);
    b.reopen();
    CAF_CHECK(load(b.store()).entries == entries(1, 2));
    cut.truncate_from = 1; // everything
    CAF_CHECK(ok(b.store().write(cut)));
    CAF_CHECK_EQUAL(b.store().last_index(), 0u);
    b.reopen();
    CAF_CHECK(load(b.store()).entries.empty());
    CAF_CHECK(ok(b.store().write(append(entries(1, 1, 7)))));
    CAF_CHECK(load(b.store()).entries == entries(1, 1, 7));
  });
}

CAF_TEST(a batch that does not continue the log is rejected unwritten) {
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(append(entries(1, 3)))));
    auto rejected = [&](persist_batch batch) {
      batch.has_state = true;
      batch.state = hard_state{9, "nobody0"};
      auto err = b.store().write(batch);
      return is(err, errc::internal);
    };
    CAF_CHECK(rejected(append(entries(5, 6))));     // gap
    CAF_CHECK(rejected(append(entries(3, 4))));     // overlap, no truncation
    CAF_CHECK(rejected(append({entry(4, 1), entry(6, 1)}))); // hole inside
    CAF_CHECK(rejected(append({entry(4, 1), entry(4, 1)})));
    persist_batch cut = append(entries(4, 4));
    cut.truncate_from = 2; // entries must then start at 2
    CAF_CHECK(rejected(cut));
    CAF_CHECK_EQUAL(b.store().last_index(), 3u);
    b.reopen();
    auto l = load(b.store());
    CAF_CHECK(l.entries == entries(1, 3));
    CAF_CHECK(l.hs == hard_state{}); // the state was not written either
    // The store still works.
    CAF_CHECK(ok(b.store().write(append(entries(4, 4)))));
  });
}

CAF_TEST(an empty batch writes nothing) {
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(persist_batch{})));
    CAF_CHECK_EQUAL(b.store().last_index(), 0u);
    CAF_CHECK(ok(b.store().write(append(entries(1, 1)))));
    CAF_CHECK(ok(b.store().write(persist_batch{})));
    CAF_CHECK_EQUAL(b.store().last_index(), 1u);
  });
}

// -- compaction (§7) ---------------------------------------------------------

namespace {

persist_batch compact(uint64_t to, uint64_t term) {
  persist_batch b;
  b.compact_to = to;
  b.compact_term = term;
  return b;
}

} // namespace

CAF_TEST(compaction and a reopen keep the prefix and the later entries) {
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(append(entries(1, 6, 2)))));
    CAF_CHECK(ok(b.store().write(compact(4, 2))));
    CAF_CHECK_EQUAL(b.store().prefix_index(), 4u);
    CAF_CHECK_EQUAL(b.store().last_index(), 6u);
    auto l = load(b.store());
    CAF_CHECK_EQUAL(l.prefix_index, 4u);
    CAF_CHECK_EQUAL(l.prefix_term, 2u);
    CAF_CHECK(l.entries == entries(5, 6, 2));
    b.reopen();
    CAF_CHECK_EQUAL(b.store().prefix_index(), 4u);
    CAF_CHECK_EQUAL(b.store().last_index(), 6u);
    l = load(b.store());
    CAF_CHECK_EQUAL(l.prefix_index, 4u);
    CAF_CHECK_EQUAL(l.prefix_term, 2u);
    CAF_CHECK(l.entries == entries(5, 6, 2));
    // The prefix only moves up; a lower one is ignored.
    CAF_CHECK(ok(b.store().write(compact(2, 1))));
    CAF_CHECK_EQUAL(b.store().prefix_index(), 4u);
    // Compaction, a truncation past it and new entries in one batch.
    persist_batch batch = compact(5, 2);
    batch.truncate_from = 6;
    batch.entries = entries(6, 7, 3);
    CAF_CHECK(ok(b.store().write(batch)));
    b.reopen();
    l = load(b.store());
    CAF_CHECK_EQUAL(l.prefix_index, 5u);
    CAF_CHECK(l.entries == entries(6, 7, 3));
    CAF_CHECK_EQUAL(b.store().last_index(), 7u);
  });
}

CAF_TEST(compaction up to or past the end empties the log) {
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(append(entries(1, 3)))));
    CAF_CHECK(ok(b.store().write(compact(3, 1)))); // exactly at the end
    CAF_CHECK_EQUAL(b.store().last_index(), 3u);
    CAF_CHECK(load(b.store()).entries.empty());
    // A snapshot from a leader, far past the end: entries restart after it.
    persist_batch wrong = compact(10, 4);
    wrong.entries = entries(4, 4, 4);
    CAF_CHECK(is(b.store().write(wrong), errc::internal));
    CAF_CHECK_EQUAL(b.store().prefix_index(), 3u);
    persist_batch install = compact(10, 4);
    install.has_state = true;
    install.state = hard_state{4, "leader1"};
    install.entries = entries(11, 12, 4);
    CAF_CHECK(ok(b.store().write(install)));
    CAF_CHECK_EQUAL(b.store().prefix_index(), 10u);
    CAF_CHECK_EQUAL(b.store().last_index(), 12u);
    b.reopen();
    CAF_CHECK_EQUAL(b.store().last_index(), 12u);
    auto l = load(b.store());
    CAF_CHECK_EQUAL(l.prefix_index, 10u);
    CAF_CHECK_EQUAL(l.prefix_term, 4u);
    CAF_CHECK(l.hs == (hard_state{4, "leader1"}));
    CAF_CHECK(l.entries == entries(11, 12, 4));
    // Past the end with no entries: empty, last index at the prefix.
    CAF_CHECK(ok(b.store().write(compact(20, 5))));
    b.reopen();
    CAF_CHECK_EQUAL(b.store().last_index(), 20u);
    CAF_CHECK_EQUAL(b.store().prefix_index(), 20u);
    CAF_CHECK(load(b.store()).entries.empty());
    CAF_CHECK(ok(b.store().write(append(entries(21, 21, 5)))));
    CAF_CHECK(load(b.store()).entries == entries(21, 21, 5));
  });
}

CAF_TEST(truncation at or below the prefix is refused unwritten) {
  for_each_backend([](backend& b) {
    CAF_CHECK(ok(b.store().write(append(entries(1, 5)))));
    CAF_CHECK(ok(b.store().write(compact(3, 1))));
    persist_batch cut;
    cut.truncate_from = 3;
    CAF_CHECK(is(b.store().write(cut), errc::internal));
    cut.truncate_from = 1;
    CAF_CHECK(is(b.store().write(cut), errc::internal));
    // Also against the prefix the same batch sets.
    persist_batch both = compact(4, 1);
    both.truncate_from = 4;
    CAF_CHECK(is(b.store().write(both), errc::internal));
    CAF_CHECK_EQUAL(b.store().prefix_index(), 3u);
    CAF_CHECK_EQUAL(b.store().last_index(), 5u);
    cut.truncate_from = 4; // just past it is fine
    CAF_CHECK(ok(b.store().write(cut)));
    CAF_CHECK_EQUAL(b.store().last_index(), 3u);
    b.reopen();
    CAF_CHECK(load(b.store()).entries.empty());
    CAF_CHECK_EQUAL(b.store().last_index(), 3u);
  });
}

CAF_TEST(memory disk fault makes the memory store fail like leveldb) {
  auto disk = std::make_shared<memory_log_disk>();
  auto s = make_memory_log_store(disk);
  CAF_CHECK(ok(s->write(append(entries(1, 2)))));
  disk->fail_writes = true;
  CAF_CHECK(is(s->write(append(entries(3, 3))), errc::storage_failed));
  CAF_CHECK_EQUAL(s->last_index(), 2u);
  disk->fail_writes = false;
  CAF_CHECK(is(s->write(append(entries(3, 3))), errc::storage_failed));
  s = make_memory_log_store(disk); // "restart"
  CAF_CHECK(ok(s->write(append(entries(3, 3)))));
  CAF_CHECK_EQUAL(s->last_index(), 3u);
}

// -- LevelDB only: what is on disk --------------------------------------------

namespace {

/// Changes the raw database of a closed log store.
void raw_edit(const std::string& dir,
              const std::function<void(leveldb::WriteBatch&)>& edit) {
  leveldb::DB* db = nullptr;
  auto s = leveldb::DB::Open(leveldb::Options{}, dir, &db);
  CAF_REQUIRE(s.ok());
  leveldb::WriteBatch batch;
  edit(batch);
  CAF_REQUIRE(db->Write(leveldb::WriteOptions{}, &batch).ok());
  delete db;
}

/// Writes entries 1..3 to a new log store in `dir` and closes it.
void make_log(const std::string& dir) {
  auto s = open_leveldb_log_store(dir, true);
  CAF_REQUIRE(s);
  CAF_REQUIRE(!(*s)->write(append(entries(1, 3))));
}

/// The indexes of the 'e' keys in the closed database at `dir`.
std::vector<uint64_t> raw_entry_indexes(const std::string& dir) {
  leveldb::DB* db = nullptr;
  CAF_REQUIRE(leveldb::DB::Open(leveldb::Options{}, dir, &db).ok());
  std::vector<uint64_t> result;
  std::unique_ptr<leveldb::Iterator> it{db->NewIterator({})};
  for (it->Seek(codec::log_key(0));
       it->Valid() && codec::is_log_key({it->key().data(), it->key().size()});
       it->Next())
    result.push_back(*codec::decode_log_key(
      {it->key().data(), it->key().size()}));
  it.reset();
  delete db;
  return result;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> result;
  for (auto i = first; i <= last; ++i)
    result.push_back(i);
  return result;
}

caf::error load_error(const std::string& dir) {
  auto s = open_leveldb_log_store(dir, false);
  if (!s)
    return s.error();
  durable_log d;
  return (*s)->load(d);
}

} // namespace

CAF_TEST(undecodable entry bytes make load fail with corrupt_data) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  make_log(dir);
  raw_edit(dir, [](leveldb::WriteBatch& b) {
    b.Put(codec::log_key(2), std::string("\x01\x01\x09\x00", 4)); // kind 9
  });
  auto err = load_error(dir);
  CAF_CHECK(is(err, errc::corrupt_data));
  CAF_MESSAGE("error: " << context_of(err));
  CAF_CHECK_NOT_EQUAL(context_of(err).find("log entry 2"), std::string::npos);
}

CAF_TEST(a gap in the log makes load fail with corrupt_data) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  make_log(dir);
  raw_edit(dir, [](leveldb::WriteBatch& b) { b.Delete(codec::log_key(2)); });
  CAF_CHECK(is(load_error(dir), errc::corrupt_data));
  // A log that does not start at 1 is as bad.
  temp_dir tmp2;
  auto dir2 = tmp2.sub("log");
  make_log(dir2);
  raw_edit(dir2, [](leveldb::WriteBatch& b) { b.Delete(codec::log_key(1)); });
  CAF_CHECK(is(load_error(dir2), errc::corrupt_data));
}

CAF_TEST(garbage hard state and bad keys make load fail) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  make_log(dir);
  raw_edit(dir, [](leveldb::WriteBatch& b) {
    b.Put(codec::hard_state_key(), std::string("\x07", 1));
  });
  CAF_CHECK(is(load_error(dir), errc::corrupt_data));
  temp_dir tmp2;
  auto dir2 = tmp2.sub("log");
  make_log(dir2);
  raw_edit(dir2, [](leveldb::WriteBatch& b) { b.Put("e\x01", "x"); });
  CAF_CHECK(is(load_error(dir2), errc::corrupt_data));
}

CAF_TEST(unknown format version is refused on open) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  make_log(dir);
  raw_edit(dir, [](leveldb::WriteBatch& b) {
    b.Put(codec::format_version_key(), std::string(1, '\x02'));
  });
  auto s = open_leveldb_log_store(dir, false);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), errc::corrupt_data));
  CAF_CHECK_NOT_EQUAL(context_of(s.error()).find("format version"),
                      std::string::npos);
  // Data without any version is not ours either.
  temp_dir tmp2;
  {
    leveldb::Options opts;
    opts.create_if_missing = true;
    leveldb::DB* db = nullptr;
    CAF_REQUIRE(leveldb::DB::Open(opts, tmp2.sub("log"), &db).ok());
    CAF_REQUIRE(db->Put(leveldb::WriteOptions{}, "zzz", "foreign").ok());
    delete db;
  }
  auto s2 = open_leveldb_log_store(tmp2.sub("log"), false);
  CAF_REQUIRE(!s2);
  CAF_CHECK(is(s2.error(), errc::corrupt_data));
}

CAF_TEST(a missing database is corrupt_data without create) {
  temp_dir tmp;
  auto s = open_leveldb_log_store(tmp.sub("log"), false);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), errc::corrupt_data));
  CAF_CHECK_NOT_EQUAL(context_of(s.error()).find("missing log database"),
                      std::string::npos);
  CAF_CHECK(!std::filesystem::exists(tmp.sub("log"))); // nothing created
}

CAF_TEST(the same database cannot be opened twice in one process) {
  temp_dir tmp;
  auto first = open_leveldb_log_store(tmp.sub("log"), true);
  CAF_REQUIRE(first);
  auto second = open_leveldb_log_store(tmp.sub("log") + "/", false);
  CAF_REQUIRE(!second);
  CAF_CHECK(is(second.error(), errc::storage_failed));
  CAF_MESSAGE("error: " << context_of(second.error()));
  // The first handle is unharmed, and the path is free once it closes.
  CAF_CHECK(!(*first)->write(append(entries(1, 1))));
  first->reset();
  auto third = open_leveldb_log_store(tmp.sub("log"), false);
  CAF_REQUIRE(third);
  CAF_CHECK_EQUAL((*third)->last_index(), 1u);
}

CAF_TEST(a flipped byte in a table file is corrupt_data) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  make_log(dir);
  { // Reopening moves LevelDB's write-ahead log into a table (.ldb) file.
    auto s = open_leveldb_log_store(dir, false);
    CAF_REQUIRE(s);
  }
  std::string table;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".ldb")
      table = e.path().string();
  CAF_REQUIRE(!table.empty());
  {
    std::fstream f{table, std::ios::in | std::ios::out | std::ios::binary};
    f.seekg(20);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x55);
    f.seekp(20);
    f.write(&c, 1);
  }
  auto err = load_error(dir);
  CAF_MESSAGE("error: " << context_of(err));
  CAF_CHECK(is(err, errc::corrupt_data));
}

CAF_TEST(trim deletes dead entries and a reopen halfway still loads) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  {
    auto s = open_leveldb_log_store(dir, true);
    CAF_REQUIRE(s);
    CAF_REQUIRE(!(*s)->write(append(entries(1, 10))));
    CAF_REQUIRE(!(*s)->write(compact(7, 1)));
    auto more = (*s)->trim(3);
    CAF_REQUIRE(more);
    CAF_CHECK(*more); // 4..7 left
  }
  CAF_CHECK(raw_entry_indexes(dir) == range(4, 10));
  {
    // Reopened before the trim finished: the dead entries are skipped, and
    // the trim carries on from the first one left.
    auto s = open_leveldb_log_store(dir, false);
    CAF_REQUIRE(s);
    CAF_CHECK_EQUAL((*s)->prefix_index(), 7u);
    CAF_CHECK_EQUAL((*s)->last_index(), 10u);
    auto l = load(**s);
    CAF_CHECK_EQUAL(l.prefix_index, 7u);
    CAF_CHECK(l.entries == entries(8, 10));
    auto more = (*s)->trim(3);
    CAF_REQUIRE(more);
    CAF_CHECK(*more);
    more = (*s)->trim(3);
    CAF_REQUIRE(more);
    CAF_CHECK(!*more);
    more = (*s)->trim(3); // nothing left: nothing written
    CAF_REQUIRE(more);
    CAF_CHECK(!*more);
    // Compacted past the end: only what existed is dead.
    CAF_REQUIRE(!(*s)->write(compact(1000000, 2)));
    more = (*s)->trim(2);
    CAF_REQUIRE(more);
    CAF_CHECK(*more);
    more = (*s)->trim(2);
    CAF_REQUIRE(more);
    CAF_CHECK(!*more);
    CAF_REQUIRE(!(*s)->write(append(entries(1000001, 1000002, 2))));
    CAF_REQUIRE(!(*s)->write(compact(1000001, 2)));
    more = (*s)->trim(10);
    CAF_REQUIRE(more);
    CAF_CHECK(!*more);
  }
  CAF_CHECK(raw_entry_indexes(dir) == range(1000002, 1000002));
  auto s = open_leveldb_log_store(dir, false);
  CAF_REQUIRE(s);
  auto l = load(**s);
  CAF_CHECK_EQUAL(l.prefix_index, 1000001u);
  CAF_CHECK(l.entries == entries(1000002, 1000002, 2));
}

CAF_TEST(a gap after the prefix is corrupt_data and a bad prefix too) {
  temp_dir tmp;
  auto dir = tmp.sub("log");
  make_log(dir); // 1..3
  raw_edit(dir, [](leveldb::WriteBatch& b) {
    b.Put(codec::log_prefix_key(), codec::encode_log_prefix({1, 1}));
    b.Delete(codec::log_key(1)); // dead anyway: fine
  });
  {
    auto s = open_leveldb_log_store(dir, false);
    CAF_REQUIRE(s);
    CAF_CHECK(load(**s).entries == entries(2, 3));
  }
  raw_edit(dir, [](leveldb::WriteBatch& b) { b.Delete(codec::log_key(2)); });
  CAF_CHECK(is(load_error(dir), errc::corrupt_data));
  temp_dir tmp2;
  auto dir2 = tmp2.sub("log");
  make_log(dir2);
  raw_edit(dir2, [](leveldb::WriteBatch& b) {
    b.Put(codec::log_prefix_key(), "short");
  });
  auto s = open_leveldb_log_store(dir2, false);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), errc::corrupt_data));
}

#define CAF_SUITE storage.snapshot
#include <caf/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "storage/codec.hpp"
#include "storage/data_dir.hpp"
#include "storage/kv_store.hpp"
#include "storage/snapshot.hpp"
#include "tests/storage_test_util.hpp"

using namespace raftd;
using namespace raftd::test;

namespace fs = std::filesystem;

namespace {

using pairs = std::vector<std::pair<std::string, std::string>>;

/// FNV-1a 64 written out again, byte by byte, as a reference.
uint64_t reference_fnv(const std::string& bytes) {
  uint64_t h = 14695981039346656037ull;
  for (auto c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

snapshot_digest digest_of(const pairs& ps) {
  snapshot_digest d;
  for (auto& [k, v] : ps)
    d.add(k, v);
  return d;
}

/// Writes `ps` into `inst` in chunks of `chunk` pairs.
void write_all(kv_install& inst, const pairs& ps, size_t chunk = 2) {
  for (size_t i = 0; i < ps.size(); i += chunk) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    for (auto j = i; j < ps.size() && j < i + chunk; ++j) {
      keys.push_back(ps[j].first);
      values.push_back(ps[j].second);
    }
    if (auto err = inst.write(keys, values))
      CAF_FAIL("install write failed: " << context_of(err));
  }
}

/// Every pair of `s`, through a reader.
pairs contents(kv_store& s) {
  auto r = s.read_snapshot();
  if (!r)
    CAF_FAIL("read_snapshot failed: " << context_of(r.error()));
  pairs result;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  auto done = (*r)->read(1 << 30, keys, values);
  CAF_REQUIRE(done && *done);
  for (size_t i = 0; i < keys.size(); ++i)
    result.emplace_back(keys[i], values[i]);
  return result;
}

/// The value of `key`, or "<absent>"/"<error>".
std::string value_of(kv_store& s, const std::string& key) {
  auto v = s.get(key);
  if (!v)
    return "<error>";
  return v->has_value() ? **v : "<absent>";
}

void apply_ok(kv_store& s, const std::vector<log_entry>& es) {
  auto r = s.apply(es);
  if (!r)
    CAF_FAIL("apply failed: " << context_of(r.error()));
}

/// The kv directories in `path`, sorted.
std::vector<std::string> kv_dirs(const std::string& path) {
  std::vector<std::string> result;
  for (auto& e : fs::directory_iterator(path)) {
    auto n = e.path().filename().string();
    if (e.is_directory() && n.compare(0, 2, "kv") == 0)
      result.push_back(n);
  }
  std::sort(result.begin(), result.end());
  return result;
}

using names = std::vector<std::string>;

const pairs leader_pairs{{"", "empty key"},
                         {"a", "1"},
                         {std::string("b\0", 2), all_bytes()},
                         {"c", ""},
                         {"z", "26"}};

const snapshot_meta leader_meta{10, 3, 7, "members"};

/// Opens a fresh data directory at `path` with keys old1..old3 applied.
data_dir make_dir(const std::string& path) {
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  apply_ok(*d->kv, {put(1, "old1", "x"), put(2, "old2", "y"),
                    put(3, "old3", "z")});
  return std::move(*d);
}

/// A kv_store that forwards to a shared one: what a memory switch hands
/// back to the state machine.
class shared_kv final : public kv_store {
public:
  explicit shared_kv(std::shared_ptr<kv_store> s) : s_(std::move(s)) {
    // nop
  }
  uint64_t applied_index() const override {
    return s_->applied_index();
  }
  caf::expected<std::optional<std::string>>
  get(const std::string& key) override {
    return s_->get(key);
  }
  caf::expected<apply_result>
  apply(const std::vector<log_entry>& entries) override {
    return s_->apply(entries);
  }
  snapshot_meta meta() const override {
    return s_->meta();
  }
  snapshot_meta durable() const override {
    return s_->durable();
  }
  caf::error sync() override {
    return s_->sync();
  }
  caf::expected<std::unique_ptr<snapshot_reader>> read_snapshot() override {
    return s_->read_snapshot();
  }

private:
  std::shared_ptr<kv_store> s_;
};

} // namespace

CAF_TEST(the digest is FNV-1a over length-prefixed pairs) {
  snapshot_digest d;
  CAF_CHECK_EQUAL(d.count(), 0u);
  CAF_CHECK_EQUAL(d.value(), reference_fnv(""));
  d.add("ab", "xyz");
  CAF_CHECK_EQUAL(d.count(), 1u);
  CAF_CHECK_EQUAL(d.value(), reference_fnv(std::string("\x02"
                                                       "ab\x03xyz")));
  // A 200-byte value: its length takes a two-byte varint.
  std::string big(200, 'v');
  d.add("", big);
  CAF_CHECK_EQUAL(d.value(),
                  reference_fnv(std::string("\x02"
                                            "ab\x03xyz\x00\xc8\x01",
                                            10)
                                + big));
  // Moving a byte from the key to the value changes the digest.
  CAF_CHECK_NOT_EQUAL(digest_of({{"ab", "c"}}).value(),
                      digest_of({{"a", "bc"}}).value());
  // Order matters; a lost or repeated pair shows.
  CAF_CHECK_NOT_EQUAL(digest_of({{"a", "1"}, {"b", "2"}}).value(),
                      digest_of({{"b", "2"}, {"a", "1"}}).value());
  CAF_CHECK_NOT_EQUAL(digest_of({{"a", "1"}, {"a", "1"}}).value(),
                      digest_of({{"a", "1"}}).value());
  // Resuming a saved digest continues it exactly.
  auto first = digest_of({{"a", "1"}});
  auto resumed = snapshot_digest::resume(first.count(), first.value());
  resumed.add("b", "2");
  auto whole = digest_of({{"a", "1"}, {"b", "2"}});
  CAF_CHECK_EQUAL(resumed.count(), whole.count());
  CAF_CHECK_EQUAL(resumed.value(), whole.value());
}

CAF_TEST(an install switches to the new state and a reopen finds it) {
  temp_dir tmp;
  auto path = tmp.sub("data");
  {
    auto d = make_dir(path);
    auto inst = begin_kv_install(path, leader_meta);
    CAF_REQUIRE(inst);
    CAF_CHECK((*inst)->meta() == leader_meta);
    write_all(**inst, leader_pairs);
    CAF_CHECK_EQUAL((*inst)->digest().count(), leader_pairs.size());
    // Until the switch, the live store is untouched.
    CAF_CHECK_EQUAL(d.kv->applied_index(), 3u);
    CAF_CHECK(!fs::exists(path + "/kv-current"));
    auto want = digest_of(leader_pairs);
    auto s = (*inst)->finish(want.count(), want.value());
    CAF_REQUIRE(s);
    CAF_CHECK_EQUAL(read_file(path + "/kv-current"), "kv.1");
    CAF_CHECK_EQUAL((*s)->applied_index(), 10u);
    CAF_CHECK((*s)->meta() == leader_meta);
    CAF_CHECK((*s)->durable() == leader_meta);
    CAF_CHECK(contents(**s) == leader_pairs);
    d.kv = std::move(*s);
    (*inst)->discard_old();
    inst->reset();
    CAF_CHECK(kv_dirs(path) == (names{"kv.1"}));
    // The new store applies from the snapshot on.
    apply_ok(*d.kv, {put(11, "new", "11", 4)});
    CAF_CHECK(!d.kv->sync());
  }
  {
    auto d = open_data_dir(path);
    CAF_REQUIRE(d);
    CAF_CHECK_EQUAL(d->kv->applied_index(), 11u);
    CAF_CHECK((d->kv->meta() == snapshot_meta{11, 4, 7, "members"}));
    auto got = contents(*d->kv);
    CAF_CHECK_EQUAL(got.size(), leader_pairs.size() + 1);
    CAF_CHECK_EQUAL(value_of(*d->kv, "old1"), "<absent>");
    CAF_CHECK_EQUAL(value_of(*d->kv, "new"), "11");
    // reopen_kv follows kv-current as well.
    d->kv.reset();
    auto again = reopen_kv(path);
    CAF_REQUIRE(again);
    CAF_CHECK_EQUAL((*again)->applied_index(), 11u);
    d->kv = std::move(*again);
    // A second install goes to kv.2 and removes kv.1.
    auto inst = begin_kv_install(path, snapshot_meta{20, 5, 7, "members"});
    CAF_REQUIRE(inst);
    write_all(**inst, {{"only", "one"}}, 1);
    auto s = (*inst)->finish(1, digest_of({{"only", "one"}}).value());
    CAF_REQUIRE(s);
    d->kv = std::move(*s);
    (*inst)->discard_old();
    CAF_CHECK(kv_dirs(path) == (names{"kv.2"}));
    CAF_CHECK_EQUAL(read_file(path + "/kv-current"), "kv.2");
  }
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  CAF_CHECK_EQUAL(d->kv->applied_index(), 20u);
  CAF_CHECK(contents(*d->kv) == (pairs{{"only", "one"}}));
}

CAF_TEST(wrong totals void the install and leave the live store) {
  temp_dir tmp;
  auto path = tmp.sub("data");
  auto d = make_dir(path);
  auto want = digest_of(leader_pairs);
  for (auto [count, checksum] :
       {std::pair{want.count() + 1, want.value()},
        std::pair{want.count(), want.value() ^ 1},
        std::pair{want.count() - 1, want.value()}}) {
    auto inst = begin_kv_install(path, leader_meta);
    CAF_REQUIRE(inst);
    write_all(**inst, leader_pairs);
    auto s = (*inst)->finish(count, checksum);
    CAF_REQUIRE(!s);
    CAF_CHECK(is(s.error(), errc::corrupt_data));
    CAF_MESSAGE("error: " << context_of(s.error()));
    // Void: it takes nothing more.
    CAF_CHECK((*inst)->write({"zz"}, {"1"}));
    CAF_CHECK(!(*inst)->finish(want.count(), want.value()));
    CAF_CHECK(!fs::exists(path + "/kv-current"));
    CAF_CHECK(kv_dirs(path) == (names{"kv", "kv.1"}));
    inst->reset(); // dropping it removes what it wrote
    CAF_CHECK(kv_dirs(path) == (names{"kv"}));
    CAF_CHECK_EQUAL(d.kv->applied_index(), 3u);
    CAF_CHECK_EQUAL(value_of(*d.kv, "old1"), "x");
  }
}

CAF_TEST(keys that do not ascend are refused and nothing is written) {
  temp_dir tmp;
  auto path = tmp.sub("data");
  auto d = make_dir(path);
  auto inst = begin_kv_install(path, leader_meta);
  CAF_REQUIRE(inst);
  auto& i = **inst;
  CAF_CHECK(is(i.write({"b", "a"}, {"1", "2"}), errc::bad_request));
  CAF_CHECK(is(i.write({"a", "a"}, {"1", "2"}), errc::bad_request));
  CAF_CHECK(is(i.write({"a"}, {"1", "2"}), errc::bad_request));
  CAF_CHECK_EQUAL(i.digest().count(), 0u);
  CAF_CHECK(!i.write({"", "m"}, {"0", "1"}));
  // Past every key written before, across chunks.
  CAF_CHECK(is(i.write({"m"}, {"again"}), errc::bad_request));
  CAF_CHECK(is(i.write({"n", "b"}, {"1", "2"}), errc::bad_request));
  CAF_CHECK(is(i.write({""}, {"again"}), errc::bad_request));
  CAF_CHECK_EQUAL(i.digest().count(), 2u);
  CAF_CHECK(!i.write({}, {}));
  CAF_CHECK(!i.write({"n"}, {"2"}));
  auto want = digest_of({{"", "0"}, {"m", "1"}, {"n", "2"}});
  auto s = i.finish(want.count(), want.value());
  CAF_REQUIRE(s);
  CAF_CHECK(contents(**s) == (pairs{{"", "0"}, {"m", "1"}, {"n", "2"}}));
}

CAF_TEST(an install dropped before finishing leaves the old state) {
  temp_dir tmp;
  auto path = tmp.sub("data");
  {
    auto d = make_dir(path);
    {
      auto inst = begin_kv_install(path, leader_meta);
      CAF_REQUIRE(inst);
      write_all(**inst, leader_pairs);
      CAF_CHECK(kv_dirs(path) == (names{"kv", "kv.1"}));
    } // dropped: kv.1 goes
    CAF_CHECK(kv_dirs(path) == (names{"kv"}));
  }
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  CAF_CHECK_EQUAL(d->kv->applied_index(), 3u);
}

CAF_TEST(open removes kv directories that kv-current does not name) {
  temp_dir tmp;
  auto path = tmp.sub("data");
  { // A crash in the middle of an install: kv.4 half written, no switch.
    auto d = make_dir(path);
    auto half = open_leveldb_kv_store(path + "/kv.4", true);
    CAF_REQUIRE(half);
    apply_ok(**half, {put(1, "half", "written")});
    write_file(path + "/kv-current.tmp", "kv.4");
  }
  {
    auto d = open_data_dir(path);
    CAF_REQUIRE(d);
    CAF_CHECK(kv_dirs(path) == (names{"kv"}));
    CAF_CHECK(!fs::exists(path + "/kv-current.tmp"));
    CAF_CHECK_EQUAL(d->kv->applied_index(), 3u);
    // The next install takes kv.1 again; a crash after the switch, before
    // discard_old: kv is left beside kv.1.
    auto inst = begin_kv_install(path, leader_meta);
    CAF_REQUIRE(inst);
    CAF_CHECK(kv_dirs(path) == (names{"kv", "kv.1"}));
    write_all(**inst, leader_pairs);
    auto want = digest_of(leader_pairs);
    auto s = (*inst)->finish(want.count(), want.value());
    CAF_REQUIRE(s);
    d->kv = std::move(*s);
  }
  // An unrelated directory is not ours to remove.
  fs::create_directory(path + "/kv.old-notes");
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  CAF_CHECK(kv_dirs(path) == (names{"kv.1", "kv.old-notes"}));
  CAF_CHECK_EQUAL(d->kv->applied_index(), 10u);
  CAF_CHECK(contents(*d->kv) == leader_pairs);
}

CAF_TEST(a kv-current that names no kv directory is corrupt_data) {
  temp_dir tmp;
  auto path = tmp.sub("data");
  { auto d = make_dir(path); }
  auto refused = [&](const std::string& current, const std::string& text) {
    write_file(path + "/kv-current", current);
    auto d = open_data_dir(path);
    if (d) {
      CAF_MESSAGE("opened with kv-current \"" << current << "\"");
      return false;
    }
    CAF_MESSAGE("error: " << context_of(d.error()));
    return is(d.error(), errc::corrupt_data)
           && context_of(d.error()).find(text) != std::string::npos
           && is(reopen_kv(path).error(), errc::corrupt_data);
  };
  CAF_CHECK(refused("kv.7", "kv.7"));
  CAF_CHECK(refused("kv.1\n", "kv.<digits>"));
  CAF_CHECK(refused("log", "kv.<digits>"));
  CAF_CHECK(refused("../kv", "kv.<digits>"));
  CAF_CHECK(refused("kv.", "kv.<digits>"));
  CAF_CHECK(refused("", "kv.<digits>"));
  // Nothing was removed on the way.
  CAF_CHECK(kv_dirs(path) == (names{"kv"}));
  write_file(path + "/kv-current", "kv");
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  CAF_CHECK_EQUAL(d->kv->applied_index(), 3u);
}

CAF_TEST(a memory install switches through its callback) {
  auto live = make_memory_kv_store();
  apply_ok(*live, {put(1, "old", "x")});
  std::shared_ptr<kv_store> switched;
  auto sw = [&](std::shared_ptr<kv_store> s) -> std::unique_ptr<kv_store> {
    switched = s;
    return std::make_unique<shared_kv>(std::move(s));
  };
  { // Wrong totals: no switch.
    auto inst = make_memory_kv_install(leader_meta, sw);
    write_all(*inst, leader_pairs);
    CAF_CHECK(is(inst->write({"a"}, {"again"}), errc::bad_request));
    auto s = inst->finish(leader_pairs.size(), 42);
    CAF_REQUIRE(!s);
    CAF_CHECK(is(s.error(), errc::corrupt_data));
    CAF_CHECK(switched == nullptr);
  }
  auto inst = make_memory_kv_install(leader_meta, sw);
  CAF_CHECK(inst->meta() == leader_meta);
  write_all(*inst, leader_pairs, 3);
  auto want = digest_of(leader_pairs);
  CAF_CHECK_EQUAL(inst->digest().value(), want.value());
  auto s = inst->finish(want.count(), want.value());
  CAF_REQUIRE(s);
  CAF_REQUIRE(switched != nullptr);
  inst->discard_old();
  live = std::move(*s);
  CAF_CHECK_EQUAL(live->applied_index(), 10u);
  CAF_CHECK(live->meta() == leader_meta);
  CAF_CHECK(live->durable() == leader_meta);
  CAF_CHECK(contents(*live) == leader_pairs);
  CAF_CHECK_EQUAL(value_of(*live, "old"), "<absent>");
  apply_ok(*live, {put(11, "new", "11", 4)});
  CAF_CHECK_EQUAL(switched->applied_index(), 11u);
}

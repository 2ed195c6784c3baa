#define CAF_SUITE storage.codec
#include <caf/test/unit_test.hpp>

#include <limits>
#include <random>

#include "storage/codec.hpp"
#include "tests/storage_test_util.hpp"

using namespace raftd;
using namespace raftd::test;

namespace {

constexpr auto u64_max = std::numeric_limits<uint64_t>::max();

bool roundtrips(const log_entry& e) {
  auto decoded = codec::decode_log_entry(e.index, codec::encode_log_entry(e));
  return decoded && *decoded == e;
}

bool rejected(const caf::expected<log_entry>& x) {
  return !x && is(x.error(), errc::corrupt_data);
}

std::string bytes(std::initializer_list<int> xs) {
  std::string s;
  for (auto x : xs)
    s.push_back(static_cast<char>(x));
  return s;
}

} // namespace

CAF_TEST(varints round trip and reject truncated or overlong input) {
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                     uint64_t{300}, uint64_t{1} << 35, uint64_t{1} << 63,
                     u64_max}) {
    std::string buf;
    codec::put_varint(buf, x);
    buf += "rest";
    std::string_view in = buf;
    uint64_t y = 0;
    CAF_CHECK(codec::get_varint(in, y));
    CAF_CHECK_EQUAL(x, y);
    CAF_CHECK(in == "rest");
  }
  std::string max;
  codec::put_varint(max, u64_max);
  CAF_CHECK_EQUAL(max.size(), 10u);
  uint64_t y = 0;
  std::string_view in;
  CAF_CHECK(!codec::get_varint(in, y)); // empty
  auto truncated = bytes({0x80, 0x80});
  in = truncated;
  CAF_CHECK(!codec::get_varint(in, y));
  auto overflow = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0x02}); // 10th byte may only hold bit 63
  in = overflow;
  CAF_CHECK(!codec::get_varint(in, y));
  auto overlong = std::string(10, '\x80') + '\x00';
  in = overlong;
  CAF_CHECK(!codec::get_varint(in, y));
}

CAF_TEST(log keys sort in index order) {
  std::vector<uint64_t> xs{0, 1, 2, 255, 256, 65535, 65536, uint64_t{1} << 40,
                           u64_max};
  for (size_t i = 1; i < xs.size(); ++i)
    CAF_CHECK_LESS(codec::log_key(xs[i - 1]), codec::log_key(xs[i]));
  for (auto x : xs) {
    auto key = codec::log_key(x);
    CAF_CHECK_EQUAL(key.size(), 9u);
    CAF_CHECK(codec::is_log_key(key));
    CAF_CHECK_LESS(key, codec::log_key_end());
    auto back = codec::decode_log_key(key);
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(*back, x);
  }
  CAF_CHECK(!codec::decode_log_key("e1234567"));    // 8 bytes
  CAF_CHECK(!codec::decode_log_key("e123456789"));  // 10 bytes
  CAF_CHECK(!codec::decode_log_key("x12345678"));   // other prefix
  CAF_CHECK(!codec::decode_log_key(""));
  CAF_CHECK(!codec::is_log_key(codec::hard_state_key()));
  CAF_CHECK(!codec::is_log_key(codec::format_version_key()));
}

CAF_TEST(log entries round trip with binary keys and values) {
  auto nul = std::string("a\0b", 3);
  CAF_CHECK(roundtrips(entry(1, 1, entry_kind::noop)));
  CAF_CHECK(roundtrips(entry(2, 7, entry_kind::put, nul, nul + nul)));
  CAF_CHECK(roundtrips(entry(3, u64_max, entry_kind::del, all_bytes())));
  CAF_CHECK(roundtrips(entry(u64_max, 1, entry_kind::config, "",
                             all_bytes() + all_bytes())));
  CAF_CHECK(roundtrips(entry(5, 2, entry_kind::put, "", "")));
  CAF_CHECK(roundtrips(entry(6, 2, entry_kind::put, std::string(300, 'k'),
                             std::string(1 << 20, '\0'))));
  // The index lives in the key, not in the value.
  auto e = entry(9, 3, entry_kind::put, "k", "v");
  auto decoded = codec::decode_log_entry(10, codec::encode_log_entry(e));
  CAF_REQUIRE(decoded);
  CAF_CHECK_EQUAL(decoded->index, 10u);
  CAF_CHECK_EQUAL(decoded->key, "k");
}

CAF_TEST(garbage log entries are rejected) {
  auto good = codec::encode_log_entry(
    entry(4, 300, entry_kind::put, "key", ""));
  CAF_CHECK(rejected(codec::decode_log_entry(4, "")));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({1}))));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({1, 0x80}))));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({1, 5}))));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({1, 5, 2}))));
  // Unknown version, unknown kind, key longer than the record.
  auto bad_version = good;
  bad_version[0] = 2;
  CAF_CHECK(rejected(codec::decode_log_entry(4, bad_version)));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({0, 1, 1, 0}))));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({1, 1, 4, 0}))));
  CAF_CHECK(rejected(codec::decode_log_entry(4, bytes({1, 1, 0xff, 0}))));
  auto short_key = bytes({1, 1, 1, 4, 'a', 'b'});
  CAF_CHECK(rejected(codec::decode_log_entry(4, short_key)));
  auto huge_key = bytes({1, 1, 1});
  codec::put_varint(huge_key, u64_max);
  CAF_CHECK(rejected(codec::decode_log_entry(4, huge_key)));
  // Every strict prefix of a record without a value is cut inside the
  // header or the key.
  for (size_t n = 0; n < good.size(); ++n)
    CAF_CHECK(rejected(codec::decode_log_entry(4, good.substr(0, n))));
  auto err = codec::decode_log_entry(4, bad_version).error();
  CAF_CHECK_NOT_EQUAL(context_of(err).find("version"), std::string::npos);
}

CAF_TEST(random bytes never crash the decoders) {
  std::minstd_rand rng{42};
  std::uniform_int_distribution<int> byte{0, 255};
  std::uniform_int_distribution<int> len{0, 24};
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    for (int i = len(rng); i > 0; --i)
      s.push_back(static_cast<char>(byte(rng)));
    if (codec::decode_log_entry(1, s))
      ++accepted;
    static_cast<void>(codec::decode_hard_state(s));
    static_cast<void>(codec::decode_applied_index(s));
    static_cast<void>(codec::decode_log_key(s));
    static_cast<void>(codec::decode_kv_key(s));
    static_cast<void>(codec::check_format_version(s));
  }
  // Only records that start with the version byte can be accepted.
  CAF_CHECK_LESS(accepted, 20000u / 100);
}

CAF_TEST(hard state round trips and rejects garbage) {
  for (auto hs : {hard_state{}, hard_state{5, "abcdef0"},
                  hard_state{u64_max, all_bytes()}}) {
    auto decoded = codec::decode_hard_state(codec::encode_hard_state(hs));
    CAF_REQUIRE(decoded);
    CAF_CHECK(*decoded == hs);
  }
  CAF_CHECK(!codec::decode_hard_state(""));
  CAF_CHECK(!codec::decode_hard_state(bytes({1})));
  CAF_CHECK(!codec::decode_hard_state(bytes({1, 0x80})));
  CAF_CHECK(!codec::decode_hard_state(bytes({9, 1})));
  auto err = codec::decode_hard_state(bytes({9, 1})).error();
  CAF_CHECK(is(err, errc::corrupt_data));
}

CAF_TEST(kv keys and the applied index round trip) {
  for (std::string k : {std::string{}, std::string("a\0b", 3), all_bytes()}) {
    auto key = codec::kv_key(k);
    CAF_CHECK_EQUAL(key.size(), k.size() + 1);
    auto back = codec::decode_kv_key(key);
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(*back, k);
  }
  CAF_CHECK(!codec::decode_kv_key(""));
  CAF_CHECK(!codec::decode_kv_key("ekey"));
  // User keys never collide with the applied index or the version.
  CAF_CHECK_NOT_EQUAL(codec::kv_key("a"), codec::applied_index_key());
  CAF_CHECK_NOT_EQUAL(codec::kv_key(""), codec::format_version_key());
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, u64_max}) {
    auto back = codec::decode_applied_index(codec::encode_applied_index(x));
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(*back, x);
  }
  CAF_CHECK(!codec::decode_applied_index(""));
  CAF_CHECK(!codec::decode_applied_index(std::string(7, '\0')));
  CAF_CHECK(!codec::decode_applied_index(std::string(9, '\0')));
}

CAF_TEST(format version is checked exactly) {
  CAF_CHECK(!codec::check_format_version(codec::encode_format_version()));
  CAF_CHECK(codec::check_format_version(""));
  CAF_CHECK(codec::check_format_version(bytes({2})));
  CAF_CHECK(codec::check_format_version(bytes({1, 1})));
  CAF_CHECK(is(codec::check_format_version(bytes({2})), errc::corrupt_data));
}

CAF_TEST(snapshot meta round trips and rejects truncation) {
  for (auto m : {snapshot_meta{0, 0, 0, ""},
                 snapshot_meta{7, 3, 5, all_bytes()},
                 snapshot_meta{u64_max, u64_max, u64_max, "members"}}) {
    auto bytes = codec::encode_snapshot_meta(m);
    auto back = codec::decode_snapshot_meta(m.index, bytes);
    CAF_REQUIRE(back);
    CAF_CHECK(*back == m);
  }
  // The index is in 'a', not here.
  auto enc = codec::encode_snapshot_meta(snapshot_meta{9, 2, 4, "c"});
  auto back = codec::decode_snapshot_meta(8, enc);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->index, 8u);
  auto bad = [](const caf::expected<snapshot_meta>& x) {
    return !x && is(x.error(), errc::corrupt_data);
  };
  CAF_CHECK(bad(codec::decode_snapshot_meta(1, "")));
  CAF_CHECK(bad(codec::decode_snapshot_meta(1, bytes({0x01}))));
  CAF_CHECK(bad(codec::decode_snapshot_meta(1, bytes({0x80}))));
  CAF_CHECK(bad(codec::decode_snapshot_meta(1, bytes({0x01, 0x80}))));
  // A configuration applied after the index it is part of cannot be.
  CAF_CHECK(bad(codec::decode_snapshot_meta(3, bytes({0x01, 0x04}))));
  // The config runs to the end: no trailing bytes to reject.
  CAF_CHECK(!bad(codec::decode_snapshot_meta(3, bytes({0x01, 0x03, 0x00}))));
}

CAF_TEST(install progress round trips and rejects truncation) {
  codec::install_progress p{12, 0x0123456789abcdefull, all_bytes()};
  auto enc = codec::encode_install_progress(p);
  auto back = codec::decode_install_progress(enc);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->count, 12u);
  CAF_CHECK_EQUAL(back->checksum, p.checksum);
  CAF_CHECK_EQUAL(back->last_key, all_bytes());
  back = codec::decode_install_progress(
    codec::encode_install_progress({0, 0, ""}));
  CAF_REQUIRE(back);
  CAF_CHECK(back->last_key.empty());
  auto bad = [](const caf::expected<codec::install_progress>& x) {
    return !x && is(x.error(), errc::corrupt_data);
  };
  CAF_CHECK(bad(codec::decode_install_progress("")));
  CAF_CHECK(bad(codec::decode_install_progress(bytes({0x80}))));
  // The checksum is 8 bytes: 7 are a truncated record.
  CAF_CHECK(bad(codec::decode_install_progress(std::string(8, '\0'))));
  CAF_CHECK(!bad(codec::decode_install_progress(std::string(9, '\0'))));
}

CAF_TEST(log prefix round trips and rejects truncation and trailing bytes) {
  for (auto p : {codec::compacted_prefix{0, 0}, codec::compacted_prefix{5, 2},
                 codec::compacted_prefix{u64_max, u64_max}}) {
    auto back = codec::decode_log_prefix(codec::encode_log_prefix(p));
    CAF_REQUIRE(back);
    CAF_CHECK_EQUAL(back->index, p.index);
    CAF_CHECK_EQUAL(back->term, p.term);
  }
  auto bad = [](const caf::expected<codec::compacted_prefix>& x) {
    return !x && is(x.error(), errc::corrupt_data);
  };
  auto enc = codec::encode_log_prefix({5, 300});
  CAF_CHECK(bad(codec::decode_log_prefix("")));
  CAF_CHECK(bad(codec::decode_log_prefix(enc.substr(0, 8))));
  CAF_CHECK(bad(codec::decode_log_prefix(enc.substr(0, enc.size() - 1))));
  CAF_CHECK(bad(codec::decode_log_prefix(enc + "x")));
  // The new keys sort apart from the log entries and from user keys.
  CAF_CHECK(!codec::is_log_key(codec::log_prefix_key()));
  CAF_CHECK_NOT_EQUAL(codec::kv_key(""), codec::snapshot_meta_key());
  CAF_CHECK_NOT_EQUAL(codec::kv_key(""), codec::install_progress_key());
}

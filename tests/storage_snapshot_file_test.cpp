#define CAF_SUITE storage.snapshot_file
#include <caf/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "messages/errors.hpp"
#include "storage/snapshot_file.hpp"

using namespace raftd;

namespace {

struct pairs {
  std::vector<std::string> keys;
  std::vector<std::string> values;
};

snapshot_meta sample_meta() {
  return snapshot_meta{42, 7, 40, std::string("members\0x", 9)};
}

/// A small file: the header, two chunks of pairs (binary keys and values,
/// an empty value) and the end.
std::string sample_file() {
  snapshot_file_writer w;
  auto out = w.begin(sample_meta());
  w.append({"a", std::string("b\0", 2)}, {"1", ""}, out);
  w.append({"c"}, {std::string("\xff\x00v", 3)}, out);
  out += w.finish();
  return out;
}

/// Reads `bytes` whole in small chunks (so chunking is exercised).
caf::expected<pairs> read_all(const std::string& bytes,
                              snapshot_meta* meta = nullptr) {
  std::istringstream in{bytes};
  snapshot_file_reader r{in, bytes.size()};
  if (auto err = r.open())
    return err;
  if (meta)
    *meta = r.meta();
  pairs p;
  for (;;) {
    auto done = r.read(2, p.keys, p.values);
    if (!done)
      return done.error();
    if (*done)
      return p;
  }
}

bool refused(const caf::expected<pairs>& x) {
  return !x && is(x.error(), errc::corrupt_data);
}

} // namespace

CAF_TEST(a written file reads back the same meta and pairs) {
  snapshot_meta meta;
  auto p = read_all(sample_file(), &meta);
  CAF_REQUIRE(p);
  CAF_CHECK(meta == sample_meta());
  CAF_CHECK_EQUAL(p->keys, (std::vector<std::string>{"a", {"b\0", 2}, "c"}));
  CAF_CHECK_EQUAL(p->values,
                  (std::vector<std::string>{"1", "", {"\xff\x00v", 3}}));
}

CAF_TEST(the trailer carries the same digest as kv_install checks) {
  snapshot_file_writer w;
  auto out = w.begin(sample_meta());
  w.append({"a", "b"}, {"1", "2"}, out);
  snapshot_digest d;
  d.add("a", "1");
  d.add("b", "2");
  CAF_CHECK_EQUAL(w.digest().count(), 2u);
  CAF_CHECK_EQUAL(w.digest().value(), d.value());
}

CAF_TEST(an empty snapshot is a valid file) {
  snapshot_file_writer w;
  auto file = w.begin(snapshot_meta{});
  file += w.finish();
  auto p = read_all(file);
  CAF_REQUIRE(p);
  CAF_CHECK(p->keys.empty());
}

CAF_TEST(truncation at every byte is refused) {
  auto file = sample_file();
  for (size_t n = 0; n < file.size(); ++n) {
    auto r = read_all(file.substr(0, n));
    CAF_CHECK(refused(r));
    if (!refused(r))
      CAF_MESSAGE("truncated to " << n << " bytes was accepted");
  }
}

CAF_TEST(every flipped byte is refused) {
  auto file = sample_file();
  for (size_t i = 0; i < file.size(); ++i)
    for (int bit : {0x01, 0x80, 0xff}) {
      auto bad = file;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      auto r = read_all(bad);
      CAF_CHECK(refused(r));
      if (!refused(r))
        CAF_MESSAGE("byte " << i << " ^ " << bit << " was accepted");
    }
}

CAF_TEST(trailing bytes are refused and say where) {
  auto file = sample_file();
  auto r = read_all(file + "x");
  CAF_REQUIRE(refused(r));
  CAF_CHECK_EQUAL(context_of(r.error()),
                  "snapshot file: bytes after the end record (at byte "
                    + std::to_string(file.size()) + " of "
                    + std::to_string(file.size() + 1) + ")");
}

CAF_TEST(keys out of order are refused even with matching checksums) {
  snapshot_file_writer w;
  auto out = w.begin(sample_meta());
  w.append({"b", "a"}, {"1", "2"}, out); // the writer trusts its caller
  out += w.finish();
  auto r = read_all(out);
  CAF_REQUIRE(refused(r));
  CAF_CHECK(context_of(r.error()).find("keys out of order")
            != std::string::npos);
}

CAF_TEST(other files are refused as such) {
  auto r = read_all("hello world, not a snapshot at all");
  CAF_REQUIRE(refused(r));
  CAF_CHECK(context_of(r.error()).find("not a raftd snapshot file")
            != std::string::npos);
  auto v = sample_file();
  v[8] = 2; // a newer version
  r = read_all(v);
  CAF_REQUIRE(refused(r));
  CAF_CHECK(context_of(r.error()).find("unknown format version 2")
            != std::string::npos);
}

CAF_TEST(verify_snapshot_file checks a whole file on disk) {
  auto path = std::string{"/tmp/raftd-snapshot-file-test-"}
              + std::to_string(::getpid());
  auto file = sample_file();
  {
    std::ofstream out{path, std::ios::binary};
    out << file;
  }
  auto s = verify_snapshot_file(path);
  CAF_REQUIRE(s);
  CAF_CHECK(s->meta == sample_meta());
  CAF_CHECK_EQUAL(s->count, 3u);
  CAF_CHECK_EQUAL(s->bytes, file.size());
  {
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out << file.substr(0, file.size() - 1);
  }
  s = verify_snapshot_file(path);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), errc::corrupt_data));
  CAF_CHECK(context_of(s.error()).find(path) == 0);
  std::remove(path.c_str());
  s = verify_snapshot_file(path);
  CAF_REQUIRE(!s);
  CAF_CHECK(is(s.error(), errc::storage_failed));
}

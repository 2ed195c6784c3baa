// Fuzzes every decoder in storage/codec.hpp on the same bytes, as if they
// were a record read back from LevelDB (a torn or corrupted disk).
//
//   input := record (any bytes)
//
// Asserted: no crash or UB, and no read past the record (each decoder gets
// an exact-size heap copy, so ASan sees one); a failure is corrupt_data; a
// success round trips: decode(encode(x)) is x, and encode(x) is no longer
// than the record (the encoders write the shortest form). Fixed-size
// records (keys, be64, the version byte) re-encode to exactly the record.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "messages/errors.hpp"
#include "raft/check.hpp"
#include "storage/codec.hpp"

using namespace raftd;
using namespace raftd::codec;

namespace {

/// The record in a heap block of exactly its size.
struct exact {
  std::unique_ptr<char[]> buf;
  std::string_view view;
  exact(const uint8_t* data, size_t size) : buf(new char[size]) {
    std::copy(data, data + size, buf.get());
    view = {buf.get(), size};
  }
};

template <class T>
void check_failure(const caf::expected<T>& x, const char* what) {
  RAFTD_CHECK(is(x.error(), errc::corrupt_data),
              std::string{what} + ": not corrupt_data");
}

void check_primitives(std::string_view in) {
  auto v = in;
  uint64_t x = 0;
  if (get_varint(v, x)) {
    auto used = in.size() - v.size();
    std::string enc;
    put_varint(enc, x);
    RAFTD_CHECK(used >= 1 && used <= 10 && enc.size() <= used,
                "varint of " + std::to_string(used) + " bytes");
    std::string_view e = enc;
    uint64_t y = 0;
    RAFTD_CHECK(get_varint(e, y) && y == x && e.empty(), "varint round trip");
  }
  v = in;
  RAFTD_CHECK(get_be64(v, x) == (in.size() >= 8), "be64 length");
  if (in.size() >= 8) {
    std::string enc;
    put_be64(enc, x);
    RAFTD_CHECK(enc == in.substr(0, 8) && v.size() == in.size() - 8,
                "be64 round trip");
  }
}

void check_log(std::string_view in) {
  if (auto k = decode_log_key(in))
    RAFTD_CHECK(log_key(*k) == in && is_log_key(in), "log key round trip");
  else
    check_failure(k, "log key");
  if (auto e = decode_log_entry(42, in)) {
    auto enc = encode_log_entry(*e);
    RAFTD_CHECK(e->index == 42 && enc.size() <= in.size(), "log entry size");
    auto back = decode_log_entry(42, enc);
    RAFTD_CHECK(back && *back == *e, "log entry round trip");
  } else {
    check_failure(e, "log entry");
  }
  if (auto hs = decode_hard_state(in)) {
    auto enc = encode_hard_state(*hs);
    RAFTD_CHECK(enc.size() <= in.size(), "hard state size");
    auto back = decode_hard_state(enc);
    RAFTD_CHECK(back && *back == *hs, "hard state round trip");
  } else {
    check_failure(hs, "hard state");
  }
  if (auto p = decode_log_prefix(in)) {
    auto enc = encode_log_prefix(*p);
    RAFTD_CHECK(enc.size() <= in.size(), "log prefix size");
    auto back = decode_log_prefix(enc);
    RAFTD_CHECK(back && back->index == p->index && back->term == p->term,
                "log prefix round trip");
  } else {
    check_failure(p, "log prefix");
  }
}

void check_kv(std::string_view in) {
  auto err = check_format_version(in);
  RAFTD_CHECK(!err == (in == encode_format_version()), "format version");
  if (err)
    RAFTD_CHECK(is(err, errc::corrupt_data), "version: not corrupt_data");
  if (auto k = decode_kv_key(in))
    RAFTD_CHECK(kv_key(*k) == in, "kv key round trip");
  else
    check_failure(k, "kv key");
  if (auto a = decode_applied_index(in))
    RAFTD_CHECK(encode_applied_index(*a) == in, "applied index round trip");
  else
    check_failure(a, "applied index");
  if (auto m = decode_snapshot_meta(42, in)) {
    auto enc = encode_snapshot_meta(*m);
    RAFTD_CHECK(m->index == 42 && enc.size() <= in.size(), "meta size");
    auto back = decode_snapshot_meta(42, enc);
    RAFTD_CHECK(back && *back == *m, "snapshot meta round trip");
  } else {
    check_failure(m, "snapshot meta");
  }
  if (auto p = decode_install_progress(in)) {
    auto enc = encode_install_progress(*p);
    RAFTD_CHECK(enc.size() <= in.size(), "install progress size");
    auto back = decode_install_progress(enc);
    RAFTD_CHECK(back && back->count == p->count
                  && back->checksum == p->checksum
                  && back->last_key == p->last_key,
                "install progress round trip");
  } else {
    check_failure(p, "install progress");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exact rec{data, size};
  check_primitives(rec.view);
  check_log(rec.view);
  check_kv(rec.view);
  return 0;
}

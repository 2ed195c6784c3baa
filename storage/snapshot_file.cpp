//   file    = header pair* end
//   header  = magic:"raftdsnp" version:u8 index:be64 term:be64
//             config_index:be64 config_len:varint config
//   pair    = 'p' key_len:varint key value_len:varint value
//   end     = 'e' count:be64 pair_checksum:be64 file_checksum:be64

#include "storage/snapshot_file.hpp"

#include <fstream>

#include "messages/errors.hpp"
#include "storage/codec.hpp"

namespace raftd {

namespace {

constexpr std::string_view magic = "raftdsnp";
constexpr char pair_tag = 'p';
constexpr char end_tag = 'e';
constexpr uint64_t fnv_prime = 1099511628211ull;

/// Bytes a reader pulls from the file at a time while verifying it.
constexpr size_t verify_chunk_bytes = 1 << 20;

void fnv1a(uint64_t& h, const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(data[i]);
    h *= fnv_prime;
  }
}

} // namespace

// -- writer -------------------------------------------------------------------

void snapshot_file_writer::emit(std::string& out, size_t from) {
  fnv1a(file_hash_, out.data() + from, out.size() - from);
}

std::string snapshot_file_writer::begin(const snapshot_meta& meta) {
  std::string out{magic};
  out.push_back(static_cast<char>(snapshot_file_version));
  codec::put_be64(out, meta.index);
  codec::put_be64(out, meta.term);
  codec::put_be64(out, meta.config_index);
  codec::put_varint(out, meta.config.size());
  out += meta.config;
  emit(out, 0);
  return out;
}

void snapshot_file_writer::append(const std::vector<std::string>& keys,
                                  const std::vector<std::string>& values,
                                  std::string& out) {
  auto from = out.size();
  for (size_t i = 0; i < keys.size(); ++i) {
    out.push_back(pair_tag);
    codec::put_varint(out, keys[i].size());
    out += keys[i];
    codec::put_varint(out, values[i].size());
    out += values[i];
    digest_.add(keys[i], values[i]);
  }
  emit(out, from);
}

std::string snapshot_file_writer::finish() {
  std::string out(1, end_tag);
  codec::put_be64(out, digest_.count());
  codec::put_be64(out, digest_.value());
  emit(out, 0);
  codec::put_be64(out, file_hash_);
  return out;
}

// -- reader -------------------------------------------------------------------

snapshot_file_reader::snapshot_file_reader(std::istream& in, uint64_t size)
  : in_(in), size_(size) {
}

caf::error snapshot_file_reader::corrupt(const std::string& what,
                                         uint64_t at) const {
  return make_error(errc::corrupt_data,
                    "snapshot file: " + what + " (at byte "
                      + std::to_string(at) + " of " + std::to_string(size_)
                      + ")");
}

bool snapshot_file_reader::take(size_t n, std::string& out) {
  if (n > size_ - pos_)
    return false;
  out.resize(n);
  if (n > 0 && !in_.read(out.data(), static_cast<std::streamsize>(n)))
    return false;
  fnv1a(file_hash_, out.data(), n);
  pos_ += n;
  return true;
}

bool snapshot_file_reader::take_u8(uint8_t& x) {
  std::string b;
  if (!take(1, b))
    return false;
  x = static_cast<uint8_t>(b[0]);
  return true;
}

bool snapshot_file_reader::take_be64(uint64_t& x) {
  std::string b;
  if (!take(8, b))
    return false;
  std::string_view v{b};
  return codec::get_be64(v, x);
}

bool snapshot_file_reader::take_varint(uint64_t& x) {
  std::string bytes;
  uint8_t b = 0x80;
  while (b & 0x80) {
    if (bytes.size() == 10 || !take_u8(b))
      return false;
    bytes.push_back(static_cast<char>(b));
  }
  std::string_view v{bytes};
  return codec::get_varint(v, x) && v.empty();
}

caf::error snapshot_file_reader::open() {
  std::string m;
  if (!take(magic.size(), m))
    return corrupt("truncated in the header (not even the magic bytes)", pos_);
  if (m != magic)
    return corrupt("not a raftd snapshot file (bad magic bytes)", 0);
  uint8_t version = 0;
  if (!take_u8(version))
    return corrupt("truncated in the header", pos_);
  if (version != snapshot_file_version)
    return corrupt("unknown format version " + std::to_string(version), 8);
  uint64_t config_len = 0;
  if (!take_be64(meta_.index) || !take_be64(meta_.term)
      || !take_be64(meta_.config_index) || !take_varint(config_len))
    return corrupt("truncated or corrupt header", pos_);
  if (config_len > size_ - pos_ || !take(config_len, meta_.config))
    return corrupt("the header's membership runs past the end of the file",
                   pos_);
  return {};
}

caf::error snapshot_file_reader::read_pair(std::string& key,
                                           std::string& value) {
  auto at = pos_ - 1;
  uint64_t n = 0;
  if (!take_varint(n) || !take(n, key))
    return corrupt("pair: truncated or corrupt key", at);
  if (!take_varint(n) || !take(n, value))
    return corrupt("pair: truncated or corrupt value", at);
  if (digest_.count() > 0 && key <= last_key_)
    return corrupt("pair: keys out of order", at);
  last_key_ = key;
  digest_.add(key, value);
  return {};
}

caf::error snapshot_file_reader::read_end() {
  auto at = pos_ - 1;
  uint64_t count = 0;
  uint64_t checksum = 0;
  uint64_t file_checksum = 0;
  if (!take_be64(count) || !take_be64(checksum))
    return corrupt("truncated end record", at);
  auto expected = file_hash_; // over every byte before the file checksum
  if (!take_be64(file_checksum))
    return corrupt("truncated end record", at);
  if (file_checksum != expected)
    return corrupt("file checksum mismatch: the file is damaged", at);
  if (count != digest_.count() || checksum != digest_.value())
    return corrupt("the end record's count or pair checksum does not match "
                   "the pairs",
                   at);
  if (pos_ != size_)
    return corrupt("bytes after the end record", pos_);
  ended_ = true;
  return {};
}

caf::expected<bool>
snapshot_file_reader::read(size_t max_bytes, std::vector<std::string>& keys,
                           std::vector<std::string>& values) {
  size_t bytes = 0;
  while (!ended_ && bytes < max_bytes) {
    uint8_t tag = 0;
    if (!take_u8(tag))
      return corrupt("truncated: the end record is missing", pos_);
    if (tag == end_tag) {
      if (auto err = read_end())
        return err;
      break;
    }
    if (tag != pair_tag)
      return corrupt("unknown record tag " + std::to_string(tag), pos_ - 1);
    std::string k;
    std::string v;
    if (auto err = read_pair(k, v))
      return err;
    bytes += k.size() + v.size();
    keys.push_back(std::move(k));
    values.push_back(std::move(v));
  }
  return ended_;
}

snapshot_file_summary snapshot_file_reader::summary() const {
  return {meta_, digest_.count(), digest_.value(), pos_};
}

caf::expected<snapshot_file_summary>
verify_snapshot_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary | std::ios::ate};
  if (!in)
    return make_error(errc::storage_failed, "cannot open " + path);
  auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  snapshot_file_reader r{in, size};
  auto with_path = [&](const caf::error& err) {
    return make_error(static_cast<errc>(err.code()),
                      path + ": " + context_of(err));
  };
  if (auto err = r.open())
    return with_path(err);
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (;;) {
    keys.clear();
    values.clear();
    auto done = r.read(verify_chunk_bytes, keys, values);
    if (!done)
      return with_path(done.error());
    if (*done)
      return r.summary();
  }
}

} // namespace raftd

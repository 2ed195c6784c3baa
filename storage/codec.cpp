// DATA/log:  'e' index:be64 -> version:u8 term:varint kind:u8
//                              key_len:varint key value(rest)
//            'h'            -> version:u8 term:varint voted_for(rest)
//            'p'            -> prefix_index:be64 prefix_term:varint
//            'v'            -> format_version:u8
// DATA/kv:   'k' user_key   -> value (raw bytes)
//            'a'            -> applied_index:be64 (same batch as the values)
//            'm'            -> applied_term:varint config_index:varint
//                              config(rest)
//            'i'            -> count:varint checksum:be64 last_key(rest)
//            'v'            -> format_version:u8

#include "storage/codec.hpp"

#include "messages/errors.hpp"

namespace raftd::codec {

namespace {

constexpr char log_prefix = 'e';
constexpr char hard_state_tag = 'h';
constexpr char version_tag = 'v';
constexpr char kv_prefix = 'k';
constexpr char applied_tag = 'a';
constexpr char meta_tag = 'm';
constexpr char install_tag = 'i';
constexpr char prefix_tag = 'p';

/// A varint never needs more bytes than this for 64 bits.
constexpr size_t max_varint_len = 10;

caf::error corrupt(std::string what) {
  return make_error(errc::corrupt_data, std::move(what));
}

bool get_u8(std::string_view& in, uint8_t& x) {
  if (in.empty())
    return false;
  x = static_cast<uint8_t>(in.front());
  in.remove_prefix(1);
  return true;
}

/// Reads the version byte every record starts with.
caf::error get_version(std::string_view& in, const char* what) {
  uint8_t v = 0;
  if (!get_u8(in, v))
    return corrupt(std::string{what} + ": empty record");
  if (v != format_version)
    return corrupt(std::string{what} + ": unknown format version "
                   + std::to_string(v));
  return {};
}

bool valid_kind(uint8_t k) {
  return k <= static_cast<uint8_t>(entry_kind::config);
}

} // namespace

// -- primitives ---------------------------------------------------------------

void put_be64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((x >> shift) & 0xff));
}

bool get_be64(std::string_view& in, uint64_t& x) {
  if (in.size() < 8)
    return false;
  x = 0;
  for (size_t i = 0; i < 8; ++i)
    x = (x << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(8);
  return true;
}

void put_varint(std::string& out, uint64_t x) {
  while (x >= 0x80) {
    out.push_back(static_cast<char>((x & 0x7f) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

bool get_varint(std::string_view& in, uint64_t& x) {
  uint64_t result = 0;
  for (size_t i = 0; i < in.size() && i < max_varint_len; ++i) {
    auto byte = static_cast<uint8_t>(in[i]);
    // The 10th byte holds bit 63 only; anything more overflows.
    if (i == max_varint_len - 1 && byte > 1)
      return false;
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      x = result;
      in.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

// -- DATA/log -----------------------------------------------------------------

std::string log_key(uint64_t index) {
  std::string key(1, log_prefix);
  put_be64(key, index);
  return key;
}

std::string log_key_end() {
  return std::string(1, log_prefix + 1);
}

bool is_log_key(std::string_view key) {
  return !key.empty() && key.front() == log_prefix;
}

caf::expected<uint64_t> decode_log_key(std::string_view key) {
  uint64_t index = 0;
  if (!is_log_key(key) || key.size() != 9)
    return corrupt("log key of " + std::to_string(key.size())
                   + " bytes, expected 'e' + 8");
  key.remove_prefix(1);
  get_be64(key, index);
  return index;
}

std::string encode_log_entry(const log_entry& e) {
  std::string out;
  out.reserve(1 + 10 + 1 + 10 + e.key.size() + e.value.size());
  out.push_back(static_cast<char>(format_version));
  put_varint(out, e.term);
  out.push_back(static_cast<char>(e.kind));
  put_varint(out, e.key.size());
  out += e.key;
  out += e.value;
  return out;
}

caf::expected<log_entry> decode_log_entry(uint64_t index,
                                          std::string_view in) {
  auto what = "log entry " + std::to_string(index);
  if (auto err = get_version(in, what.c_str()))
    return err;
  log_entry e;
  e.index = index;
  uint8_t kind = 0;
  uint64_t key_len = 0;
  if (!get_varint(in, e.term) || !get_u8(in, kind) || !get_varint(in, key_len))
    return corrupt(what + ": truncated header");
  if (!valid_kind(kind))
    return corrupt(what + ": unknown kind " + std::to_string(kind));
  if (key_len > in.size())
    return corrupt(what + ": key length " + std::to_string(key_len)
                   + " exceeds the record");
  e.kind = static_cast<entry_kind>(kind);
  e.key.assign(in.data(), key_len);
  in.remove_prefix(key_len);
  e.value.assign(in.data(), in.size());
  return e;
}

std::string hard_state_key() {
  return std::string(1, hard_state_tag);
}

std::string encode_hard_state(const hard_state& hs) {
  std::string out;
  out.push_back(static_cast<char>(format_version));
  put_varint(out, hs.term);
  out += hs.voted_for;
  return out;
}

caf::expected<hard_state> decode_hard_state(std::string_view in) {
  if (auto err = get_version(in, "hard state"))
    return err;
  hard_state hs;
  if (!get_varint(in, hs.term))
    return corrupt("hard state: truncated term");
  hs.voted_for.assign(in.data(), in.size());
  return hs;
}

// -- both databases -----------------------------------------------------------

std::string format_version_key() {
  return std::string(1, version_tag);
}

std::string encode_format_version() {
  return std::string(1, static_cast<char>(format_version));
}

caf::error check_format_version(std::string_view in) {
  if (in.size() != 1)
    return corrupt("format version record of " + std::to_string(in.size())
                   + " bytes, expected 1");
  auto v = static_cast<uint8_t>(in.front());
  if (v != format_version)
    return corrupt("unknown format version " + std::to_string(v)
                   + " (this raftd reads version "
                   + std::to_string(format_version) + ")");
  return {};
}

// -- DATA/kv ------------------------------------------------------------------

std::string kv_key(std::string_view user_key) {
  std::string key;
  key.reserve(1 + user_key.size());
  key.push_back(kv_prefix);
  key.append(user_key.data(), user_key.size());
  return key;
}

caf::expected<std::string> decode_kv_key(std::string_view key) {
  if (key.empty() || key.front() != kv_prefix)
    return corrupt("kv key without the 'k' prefix");
  key.remove_prefix(1);
  return std::string{key};
}

std::string applied_index_key() {
  return std::string(1, applied_tag);
}

std::string encode_applied_index(uint64_t index) {
  std::string out;
  put_be64(out, index);
  return out;
}

caf::expected<uint64_t> decode_applied_index(std::string_view in) {
  uint64_t index = 0;
  if (in.size() != 8 || !get_be64(in, index))
    return corrupt("applied index of " + std::to_string(in.size())
                   + " bytes, expected 8");
  return index;
}

std::string snapshot_meta_key() {
  return std::string(1, meta_tag);
}

std::string encode_snapshot_meta(const snapshot_meta& m) {
  std::string out;
  out.reserve(20 + m.config.size());
  put_varint(out, m.term);
  put_varint(out, m.config_index);
  out += m.config;
  return out;
}

caf::expected<snapshot_meta> decode_snapshot_meta(uint64_t index,
                                                  std::string_view in) {
  snapshot_meta m;
  m.index = index;
  if (!get_varint(in, m.term) || !get_varint(in, m.config_index))
    return corrupt("snapshot meta: truncated");
  if (m.config_index > index)
    return corrupt("snapshot meta: configuration index "
                   + std::to_string(m.config_index)
                   + " past the applied index " + std::to_string(index));
  m.config.assign(in.data(), in.size());
  return m;
}

std::string install_progress_key() {
  return std::string(1, install_tag);
}

std::string encode_install_progress(const install_progress& p) {
  std::string out;
  put_varint(out, p.count);
  put_be64(out, p.checksum);
  out += p.last_key;
  return out;
}

caf::expected<install_progress>
decode_install_progress(std::string_view in) {
  install_progress p;
  if (!get_varint(in, p.count) || !get_be64(in, p.checksum))
    return corrupt("install progress: truncated");
  p.last_key.assign(in.data(), in.size());
  return p;
}

// -- DATA/log, compaction -----------------------------------------------------

std::string log_prefix_key() {
  return std::string(1, prefix_tag);
}

std::string encode_log_prefix(const compacted_prefix& p) {
  std::string out;
  put_be64(out, p.index);
  put_varint(out, p.term);
  return out;
}

caf::expected<compacted_prefix> decode_log_prefix(std::string_view in) {
  compacted_prefix p;
  if (!get_be64(in, p.index) || !get_varint(in, p.term))
    return corrupt("log prefix: truncated");
  if (!in.empty())
    return corrupt("log prefix: " + std::to_string(in.size())
                   + " trailing bytes");
  return p;
}

} // namespace raftd::codec

#pragma once
// Byte encodings of everything raftd keeps on disk. Two LevelDB databases:
//
// DATA/log:  'e' index:be64 -> version:u8 term:varint kind:u8
//                              key_len:varint key value(rest)
//            'h'            -> version:u8 term:varint voted_for(rest)
//            'p'            -> prefix_index:be64 prefix_term:varint
//                              (absent: 0, 0; entries at or below it are
//                              dead, and trim() deletes them)
//            'v'            -> format_version:u8
// DATA/kv:   'k' user_key   -> value (raw bytes)
//            'a'            -> applied_index:be64 (same batch as the values)
//            'm'            -> applied_term:varint config_index:varint
//                              config(rest): the rest of the snapshot meta,
//                              in the batch that changes it (absent, as in
//                              a database of an older raftd: 0, 0, "")
//            'i'            -> count:varint checksum:be64 last_key(rest):
//                              progress of an install not finished yet
//                              (same batch as each chunk; deleted by the
//                              batch that writes 'a' and 'm')
//            'v'            -> format_version:u8
//
// be64: 8 bytes, big-endian, so LevelDB's bytewise key order is index order.
// varint: LEB128, 7 bits a byte, least significant group first, at most 10
// bytes. Keys and values are binary-safe (any bytes, NUL included): lengths
// are explicit or the value runs to the end of the record.
//
// Encoders cannot fail. Decoders never trust their input: truncated records,
// trailing bytes, an unknown version or kind all give errc::corrupt_data with
// a context that says what was wrong; they never read out of bounds.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/types.hpp"

namespace raftd::codec {

/// Version byte in front of every log entry and hard state record, and the
/// value of the 'v' key of both databases. Bump it when a layout changes.
constexpr uint8_t format_version = 1;

// -- primitives ---------------------------------------------------------------

/// Appends `x` as 8 big-endian bytes.
void put_be64(std::string& out, uint64_t x);

/// Reads 8 big-endian bytes from the front of `in` and drops them.
bool get_be64(std::string_view& in, uint64_t& x);

/// Appends `x` as a LEB128 varint (1 to 10 bytes).
void put_varint(std::string& out, uint64_t x);

/// Reads a varint from the front of `in` and drops it. False on truncation
/// and on encodings longer than 10 bytes or overflowing 64 bits.
bool get_varint(std::string_view& in, uint64_t& x);

// -- DATA/log -----------------------------------------------------------------

/// The key of log entry `index`: 'e' followed by be64(index).
std::string log_key(uint64_t index);

/// First key past every log entry key (for a reverse seek to the last one).
std::string log_key_end();

/// True if `key` is in the log entry key space (prefix 'e').
bool is_log_key(std::string_view key);

/// The index in a log entry key; corrupt_data if it is not exactly 'e' + 8.
caf::expected<uint64_t> decode_log_key(std::string_view key);

/// The value of a log entry. The index is not stored: it is in the key.
std::string encode_log_entry(const log_entry& e);

/// Decodes the value stored under log_key(index).
caf::expected<log_entry> decode_log_entry(uint64_t index,
                                          std::string_view bytes);

/// The key of the hard state: "h".
std::string hard_state_key();

std::string encode_hard_state(const hard_state& hs);

caf::expected<hard_state> decode_hard_state(std::string_view bytes);

// -- both databases -----------------------------------------------------------

/// The key of the format version: "v".
std::string format_version_key();

/// The value of the 'v' key: one byte, `format_version`.
std::string encode_format_version();

/// Decodes a 'v' value; corrupt_data unless it is one byte equal to
/// `format_version` (so a newer layout is refused, never misread).
caf::error check_format_version(std::string_view bytes);

// -- DATA/kv ------------------------------------------------------------------

/// The key under which user key `user_key` is stored: 'k' + user_key.
std::string kv_key(std::string_view user_key);

/// The user key in a kv key; corrupt_data without the 'k' prefix.
caf::expected<std::string> decode_kv_key(std::string_view key);

/// The key of the applied index: "a".
std::string applied_index_key();

std::string encode_applied_index(uint64_t index);

caf::expected<uint64_t> decode_applied_index(std::string_view bytes);

/// The key of the snapshot meta beside the applied index: "m".
std::string snapshot_meta_key();

/// The 'm' value: `m` without its index (that is 'a').
std::string encode_snapshot_meta(const snapshot_meta& m);

/// Decodes an 'm' value; the index comes from 'a'.
caf::expected<snapshot_meta> decode_snapshot_meta(uint64_t index,
                                                  std::string_view bytes);

/// How far an unfinished install got: the digest so far and the last key
/// written (the next chunk's keys must be past it).
struct install_progress {
  uint64_t count = 0;
  uint64_t checksum = 0;
  std::string last_key;
};

/// The key of the install progress: "i".
std::string install_progress_key();

std::string encode_install_progress(const install_progress& p);

caf::expected<install_progress>
decode_install_progress(std::string_view bytes);

// -- DATA/log, compaction -----------------------------------------------------

/// The last index and term of the compacted prefix.
struct compacted_prefix {
  uint64_t index = 0;
  uint64_t term = 0;
};

/// The key of the compacted prefix: "p".
std::string log_prefix_key();

std::string encode_log_prefix(const compacted_prefix& p);

caf::expected<compacted_prefix> decode_log_prefix(std::string_view bytes);

} // namespace raftd::codec

#pragma once
// A backup: one consistent snapshot of a node's key/value state (§7) as a
// file, written by `GET /snapshot` and `raftctl snapshot save`, read by
// `raftd -restore` (README "Backup and restore"). The grammar:
//
//   file    = header pair* end
//   header  = magic:"raftdsnp" version:u8 index:be64 term:be64
//             config_index:be64 config_len:varint config
//   pair    = 'p' key_len:varint key value_len:varint value
//   end     = 'e' count:be64 pair_checksum:be64 file_checksum:be64
//
// version is 1. index and term are the last entry the state includes;
// config is the membership as of config_index (raft/membership.hpp's
// encoding). Keys are user keys (no 'k' prefix), strictly ascending; keys
// and values are any bytes. count is the number of pairs; pair_checksum is
// their snapshot_digest (storage/snapshot.hpp), the same one kv_install
// checks; file_checksum is FNV-1a (64 bit) over every byte before it,
// header included, so a flipped byte anywhere is caught (FNV-1a's steps are
// each one-to-one: a single changed byte always changes the result).
// be64 and varint are as in storage/codec.hpp. Nothing may follow `end`.
//
// The writer cannot fail. The reader never trusts its input: truncation at
// any byte, a flipped byte, keys out of order, an unknown version or bytes
// after the end give errc::corrupt_data with what was wrong and the byte
// offset where it was found.

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/types.hpp"
#include "storage/snapshot.hpp"

namespace raftd {

/// The snapshot file format version this build writes and reads.
constexpr uint8_t snapshot_file_version = 1;

/// Writes the file format as bytes, piece by piece, so a caller can stream
/// it (an HTTP body, a file) without holding the whole snapshot.
class snapshot_file_writer {
public:
  /// The header; call once, first.
  std::string begin(const snapshot_meta& meta);

  /// Appends the records of these pairs (keys ascending, past every key
  /// before) to `out`.
  void append(const std::vector<std::string>& keys,
              const std::vector<std::string>& values, std::string& out);

  /// The end record; call once, last.
  std::string finish();

  /// The pairs written so far and their checksum.
  const snapshot_digest& digest() const { return digest_; }

private:
  void emit(std::string& out, size_t from);
  snapshot_digest digest_;
  uint64_t file_hash_ = 14695981039346656037ull;
};

/// What a whole, valid file holds besides its pairs.
struct snapshot_file_summary {
  snapshot_meta meta;
  uint64_t count = 0;
  uint64_t checksum = 0; ///< pair_checksum
  uint64_t bytes = 0;
};

/// Reads a file in the format above from a stream, checking as it goes.
/// Pairs come out in chunks; `read` reports the end only once the end
/// record matched what was read and nothing follows it.
class snapshot_file_reader {
public:
  /// `in` must outlive the reader; `size` is its length in bytes (lengths
  /// in the file are checked against it before anything is allocated).
  snapshot_file_reader(std::istream& in, uint64_t size);

  /// Reads and checks the header.
  caf::error open();

  const snapshot_meta& meta() const { return meta_; }

  /// Appends the next pairs to `keys` and `values`, stopping once
  /// `max_bytes` of keys and values are in. True once the end record is
  /// read and checked (then summary() is complete).
  caf::expected<bool> read(size_t max_bytes, std::vector<std::string>& keys,
                           std::vector<std::string>& values);

  snapshot_file_summary summary() const;

private:
  caf::error corrupt(const std::string& what, uint64_t at) const;
  bool take(size_t n, std::string& out);
  bool take_u8(uint8_t& x);
  bool take_be64(uint64_t& x);
  bool take_varint(uint64_t& x);
  caf::error read_pair(std::string& key, std::string& value);
  caf::error read_end();

  std::istream& in_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t file_hash_ = 14695981039346656037ull;
  snapshot_meta meta_;
  snapshot_digest digest_;
  std::string last_key_;
  bool ended_ = false;
};

/// Opens `path` and reads the whole file, checking everything; nothing is
/// kept but the summary. errc::corrupt_data (the file's path, what and
/// where) or storage_failed (it cannot be read).
caf::expected<snapshot_file_summary>
verify_snapshot_file(const std::string& path);

} // namespace raftd

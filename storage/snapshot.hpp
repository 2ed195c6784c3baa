#pragma once
// A snapshot of the key/value state (§7, thesis ch. 5) as a stream of
// (key, value) pairs in ascending key order: read from a consistent view of
// a live store (snapshot_reader), written into a new store beside the live
// one and switched to in one atomic step (kv_install). InstallSnapshot,
// backup and restore all move snapshots this way.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/types.hpp"

namespace raftd {

class kv_store;

/// The running checksum of a snapshot stream: FNV-1a (64 bit) over each
/// pair as varint(key size) key varint(value size) value, in stream order.
/// It catches a lost, repeated, reordered or altered pair; it is not meant
/// to resist an attacker (TLS and file permissions are for that).
class snapshot_digest {
public:
  void add(std::string_view key, std::string_view value);
  uint64_t count() const { return count_; }
  uint64_t value() const { return hash_; }
  /// Continues a digest whose state was saved (count, value).
  static snapshot_digest resume(uint64_t count, uint64_t value);

private:
  void mix(std::string_view bytes);
  uint64_t count_ = 0;
  uint64_t hash_ = 14695981039346656037ull; // FNV-1a offset basis
};

/// A consistent, point-in-time view of a kv store: the pairs as of
/// `meta().index`, whatever is applied meanwhile. Readable from any one
/// thread (the live store keeps applying on its own); it keeps what it
/// reads from being dropped until it is destroyed.
class snapshot_reader {
public:
  virtual ~snapshot_reader();

  virtual const snapshot_meta& meta() const = 0;

  /// Positions the reader after `key` (the next pair read has a larger
  /// key); an empty `key` with `from_start` positions it at the first pair.
  virtual void seek_after(const std::string& key, bool from_start) = 0;

  /// Appends the next pairs to `keys` and `values`, stopping once
  /// `max_bytes` of keys and values are in (at least one pair if any is
  /// left). Returns true when the end was reached (nothing left after
  /// these). A read error (a corrupt table): errc::corrupt_data or
  /// storage_failed.
  virtual caf::expected<bool> read(size_t max_bytes,
                                   std::vector<std::string>& keys,
                                   std::vector<std::string>& values) = 0;
};

/// A snapshot being written into a new store beside the live one. Pairs
/// come in ascending key order, in chunks; `finish` checks the totals, makes
/// the new store durable and switches to it in one atomic step. Until then
/// the live store is untouched, and a crash at any moment leaves either the
/// old state or the new one, whole. Dropping an unfinished install removes
/// what it wrote.
class kv_install {
public:
  virtual ~kv_install();

  virtual const snapshot_meta& meta() const = 0;

  /// Pairs written so far and their running digest.
  virtual const snapshot_digest& digest() const = 0;

  /// Writes one chunk (keys ascending, past every key written before:
  /// else errc::bad_request and nothing is written). Not synced.
  virtual caf::error write(const std::vector<std::string>& keys,
                           const std::vector<std::string>& values) = 0;

  /// Checks that `count` pairs with checksum `checksum` were written
  /// (else errc::corrupt_data, and the install is void), writes the
  /// snapshot's metadata, syncs, and atomically makes the new store the
  /// live one. Returns it, open. The caller then drops the old store and
  /// calls `discard_old`.
  virtual caf::expected<std::unique_ptr<kv_store>>
  finish(uint64_t count, uint64_t checksum) = 0;

  /// Removes the old store's files, once the caller has closed it.
  virtual void discard_old() = 0;
};

} // namespace raftd

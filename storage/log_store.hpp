#pragma once
// The Raft log and hard state (term, vote): what must be durable before this
// node answers a vote or an append (Figure 2). Production: LevelDB in
// DATA/log (layout in storage/codec.hpp). Tests and simulation: in memory.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/types.hpp"

namespace leveldb {
class Env;
} // namespace leveldb

namespace raftd {

/// A Raft log with its hard state. Not thread-safe: one owner (the
/// persister) calls it. The log is contiguous after its compacted prefix
/// (raft/log.hpp).
///
/// After a failed write the store is *failed*: that batch's outcome is
/// unknown (after a reopen it is there whole or not at all, like a request
/// whose reply was lost: Raft allows it, nothing was acknowledged),
/// last_index() stays where it was, and every later write returns
/// errc::storage_failed until the store is reopened, which tells what is
/// durable. Why latch instead of carrying on once the disk recovers:
/// - LevelDB itself latches a failed fsync of its write-ahead log: every
///   later Write returns that error until the database is reopened
///   (DBImpl::Write: "the log record we just added may or may not show up
///   when the DB is re-opened").
/// - A failed Append or Flush does *not* latch LevelDB 1.23: the next synced
///   Write succeeds, behind the torn record. On reopen LevelDB reads the torn
///   record as the end of its log and silently drops that acknowledged write,
///   paranoid checks or not (storage.faults shows it).
/// - A retried fsync can report success after the kernel dropped the dirty
///   pages of the failed one (PostgreSQL's "fsyncgate").
/// A reopen replays LevelDB's log up to the first torn record, and nothing
/// was written behind it, so every acknowledged write is still there. In
/// raftd, a persister that sees storage_failed should stop the node (or
/// reopen the store and load() again, then reconcile its view of the log).
class log_store {
public:
  virtual ~log_store();

  /// Reads back what is durable: the hard state (default-constructed if
  /// never written), the compacted prefix (index, term) and every entry
  /// after it, in index order, contiguous from prefix_index + 1 (entries
  /// at or below the prefix that a trim has not removed yet are skipped).
  /// A gap, an entry that does not decode or a bad key: errc::corrupt_data.
  virtual caf::error load(durable_log& out) = 0;

  /// Makes `b` durable in one synced write, all or nothing: `b.state` if
  /// `b.has_state`; then, if `b.compact_to` is nonzero, the prefix becomes
  /// (compact_to, compact_term) (it only moves up; entries at or below it
  /// no longer count, and trim() deletes them later); then deletes every
  /// entry with index >= `b.truncate_from` (if nonzero), then appends
  /// `b.entries`. The entries must be contiguous and the first must be
  /// last_index() + 1 after the truncation; otherwise errc::internal and
  /// nothing is written. compact_to may lie past last_index() (a snapshot
  /// installed from a leader: the log then restarts after it). A batch with
  /// nothing to do writes nothing. A disk failure: errc::storage_failed.
  virtual caf::error write(const persist_batch& b) = 0;

  /// Deletes up to `max_entries` entries at or below the prefix (not
  /// synced: a lost delete is redone by the next trim). Returns true while
  /// some are left. Keeps each call short so writes are not held up.
  virtual caf::expected<bool> trim(size_t max_entries) = 0;

  /// Index of the last entry (the prefix's index if none is held). Only a
  /// successful write moves it.
  virtual uint64_t last_index() const = 0;

  /// The compacted prefix's last index (0: nothing compacted).
  virtual uint64_t prefix_index() const = 0;
};

/// Opens the LevelDB log in `dir` (it creates `dir` itself, not its
/// parents). With `create`, a missing database is created; without, it is
/// errc::corrupt_data ("missing log database"). Opening checks the format
/// version (another one: corrupt_data) and finds the last index with one
/// seek; load() reads and checks everything. A database in use by another
/// process, or already open in this one, is errc::storage_failed.
/// `env` (e.g. a fault-injecting leveldb::EnvWrapper) must outlive the store;
/// nullptr means leveldb::Env::Default().
caf::expected<std::unique_ptr<log_store>>
open_leveldb_log_store(const std::string& dir, bool create,
                       leveldb::Env* env = nullptr);

/// What a memory log store keeps "on disk". Sharing one between stores
/// models a crash-restart: drop the store, make a new one on the same disk,
/// and it loads what the old one wrote.
struct memory_log_disk {
  hard_state state;
  uint64_t prefix_index = 0;
  uint64_t prefix_term = 0;
  /// entries[i].index == prefix_index + 1 + i.
  std::vector<log_entry> entries;
  /// While true, every write fails with storage_failed (and the store that
  /// saw it stays failed, as the LevelDB one does).
  bool fail_writes = false;
};

/// An in-memory log store with the same contract, on a fresh disk.
std::unique_ptr<log_store> make_memory_log_store();

/// An in-memory log store on `disk` (shared with whoever else holds it).
std::unique_ptr<log_store>
make_memory_log_store(std::shared_ptr<memory_log_disk> disk);

} // namespace raftd

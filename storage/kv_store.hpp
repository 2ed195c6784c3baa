#pragma once
// The applied key/value state: what committed entries have made of the keys.
// Production: LevelDB in DATA/kv (layout in storage/codec.hpp). Tests and
// simulation: in memory.
//
// Why kv writes are not synced: the Raft log (DATA/log, synced before
// anything is acknowledged) is the source of truth, and only entries durable
// in it are applied (callers: apply an entry only once the local log holds
// it durably, never straight from a leader's message). Each apply() stores
// the new applied index in the same LevelDB write batch as the values, and
// LevelDB replays a batch whole or not at all. So after a crash the kv state
// is exactly "every entry up to applied_index()" for some applied_index() at
// or below what was applied before the crash (a process crash loses
// nothing: LevelDB hands every write to the kernel at once; a machine crash
// may lose the latest batches), and replaying the log from applied_index() +
// 1 restores the rest, each entry exactly once. An fsync per apply would buy
// nothing but latency. One assumption: after a machine crash the filesystem
// shows no zeroed blocks *inside* LevelDB's log with good ones after them
// (ext4's default data=ordered guarantees it for appends). LevelDB skips a
// zeroed region silently, even with paranoid checks, so such a hole would
// lose a batch while later ones, and a later applied index, survive. Where
// that cannot be ruled out, sync the kv writes (WriteOptions::sync).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/types.hpp"
#include "storage/snapshot.hpp"

namespace leveldb {
class Env;
} // namespace leveldb

namespace raftd {

/// The state machine's storage. Not thread-safe: one owner calls it.
///
/// A failed apply leaves the store failed, as a failed log write does (see
/// log_store.hpp for why): applied_index() stays, reads still work, every
/// later apply returns the same storage_failed error until the store is
/// reopened, which finds a consistent state (the failed batch wholly there
/// or wholly absent) to replay the log onto.
class kv_store {
public:
  virtual ~kv_store();

  /// Index of the last applied entry; 0 before the first.
  virtual uint64_t applied_index() const = 0;

  /// The value of `key`, nullopt when absent.
  virtual caf::expected<std::optional<std::string>>
  get(const std::string& key) = 0;

  /// Applies `entries` in one write batch that also stores the new applied
  /// index. The entries must be contiguous in index order (else
  /// errc::internal, nothing written). Entries with index <=
  /// applied_index() are skipped: never applied twice. The first one not
  /// skipped must be applied_index() + 1 (a gap: errc::internal, nothing
  /// written). put: key := value; del: erase key; noop and config: only
  /// advance the index. An entry of unknown kind: errc::internal.
  ///
  /// `found[i]` (one per entry) tells, for a del, whether its key existed
  /// just before entry i was applied, so a del sees the earlier entries of
  /// the batch (put k, del k: the del's found is true). It is false for
  /// puts (nothing asks; looking each key up would cost a read per write),
  /// skipped entries (their effect is long applied) and noop/config.
  /// `applied_index` is the applied index after the batch, `durable` is
  /// durable() (the batch itself is not synced).
  virtual caf::expected<apply_result>
  apply(const std::vector<log_entry>& entries) = 0;

  // -- snapshots (§7): the store *is* the snapshot ---------------------------

  /// What the applied state is as a snapshot: index = applied_index(), the
  /// term of that entry, and the latest configuration entry applied. Stored
  /// in the same write batch as the values it describes.
  virtual snapshot_meta meta() const = 0;

  /// The snapshot known durable: covered by the last synced write (0: none
  /// yet). A restart finds at least this much.
  virtual snapshot_meta durable() const = 0;

  /// Makes everything applied so far durable in one synced write; then
  /// durable() == meta(). A disk failure fails the store as apply does.
  virtual caf::error sync() = 0;

  /// A consistent view of the applied state as of now, readable from
  /// another thread while this store keeps applying (storage/snapshot.hpp).
  virtual caf::expected<std::unique_ptr<snapshot_reader>> read_snapshot() = 0;
};

/// Opens the LevelDB key/value state in `dir` (created if missing with
/// `create`; without it a missing database is errc::corrupt_data, "missing
/// kv database"). The format version is checked as for the log. A database
/// in use by another process, or already open in this one, is
/// errc::storage_failed. `env` must outlive the store; nullptr means
/// leveldb::Env::Default().
caf::expected<std::unique_ptr<kv_store>>
open_leveldb_kv_store(const std::string& dir, bool create,
                      leveldb::Env* env = nullptr);

/// An in-memory kv store with the same contract, starting empty. sync()
/// changes nothing but durable(): the simulation keeps the store itself
/// across a crash (tests/sim_cluster.cpp).
std::unique_ptr<kv_store> make_memory_kv_store();

/// Where a memory install switches to its new store: handed the finished
/// store, it makes it the live one ("the atomic step") and returns what the
/// state machine should use from then on.
using memory_kv_switch =
  std::function<std::unique_ptr<kv_store>(std::shared_ptr<kv_store>)>;

/// An install into a new in-memory store (storage/snapshot.hpp).
std::unique_ptr<kv_install> make_memory_kv_install(snapshot_meta meta,
                                                   memory_kv_switch sw);

} // namespace raftd

#pragma once
// A node's data directory:
//
//   DATA/name  7 lowercase hex characters, no newline, mode 0644: the node's
//              name, made once from std::random_device and kept
//   DATA/log/  the Raft log and hard state (log_store.hpp)
//   DATA/kv/   the applied key/value state (kv_store.hpp), until a snapshot
//              from a leader replaces it:
//   DATA/kv.N/ the key/value state after the N-th installed snapshot
//   DATA/kv-current  the name of the live kv directory ("kv.N", no
//              newline), replaced by rename (then a directory fsync): the
//              one atomic step of an install. Absent: "kv".
//
// At open, a kv directory ("kv" or "kv.<digits>") that kv-current does not
// name is what an interrupted install (or a switch whose old directory was
// not removed yet) left, and is removed, with a stray kv-current.tmp. A
// kv-current that holds anything else, or names a missing directory, is
// errc::corrupt_data. begin_kv_install picks N one past the highest kv.M.
//
// Nothing in an existing directory is ever overwritten or created: a
// directory that is not a complete raftd data directory is refused with a
// clear error for the operator to look at.

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "messages/types.hpp"
#include "storage/kv_store.hpp"
#include "storage/log_store.hpp"
#include "storage/snapshot.hpp"

namespace raftd {

/// An open data directory. Movable; closing it (destruction) closes both
/// databases and releases their locks.
struct data_dir {
  std::string path;
  node_name name;
  /// True if open_data_dir made this directory (a new node), false if it
  /// existed (a restart).
  bool fresh = false;
  std::unique_ptr<log_store> log;
  std::unique_ptr<kv_store> kv;
};

/// Opens the data directory at `path`, creating it (and its parents) if
/// missing.
/// - Missing or empty: a new node. log/ and kv/ are created first, then
///   `name` last and atomically (name.tmp, fsync, link to name, fsync of the
///   directory), so `name` marks a complete directory. `fresh` is true.
/// - Holding `name`: a restart. `name` must hold exactly 7 lowercase hex
///   characters, and log/ and the live kv directory must exist; otherwise
///   errc::corrupt_data.
/// - Non-empty without `name`: "not a raftd data directory", errc::
///   corrupt_data; nothing is written into it. (A node stopped in the middle
///   of its very first start leaves one; the error says so when only log/,
///   kv/ and name.tmp are there.)
/// - Unreadable (permissions) or a path that is not a directory:
///   errc::corrupt_data; failing to create it: errc::storage_failed.
/// - In use by another process: errc::storage_failed, "data directory is in
///   use by another process" (LevelDB's LOCK files); already open in this
///   process: errc::storage_failed, "already open in this process".
caf::expected<data_dir> open_data_dir(const std::string& path);

/// Opens the log (or kv) database of the data directory at `path` again,
/// after the store that had it open was dropped (a disk that failed and
/// recovered). Never creates one. reopen_kv opens the directory kv-current
/// names but removes no other: an install may be running beside it (only
/// open_data_dir cleans up). The kv database stays open while a snapshot
/// reader of the dropped store lives, and is "already open" until then.
caf::expected<std::unique_ptr<log_store>> reopen_log(const std::string& path);
caf::expected<std::unique_ptr<kv_store>> reopen_kv(const std::string& path);

/// Starts installing a snapshot into a new kv directory of the data
/// directory at `path` (storage/snapshot.hpp): DATA/kv.N for the next N.
/// `finish` switches kv-current to it; `discard_old` removes the directory
/// it replaced.
caf::expected<std::unique_ptr<kv_install>>
begin_kv_install(const std::string& path, snapshot_meta meta);

} // namespace raftd

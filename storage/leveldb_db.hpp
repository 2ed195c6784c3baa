#pragma once
// Internal to storage/: opens one of a node's LevelDB databases the way both
// stores need it. Includes LevelDB headers, so only storage/*.cpp include it.

#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <leveldb/db.h>
#include <leveldb/options.h>

namespace raftd::detail {

/// Closes the database, then lets this process open the path again.
struct db_closer {
  std::string registered_path;
  /// The Env the database uses (see open_db); outlives it.
  std::shared_ptr<leveldb::Env> env;
  void operator()(leveldb::DB* db) const;
};

using db_ptr = std::unique_ptr<leveldb::DB, db_closer>;

/// Read options for every read: blocks are checked against their CRC when
/// read from disk. (A block read once without the check sits in LevelDB's
/// block cache, and later checked reads trust it: so all reads check.)
leveldb::ReadOptions checked_reads();

/// Opens the LevelDB database in `dir` with paranoid checks, using `env`
/// (nullptr: leveldb::Env::Default()). `what` ("log database") names it in
/// errors. With `create`, a missing database is created; without, it is
/// errc::corrupt_data ("missing <what>").
///
/// Opening a path this process already has open is refused before LevelDB
/// sees it: LevelDB's PosixEnv answers "already held by process" but, on the
/// way, closes a descriptor of the LOCK file, which drops the fcntl lock the
/// first handle holds (POSIX releases all of a process's locks on a file when
/// any descriptor of it closes), so a second *process* could then open it.
///
/// LevelDB syncs its directory only when it writes a MANIFEST, not when it
/// starts a new write-ahead log file (every write_buffer_size bytes), so on
/// some filesystems a synced write to a new log file could vanish with the
/// file's directory entry after a power failure. So every database runs on
/// an Env wrapper that also syncs the directory at the first Sync() of each
/// new *.log file.
///
/// The 'v' key is checked: a database with another format version, or
/// non-empty without one, is corrupt_data. An empty database (just created,
/// or created by a run that stopped before stamping it) gets the current
/// version in a synced write.
///
/// `write_buffer_size` sets LevelDB's memtable size (0: LevelDB's 4 MiB).
caf::expected<db_ptr> open_db(const std::string& dir, bool create,
                              leveldb::Env* env, const std::string& what,
                              size_t write_buffer_size = 0);

} // namespace raftd::detail

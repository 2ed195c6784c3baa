#pragma once
// The one place where a leveldb::Status becomes a raftd error.

#include <string>

#include <caf/error.hpp>

namespace leveldb {
class Status;
} // namespace leveldb

namespace raftd {

/// Turns `s` into a raftd error; an OK status gives no error. `what` names
/// the operation and the database (e.g. "write to log database /d/log") and
/// starts the context, followed by LevelDB's own text.
/// - Corruption, NotFound (a file of the database is missing) and
///   InvalidArgument (e.g. a database made with another comparator):
///   errc::corrupt_data, the disk holds what we cannot read.
/// - The database's LOCK held elsewhere: errc::storage_failed with the
///   context "data directory is in use by another process".
/// - IOError (disk full, EIO, failed fsync) and anything else:
///   errc::storage_failed.
caf::error leveldb_error(const leveldb::Status& s, const std::string& what);

} // namespace raftd

#include "storage/leveldb_error.hpp"

#include <leveldb/status.h>

#include "messages/errors.hpp"

namespace raftd {

namespace {

/// LevelDB's PosixEnv reports a LOCK held by another process as
/// "lock <file>: Resource temporarily unavailable" (fcntl F_SETLK, EAGAIN)
/// and one held by this process as "lock <file>: already held by process".
bool is_lock_conflict(const leveldb::Status& s, const std::string& text) {
  return s.IsIOError() && text.find("lock ") != std::string::npos
         && (text.find("temporarily unavailable") != std::string::npos
             || text.find("already held by process") != std::string::npos);
}

} // namespace

caf::error leveldb_error(const leveldb::Status& s, const std::string& what) {
  if (s.ok())
    return {};
  auto text = s.ToString();
  if (is_lock_conflict(s, text))
    return make_error(errc::storage_failed,
                      what + ": data directory is in use by another process ("
                        + text + ")");
  auto context = what + ": " + text;
  if (s.IsCorruption() || s.IsNotFound() || s.IsInvalidArgument())
    return make_error(errc::corrupt_data, std::move(context));
  return make_error(errc::storage_failed, std::move(context));
}

} // namespace raftd

// Backups (README "Backup and restore"): a client opens a consistent
// snapshot of this node's applied state and reads it chunk by chunk, at its
// own pace (`GET /snapshot`, `raftctl snapshot save`). Any member serves
// one: the state at some applied index is a valid point in the history
// whatever the role. Each open snapshot is a stream on a thread of its own
// (actors/snapshot_stream.cpp), the same one InstallSnapshot reads, so a
// backup never holds up the role; it pins a LevelDB snapshot, so it is
// closed as soon as it is read to the end, closed by its reader, or left
// unread for `backup_idle_expiry`.
#include "actors/role_state.hpp"

#include <caf/actor_system.hpp>

#include "actors/snapshot_stream.hpp"
#include "daemon/logging.hpp"
#include "messages/errors.hpp"
#include "storage/snapshot.hpp"

namespace raftd::role {

namespace {

/// An open snapshot nobody asked a chunk of for this long is closed: its
/// reader is gone (a client that disconnected without closing it).
constexpr std::chrono::seconds backup_idle_expiry{30};

/// Snapshots open at once. Each pins the kv store's files as they were
/// (LevelDB keeps them while a snapshot needs them): a bound on the disk
/// space and threads backups may hold.
constexpr size_t max_open_backups = 4;

} // namespace

caf::result<uint64_t> on_backup_open(role_ptr self) {
  auto& st = self->state;
  if (st.backups.size() >= max_open_backups)
    return make_error(errc::busy, std::to_string(max_open_backups)
                                    + " backups are being read already; "
                                      "retry later");
  auto rp = self->make_response_promise<uint64_t>();
  self->request(st.sm, caf::infinite, atom::snapshot::value)
    .then(
      [=](snapshot_source& src) mutable {
        auto& st = self->state;
        auto id = ++st.last_backup_id;
        RAFTD_LOG(info, "backup " << id << ": snapshot at index "
                                  << src.reader->meta().index);
        auto stream = spawn_snapshot_stream(self->system(), src.reader,
                                            st.cfg.snapshot_chunk_bytes,
                                            st.cfg.detached_streams);
        st.backups.emplace(id, backup_read{std::move(stream), st.now_tick});
        rp.deliver(id);
      },
      [=](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<snapshot_chunk> on_backup_read(role_ptr self, uint64_t id,
                                           uint64_t seq) {
  auto& st = self->state;
  auto i = st.backups.find(id);
  if (i == st.backups.end())
    return make_error(errc::not_found,
                      "no open snapshot " + std::to_string(id)
                        + " (read to its end, closed, or idle for "
                        + std::to_string(backup_idle_expiry.count()) + " s)");
  i->second.last_used_tick = st.now_tick;
  auto rp = self->make_response_promise<snapshot_chunk>();
  self->request(i->second.stream, caf::infinite, atom::read::value, seq)
    .then(
      [=](snapshot_chunk& c) mutable {
        if (c.last)
          close_backup(self, id);
        rp.deliver(std::move(c));
      },
      [=](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

void close_backup(role_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.backups.find(id);
  if (i == st.backups.end())
    return;
  caf::anon_send_exit(i->second.stream, caf::exit_reason::user_shutdown);
  st.backups.erase(i);
}

void expire_backups(role_ptr self) {
  auto& st = self->state;
  auto idle = ticks_of(st, backup_idle_expiry);
  std::vector<uint64_t> stale;
  for (auto& [id, b] : st.backups)
    if (st.now_tick - b.last_used_tick >= idle)
      stale.push_back(id);
  for (auto id : stale) {
    RAFTD_LOG(info, "backup " << id << " closed: unread for "
                              << backup_idle_expiry.count() << " s");
    close_backup(self, id);
  }
}

} // namespace raftd::role

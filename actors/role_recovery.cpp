// A disk that fails (ENOSPC, EIO) and comes back. A node whose log or kv
// write fails cannot persist a vote, an append or a client write, so it
// takes no part in Raft: it stops leading (the others elect a new leader
// within an election timeout), refuses writes (HTTP 507) and linearizable
// reads, and keeps serving stale reads. Every `storage_retry` it asks the
// persister and the state machine to reopen their stores; once both can
// write again it rebuilds its core from what is durable, as a restart would,
// and rejoins. Nothing acknowledged is lost: a reply goes out only after
// its write succeeded, and what the reopened stores hold is what was
// durable.
#include "actors/role_state.hpp"

#include <caf/actor_system.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"
#include "raft/reconcile.hpp"

namespace raftd::role {

namespace {

/// Ticks from now until the next try.
uint64_t retry_at(const role_state& st) {
  return st.now_tick + ticks_of(st, st.cfg.storage_retry);
}

/// Everything waiting on this node's Raft state ends now: writes may be on
/// a majority already (outcome unknown), reads cannot be confirmed.
void drop_waiting(role_ptr self) {
  auto& st = self->state;
  for (auto& [index, w] : st.writes)
    fail_write(w, make_error(errc::outcome_unknown,
                             "this node's disk failed; it may still commit"));
  st.writes.clear();
  st.write_deadlines.clear();
  auto no_read = make_error(errc::busy, "this node's disk failed; "
                                        "linearizable reads need it");
  for (auto* ws : {&st.reads, &st.unconfirmed, &st.follower_waiting,
                   &st.follower_asking}) {
    for (auto& w : *ws)
      fail_read(w, no_read);
    ws->clear();
  }
  ++st.ask_seq; // a read index still on its way is ignored
  if (st.joining) {
    st.joining->rp.deliver(make_error(errc::busy, "the leader's disk failed"));
    st.joining.reset();
  }
}

void retry_failed(role_ptr self, const caf::error& err);

/// Rebuilds the core from the durable log and the state machine's applied
/// index, as a restart does, and rejoins the cluster as a follower.
void rebuild(role_ptr self, durable_log dl, const snapshot_meta& applied) {
  auto& st = self->state;
  auto fix = reconcile_log(dl, applied);
  if (!fix) {
    retry_failed(self, fix.error());
    return;
  }
  auto cfg = st.core->config();
  st.core = std::make_unique<raft_core>(
    std::move(cfg), std::move(dl.state),
    raft_log{dl.prefix_index, dl.prefix_term, std::move(dl.entries)}, applied);
  st.applied_index = applied.index;
  st.snapshot = applied;
  st.storage_error = caf::error{};
  st.recovering = false;
  st.commits = group_commit{};
  st.to_apply.clear();
  st.synced_config = {~uint64_t{0}, 0}; // match replicators to the log
  RAFTD_LOG(notice, "storage recovered: log to " << st.core->last_index()
                      << ", applied " << applied.index
                      << "; rejoining as follower");
  sync_replicators(self);
  if (*fix) { // the log restarts after the snapshot (raft/reconcile.hpp)
    effects e;
    e.compact_to = (*fix)->compact_to;
    e.compact_term = (*fix)->compact_term;
    e.truncate_from = (*fix)->truncate_from;
    handle_effects(self, e);
  }
}

void retry_failed(role_ptr self, const caf::error& err) {
  auto& st = self->state;
  st.recovering = false;
  if (is(err, errc::corrupt_data)) { // reopening cannot fix that
    RAFTD_LOG(error, "cannot recover storage: " << describe(err)
                                                << "; stopping");
    if (st.cfg.on_fatal)
      st.cfg.on_fatal(err);
    self->quit(err);
    return;
  }
  RAFTD_LOG(warn, "storage still failing: " << describe(err));
  st.retry_tick = retry_at(st);
}

} // namespace

void storage_failed(role_ptr self, const caf::error& err) {
  auto& st = self->state;
  if (st.storage_error || st.failed)
    return;
  if (st.cfg.storage_retry.count() == 0) {
    fail(self, err);
    return;
  }
  st.storage_error = err;
  RAFTD_LOG(error, "storage failed: " << describe(err)
                     << "; refusing writes, serving stale reads, retrying");
  if (st.lead_term != 0) { // stop heartbeats: the others elect a leader
    st.lead_term = 0;
    for (auto& [name, r] : st.replicators)
      self->send(r, atom::follow::value);
  }
  drop_waiting(self);
  st.commits = group_commit{}; // replies waiting on a failed write never go
  st.to_apply.clear();
  st.retry_tick = retry_at(st);
}

caf::error refuse_if_degraded(const role_state& st) {
  if (!st.storage_error)
    return {};
  return make_error(errc::storage_failed,
                    "this node cannot write to its disk ("
                      + describe(st.storage_error) + "); nothing was proposed");
}

void retry_storage(role_ptr self) {
  auto& st = self->state;
  if (!st.storage_error || st.recovering || st.now_tick < st.retry_tick)
    return;
  st.recovering = true;
  self->request(st.persister, caf::infinite, atom::recover::value)
    .then(
      [=](durable_log& dl) {
        auto& st = self->state;
        self->request(st.sm, caf::infinite, atom::recover::value)
          .then(
            [=](snapshot_meta& applied) mutable {
              rebuild(self, std::move(dl), applied);
            },
            [=](caf::error& err) { retry_failed(self, err); });
      },
      [=](caf::error& err) { retry_failed(self, err); });
}

} // namespace raftd::role

// Log compaction and InstallSnapshot (§7; thesis ch. 5). The state
// machine's store is the snapshot: it syncs now and then and reports the
// snapshot it holds durably; the log up to that, less a trailing window for
// followers a little behind, then goes. A follower that needs entries that
// went gets the state itself, streamed by its replicator
// (actors/replicator.cpp), and answered here chunk by chunk.
#include "actors/role_state.hpp"

#include <caf/actor_system.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"

namespace raftd::role {

void maybe_compact(role_ptr self, const snapshot_meta& durable) {
  auto& st = self->state;
  if (durable.index > st.snapshot.index)
    st.snapshot = durable;
  if (st.cfg.snapshot_entries == 0 || st.storage_error)
    return;
  auto target = durable.index > st.cfg.snapshot_trailing
                  ? durable.index - st.cfg.snapshot_trailing
                  : 0;
  // A follower being sent a snapshot continues after its index: keep the
  // log from there, or the install ends in another one (hashicorp/raft
  // #212, Consul #9609).
  for (auto& [peer, index] : st.installing)
    target = std::min(target, index);
  if (target <= st.core->log().prefix_index())
    return;
  effects e;
  st.core->compact(target, e);
  RAFTD_LOG(debug, "compacted the log to " << target);
  handle_effects(self, e);
}

caf::result<install_response> on_install(role_ptr self, snapshot_chunk c) {
  auto& st = self->state;
  effects e;
  auto ok = st.core->handle_install_chunk(c, e);
  install_response refused{st.core->term(), st.core->id(), false, 0, false};
  if (!c.to.empty() && c.to != st.core->id())
    refused.term = 0; // meant for whoever had our address (vote_request::to)
  handle_effects(self, e);
  if (!ok)
    return refused;
  auto rp = self->make_response_promise<install_response>();
  auto seq = c.seq;
  self->request(st.sm, caf::infinite, atom::install::value, std::move(c))
    .then(
      [=](install_progress& p) mutable {
        auto& st = self->state;
        install_response r{st.core->term(), st.core->id(),
                           p.done || p.next_seq == seq + 1, p.next_seq,
                           false};
        if (!p.done || st.storage_error) {
          rp.deliver(r);
          return;
        }
        // The state machine switched to the snapshot; the log follows, and
        // the leader hears of it once that is durable too (§7).
        st.applied_index = std::max(st.applied_index, p.meta.index);
        if (p.meta.index > st.snapshot.index)
          st.snapshot = p.meta;
        ++st.snapshots_installed;
        if (st.cfg.observer.on_installed)
          st.cfg.observer.on_installed(p.meta, false);
        effects e;
        st.core->install_snapshot(p.meta, e);
        r.done = true;
        handle_effects(self, e, [self, rp, r, meta = p.meta]() mutable {
          if (self->state.cfg.observer.on_installed)
            self->state.cfg.observer.on_installed(meta, true);
          rp.deliver(r);
        });
        serve_reads(self);
      },
      [=](caf::error& err) mutable {
        rp.deliver(err);
        if (is(err, errc::storage_failed))
          storage_failed(self, err);
      });
  return rp;
}

void on_snapshot_sending(role_ptr self, const node_name& peer, uint64_t index,
                         bool finished, bool ok) {
  auto& st = self->state;
  if (!finished) {
    st.installing[peer] = index;
    return;
  }
  st.installing.erase(peer);
  if (ok)
    ++st.snapshots_sent;
}

} // namespace raftd::role

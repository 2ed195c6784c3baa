#include "actors/state_machine.hpp"

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"
#include "storage/kv_store.hpp"
#include "storage/snapshot.hpp"

namespace raftd {

namespace {

using sm_ptr = state_machine_actor::stateful_pointer<state_machine_state>;

/// Syncs the store once enough was applied since the last sync: the log
/// below its durable snapshot may then go (the role decides, §7). Then
/// `r.durable` (which apply filled before) is the new durable snapshot.
caf::error maybe_sync(state_machine_state& st, apply_result& r) {
  if (st.cfg.sync_every == 0
      || st.store->applied_index() < r.durable.index + st.cfg.sync_every)
    return {};
  if (auto err = st.store->sync())
    return err;
  r.durable = st.store->durable();
  return {};
}

/// A chunk of the snapshot being installed (storage/snapshot.hpp). Chunks
/// come in order; one out of order is answered with the one wanted.
caf::result<install_progress> on_chunk(sm_ptr self,
                                       const snapshot_chunk& c) {
  auto& st = self->state;
  if (st.failed || !st.store)
    return make_error(errc::storage_failed, "the kv store failed");
  // Already applied this far (entries came through the log meanwhile):
  // what the snapshot holds is here; once synced, it counts as installed.
  if (c.meta.index <= st.store->applied_index()) {
    st.install.reset();
    if (auto err = st.store->sync()) {
      st.failed = true;
      return err;
    }
    return install_progress{0, true, st.store->durable()};
  }
  auto same = st.install && st.install->meta().index == c.meta.index
              && st.install->meta().term == c.meta.term;
  if (!same) {
    st.install.reset(); // a new leader's snapshot: the old one is void
    if (c.seq != 0)
      return install_progress{0, false, {}};
    if (!st.cfg.installer)
      return make_error(errc::internal, "this node cannot install snapshots");
    auto inst = st.cfg.installer(c.meta);
    if (!inst)
      return inst.error();
    st.install = std::move(*inst);
    st.next_seq = 0;
    RAFTD_LOG(notice, "receiving a snapshot at index " << c.meta.index
                        << " term " << c.meta.term);
  }
  if (c.seq != st.next_seq)
    return install_progress{st.next_seq, false, {}};
  if (auto err = st.install->write(c.keys, c.values)) {
    st.install.reset();
    RAFTD_LOG(warn, "snapshot chunk " << c.seq << " refused: "
                                      << describe(err));
    return install_progress{0, false, {}};
  }
  ++st.next_seq;
  auto partial = st.cfg.bug_switch_partial; // tests only
  if (!c.last && !partial)
    return install_progress{st.next_seq, false, {}};
  auto& got = st.install->digest();
  auto fresh = partial ? st.install->finish(got.count(), got.value())
                       : st.install->finish(c.count, c.checksum);
  if (!fresh) {
    RAFTD_LOG(warn, "snapshot at index " << c.meta.index << " refused: "
                                         << describe(fresh.error()));
    st.install.reset();
    return install_progress{0, false, {}};
  }
  // The switch happened on disk; now in memory: the old store closes first,
  // then its files go.
  st.store = std::move(*fresh);
  st.install->discard_old();
  auto meta = st.install->meta();
  st.install.reset();
  RAFTD_LOG(notice, "installed the snapshot at index " << meta.index);
  return install_progress{st.next_seq, true, st.store->durable()};
}

} // namespace

state_machine_actor::behavior_type
state_machine(state_machine_actor::stateful_pointer<state_machine_state> self,
              std::shared_ptr<kv_store> store, state_machine_config cfg) {
  self->state.store = std::move(store);
  self->state.cfg = std::move(cfg);
  return {
    [=](atom::apply, const std::vector<log_entry>& entries)
      -> caf::result<apply_result> {
      auto& st = self->state;
      if (st.failed || !st.store)
        return make_error(errc::storage_failed, "the kv store failed");
      auto res = st.store->apply(entries);
      if (res) {
        if (auto err = maybe_sync(st, *res))
          res = err;
      }
      if (!res) {
        st.failed = true;
        return res.error();
      }
      return std::move(*res);
    },
    [=](atom::get, const std::string& key)
      -> caf::result<bool, std::string> {
      if (!self->state.store) // a reopen failed: try again later
        return make_error(errc::storage_failed, "the kv store is closed");
      auto res = self->state.store->get(key);
      if (!res)
        return res.error();
      if (!*res)
        return {false, std::string{}};
      return {true, std::move(**res)};
    },
    [=](atom::applied) -> caf::result<uint64_t> {
      if (!self->state.store)
        return make_error(errc::storage_failed, "the kv store is closed");
      return self->state.store->applied_index();
    },
    // A failed store is reopened; what it then holds is a whole batch
    // boundary (storage/kv_store.hpp), and its applied index says where the
    // log's replay starts.
    [=](atom::recover) -> caf::result<snapshot_meta> {
      auto& st = self->state;
      if (!st.failed)
        return st.store->meta();
      if (!st.cfg.reopen)
        return make_error(errc::storage_failed, "the kv store cannot reopen");
      st.install.reset();
      st.store.reset();
      auto store = st.cfg.reopen();
      if (!store)
        return store.error();
      st.store = std::move(*store);
      st.failed = false;
      return st.store->meta();
    },
    [=](atom::snapshot) -> caf::result<snapshot_source> {
      auto& st = self->state;
      if (st.failed || !st.store)
        return make_error(errc::storage_failed, "the kv store failed");
      auto reader = st.store->read_snapshot();
      if (!reader)
        return reader.error();
      return snapshot_source{std::shared_ptr<snapshot_reader>{
        std::move(*reader)}};
    },
    [=](atom::install, const snapshot_chunk& c)
      -> caf::result<install_progress> { return on_chunk(self, c); },
  };
}

state_machine_actor spawn_state_machine(caf::actor_system& sys,
                                        std::shared_ptr<kv_store> store,
                                        bool detached,
                                        state_machine_config cfg) {
  if (detached)
    return sys.spawn<caf::detached>(state_machine, std::move(store),
                                    std::move(cfg));
  return sys.spawn(state_machine, std::move(store), std::move(cfg));
}

} // namespace raftd

#include "actors/persister.hpp"

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"
#include "storage/log_store.hpp"

namespace raftd {

namespace {

/// Entries deleted per trim step: about a millisecond of LevelDB work.
constexpr size_t trim_step = 4096;

/// A failed store stays failed until reopened (storage/log_store.hpp says
/// why). Reopening replays LevelDB's own log up to its first torn record, so
/// what it reads back is exactly what is durable; one synced write of the
/// hard state it read proves the disk takes writes again.
caf::expected<durable_log> reopen_store(persister_state& st) {
  if (!st.reopen)
    return make_error(errc::storage_failed, "the log store cannot reopen");
  st.store.reset(); // releases LevelDB's lock before the new open
  auto store = st.reopen();
  if (!store)
    return store.error();
  st.store = std::move(*store);
  durable_log dl;
  if (auto err = st.store->load(dl))
    return err;
  persist_batch probe;
  probe.has_state = true;
  probe.state = dl.state;
  if (auto err = st.store->write(probe))
    return err;
  return dl;
}

} // namespace

persister_actor::behavior_type
persister(persister_actor::stateful_pointer<persister_state> self,
          std::shared_ptr<log_store> store, log_reopener reopen) {
  self->state.store = std::move(store);
  self->state.reopen = std::move(reopen);
  return {
    [=](atom::write, const persist_batch& b) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (!st.store)
        return make_error(errc::storage_failed, "the log store is closed");
      auto prefix = st.store->prefix_index();
      if (auto err = st.store->write(b))
        return err;
      if (st.store->prefix_index() > prefix && !st.trimming) {
        st.trimming = true;
        self->send(self, atom::trim::value);
      }
      return st.store->last_index();
    },
    // The entries below a moved prefix go a few thousand at a time: each
    // step is short, and writes queued meanwhile go first (§7's compaction
    // must not stall the log).
    [=](atom::trim) {
      auto& st = self->state;
      st.trimming = false;
      if (!st.store)
        return;
      auto more = st.store->trim(trim_step);
      if (!more) {
        RAFTD_LOG(warn, "trimming the compacted log failed: "
                          << describe(more.error()));
        return; // the next compaction tries again
      }
      if (*more) {
        st.trimming = true;
        self->send(self, atom::trim::value);
      }
    },
    [=](atom::recover) -> caf::result<durable_log> {
      auto dl = reopen_store(self->state);
      if (!dl)
        return dl.error();
      return std::move(*dl);
    },
  };
}

persister_actor spawn_persister(caf::actor_system& sys,
                                std::shared_ptr<log_store> store,
                                bool detached, log_reopener reopen) {
  if (detached)
    return sys.spawn<caf::detached>(persister, std::move(store),
                                    std::move(reopen));
  return sys.spawn(persister, std::move(store), std::move(reopen));
}

} // namespace raftd

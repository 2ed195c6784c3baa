#include "actors/state_machine.hpp"

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/errors.hpp"
#include "storage/kv_store.hpp"

namespace raftd {

state_machine_actor::behavior_type
state_machine(state_machine_actor::stateful_pointer<state_machine_state> self,
              std::shared_ptr<kv_store> store, kv_reopener reopen) {
  self->state.store = std::move(store);
  self->state.reopen = std::move(reopen);
  return {
    [=](atom::apply, const std::vector<log_entry>& entries)
      -> caf::result<apply_result> {
      auto& st = self->state;
      if (st.failed || !st.store)
        return make_error(errc::storage_failed, "the kv store failed");
      auto res = st.store->apply(entries);
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
    [=](atom::recover) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (!st.failed)
        return st.store->applied_index();
      if (!st.reopen)
        return make_error(errc::storage_failed, "the kv store cannot reopen");
      st.store.reset();
      auto store = st.reopen();
      if (!store)
        return store.error();
      st.store = std::move(*store);
      st.failed = false;
      return st.store->applied_index();
    },
  };
}

state_machine_actor spawn_state_machine(caf::actor_system& sys,
                                        std::shared_ptr<kv_store> store,
                                        bool detached, kv_reopener reopen) {
  if (detached)
    return sys.spawn<caf::detached>(state_machine, std::move(store),
                                    std::move(reopen));
  return sys.spawn(state_machine, std::move(store), std::move(reopen));
}

} // namespace raftd

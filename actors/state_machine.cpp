#include "actors/state_machine.hpp"

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "storage/kv_store.hpp"

namespace raftd {

state_machine_actor::behavior_type
state_machine(state_machine_actor::stateful_pointer<state_machine_state> self,
              std::shared_ptr<kv_store> store) {
  self->state.store = std::move(store);
  return {
    [=](atom::apply, const std::vector<log_entry>& entries)
      -> caf::result<apply_result> {
      auto res = self->state.store->apply(entries);
      if (!res)
        return res.error();
      return std::move(*res);
    },
    [=](atom::get, const std::string& key)
      -> caf::result<bool, std::string> {
      auto res = self->state.store->get(key);
      if (!res)
        return res.error();
      if (!*res)
        return {false, std::string{}};
      return {true, std::move(**res)};
    },
    [=](atom::applied) -> uint64_t {
      return self->state.store->applied_index();
    },
  };
}

state_machine_actor spawn_state_machine(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                   bool detached) {
  if (detached)
    return sys.spawn<caf::detached>(state_machine, std::move(store));
  return sys.spawn(state_machine, std::move(store));
}

} // namespace raftd

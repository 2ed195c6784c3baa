#include "actors/persister.hpp"

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "storage/log_store.hpp"

namespace raftd {

persister_actor::behavior_type
persister(persister_actor::stateful_pointer<persister_state> self,
          std::shared_ptr<log_store> store) {
  self->state.store = std::move(store);
  return {
    [=](atom::write, const persist_batch& b) -> caf::result<uint64_t> {
      if (auto err = self->state.store->write(b))
        return err;
      return self->state.store->last_index();
    },
  };
}

persister_actor spawn_persister(caf::actor_system& sys, std::shared_ptr<log_store> store,
                   bool detached) {
  if (detached)
    return sys.spawn<caf::detached>(persister, std::move(store));
  return sys.spawn(persister, std::move(store));
}

} // namespace raftd

#pragma once

#include <memory>

#include "messages/actors.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace raftd {

class kv_store;

struct state_machine_state {
  static inline const char* name = "state_machine";
  std::shared_ptr<kv_store> store;
};

/// The KV STATE MACHINE: applies committed entries in order and serves
/// local reads. Its LevelDB calls are unsynced writes and cached reads: short
/// enough for a scheduled actor (the daemon's choice, main.cpp); `detached`
/// gives it a thread of its own.
state_machine_actor::behavior_type
state_machine(state_machine_actor::stateful_pointer<state_machine_state> self,
              std::shared_ptr<kv_store> store);

/// Spawns it, `detached` (its own thread) or on the scheduler.
state_machine_actor spawn_state_machine(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                   bool detached = true);

} // namespace raftd

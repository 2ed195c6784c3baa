#pragma once

#include <functional>
#include <memory>

#include <caf/expected.hpp>

#include "messages/actors.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace raftd {

class kv_store;

/// Opens the kv store again (after the one before was dropped).
using kv_reopener = std::function<caf::expected<std::unique_ptr<kv_store>>()>;

struct state_machine_state {
  static inline const char* name = "state_machine";
  std::shared_ptr<kv_store> store;
  /// How to reopen the store after a failed apply; empty: it cannot be.
  kv_reopener reopen;
  /// An apply failed: the store must be reopened before the next one.
  bool failed = false;
};

/// The KV STATE MACHINE: applies committed entries in order and serves
/// local reads. The daemon spawns it `detached`: a LevelDB write can stall
/// behind compaction, and must not stall the role with it (main.cpp).
state_machine_actor::behavior_type
state_machine(state_machine_actor::stateful_pointer<state_machine_state> self,
              std::shared_ptr<kv_store> store, kv_reopener reopen);

/// Spawns it, `detached` (its own thread) or on the scheduler.
state_machine_actor spawn_state_machine(caf::actor_system& sys,
                                        std::shared_ptr<kv_store> store,
                                        bool detached = true,
                                        kv_reopener reopen = {});

} // namespace raftd

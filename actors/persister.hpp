#pragma once

#include <functional>
#include <memory>

#include <caf/expected.hpp>

#include "messages/actors.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace raftd {

class log_store;

/// Opens the log store again (after the one before was dropped).
using log_reopener = std::function<caf::expected<std::unique_ptr<log_store>>()>;

struct persister_state {
  static inline const char* name = "persister";
  std::shared_ptr<log_store> store;
  /// How to reopen the store after a failed write; empty: it cannot be
  /// (recover then fails and the node stays degraded).
  log_reopener reopen;
  /// A trim step is queued (atom::trim sent to itself).
  bool trimming = false;
};

/// The PERSISTER: one synced write per batch, in arrival order. Spawn it
/// `detached`: LevelDB's fsync blocks its thread, never a scheduler worker.
persister_actor::behavior_type
persister(persister_actor::stateful_pointer<persister_state> self,
          std::shared_ptr<log_store> store, log_reopener reopen);

/// Spawns it; `detached` (its own thread) unless a test scheduler runs it.
persister_actor spawn_persister(caf::actor_system& sys,
                                std::shared_ptr<log_store> store,
                                bool detached = true,
                                log_reopener reopen = {});

} // namespace raftd

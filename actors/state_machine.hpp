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
class kv_install;

/// Opens the kv store again (after the one before was dropped).
using kv_reopener = std::function<caf::expected<std::unique_ptr<kv_store>>()>;

/// Starts writing a snapshot beside the live store (storage/snapshot.hpp).
using kv_installer = std::function<caf::expected<std::unique_ptr<kv_install>>(
  const snapshot_meta&)>;

/// How the state machine keeps and replaces its store.
struct state_machine_config {
  /// How to reopen the store after a failed apply; empty: it cannot be.
  kv_reopener reopen;
  /// How to start installing a snapshot; empty: installs are refused.
  kv_installer installer;
  /// Once this many entries were applied since the last synced write, the
  /// next apply syncs the store: the log below it may then be compacted
  /// (§7). Zero: never (the log is never compacted).
  uint64_t sync_every = 0;
  /// A known bug for the simulation's tests: switch to a snapshot after its
  /// first chunk, ignoring the rest and the totals (a follower then holds
  /// part of the state, §7). Never set outside tests.
  bool bug_switch_partial = false;
};

struct state_machine_state {
  static inline const char* name = "state_machine";
  std::shared_ptr<kv_store> store;
  state_machine_config cfg;
  /// An apply failed: the store must be reopened before the next one.
  bool failed = false;
  /// The snapshot being received from a leader, and the chunk it wants next.
  std::unique_ptr<kv_install> install;
  uint64_t next_seq = 0;
};

/// The KV STATE MACHINE: applies committed entries in order, serves local
/// reads, syncs its store now and then so the log can be compacted, hands
/// out consistent views of its state and installs snapshots from a leader.
/// The daemon spawns it `detached`: a LevelDB write can stall behind
/// compaction, and must not stall the role with it (main.cpp).
state_machine_actor::behavior_type
state_machine(state_machine_actor::stateful_pointer<state_machine_state> self,
              std::shared_ptr<kv_store> store, state_machine_config cfg);

/// Spawns it, `detached` (its own thread) or on the scheduler.
state_machine_actor spawn_state_machine(caf::actor_system& sys,
                                        std::shared_ptr<kv_store> store,
                                        bool detached = true,
                                        state_machine_config cfg = {});

} // namespace raftd

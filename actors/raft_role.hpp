#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "messages/actors.hpp"

namespace caf {
class actor_system;
class error;
} // namespace caf

namespace raftd {

class raft_core;

struct role_config {
  /// This server, as the cluster reaches it.
  member self;
  /// One logical tick of the core (election timeouts count ticks).
  std::chrono::milliseconds tick_interval{10};
  /// How long a client write may wait for its entry to apply before the
  /// answer is `outcome_unknown` (HTTP 504).
  std::chrono::milliseconds write_timeout{5000};
  /// Values above this are refused before anything is proposed.
  size_t max_value_size = 1 << 20;
  /// Called once if the log cannot be made durable; the role stops.
  std::function<void(const caf::error&)> on_fatal;
};

/// Spawns the ROLE around `core`. With `bootstrap`, an empty log first gets
/// the founding configuration (this server alone).
role_actor spawn_raft_role(caf::actor_system& sys, role_config cfg,
                           std::unique_ptr<raft_core> core,
                           persister_actor persister, state_machine_actor sm,
                           uint64_t applied_index, bool bootstrap);

} // namespace raftd

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "messages/actors.hpp"
#include "raft/progress.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace raftd {

/// Limits and timers of one replicator.
struct replicator_config {
  /// The peer this replicator links to, and this node's name.
  member peer;
  node_name self;
  /// Empty AppendEntries go out this often when nothing else does (§5.2).
  std::chrono::milliseconds heartbeat{50};
  /// An RPC without a reply for this long is given up; the window resets.
  std::chrono::milliseconds rpc_timeout{1000};
  /// Reconnect back-off: doubles from `min` up to `max` while the peer is
  /// unreachable.
  std::chrono::milliseconds reconnect_min{50};
  std::chrono::milliseconds reconnect_max{250};
  /// AppendEntries in flight at once while the peer keeps up (pipelining).
  size_t max_inflight = 8;
  /// Where a snapshot comes from when the peer needs entries this node
  /// compacted away (§7).
  state_machine_actor sm;
  /// Snapshot chunks: bytes of keys and values each, and how many may be
  /// unacknowledged at once (flow control: the follower writes each).
  size_t snapshot_chunk_bytes = 1 << 20;
  size_t snapshot_window = 4;
  /// Read snapshots on a thread of their own (the daemon); the simulation
  /// runs everything on its one test scheduler.
  bool detached_streams = true;
};

/// Spawns the replicator for `cfg.peer`. It connects through `connector`
/// and reports to `role`.
replicator_actor spawn_replicator(caf::actor_system& sys,
                                  replicator_config cfg, role_actor role,
                                  connector_actor connector);

} // namespace raftd

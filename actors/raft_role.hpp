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

/// What an observer (the simulation) sees of a role. Both run inside the
/// role actor, synchronously: keep them cheap and never block.
struct role_observer {
  /// After every step, with the core as it now is.
  std::function<void(const raft_core&)> on_step;
  /// Each batch the state machine applied, in order.
  std::function<void(const std::vector<log_entry>&)> on_applied;
  /// A snapshot the state machine installed from a leader (§7): once as
  /// the role learns of the switch (`log_durable` false; later batches
  /// skip what it covers), once more when the log's reset is durable.
  std::function<void(const snapshot_meta&, bool log_durable)> on_installed;
};

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
  /// Called once if the log cannot be made durable and the node cannot
  /// recover from it (see `storage_retry`); the role stops.
  std::function<void(const caf::error&)> on_fatal;
  /// After a failed log write or apply, how often the node tries to reopen
  /// its stores and rejoin; meanwhile it serves stale reads only
  /// (actors/role_recovery.cpp). Zero: no retry, a failure is fatal.
  std::chrono::milliseconds storage_retry{0};
  /// How replicators reach peers (the simulation swaps this).
  connector_actor connector;
  /// Leader heartbeat interval (§5.2).
  std::chrono::milliseconds heartbeat{50};
  /// Peer RPC timeout; shorter than it takes a healthy cluster to notice.
  std::chrono::milliseconds rpc_timeout{1000};
  /// Most entries and bytes in one AppendEntries.
  size_t max_batch_entries = 4096;
  size_t max_batch_bytes = 4 << 20;
  /// AppendEntries in flight per peer.
  size_t max_inflight = 8;
  /// Log compaction (§7): once the state machine's snapshot is durable at
  /// index S, the log up to S - snapshot_trailing goes (the state machine
  /// syncs every `snapshot_entries` applied entries: state_machine_config).
  /// Zero snapshot_entries: the log is never compacted.
  uint64_t snapshot_entries = 0;
  uint64_t snapshot_trailing = 0;
  /// Snapshot chunks sent to a follower: size and how many unacknowledged.
  size_t snapshot_chunk_bytes = 1 << 20;
  size_t snapshot_window = 4;
  /// Snapshots are read on threads of their own (false in the simulation).
  bool detached_streams = true;
  /// A joining server is added once one round of catching up takes no
  /// longer than this (the election timeout, thesis §4.2.1)...
  std::chrono::milliseconds catch_up_round{150};
  /// ...within this many rounds and this long, or the join fails.
  int max_catch_up_rounds = 10;
  std::chrono::milliseconds catch_up_timeout{30000};
  /// Watches the role (the simulation's safety checks); empty in the daemon.
  role_observer observer;
  /// A known bug for the simulation's tests: answer a vote before it is
  /// durable (breaks Figure 2's "respond after persisting"). Never set
  /// outside tests.
  bool bug_vote_before_durable = false;
  /// A known bug for the simulation's tests: answer linearizable reads from
  /// the local state machine, without ReadIndex (thesis §6.4).
  bool bug_local_reads = false;
  /// A known bug for the simulation's tests: answer a delete at its commit
  /// with found = true, without waiting for the apply to say.
  bool bug_delete_before_apply = false;
};

/// Spawns the ROLE around `core`. `applied` is the state machine's
/// snapshot (what it applied, durable: what a restart found). With
/// `bootstrap`, an empty log first gets the founding configuration (this
/// server alone).
role_actor spawn_raft_role(caf::actor_system& sys, role_config cfg,
                           std::unique_ptr<raft_core> core,
                           persister_actor persister, state_machine_actor sm,
                           const snapshot_meta& applied, bool bootstrap);

} // namespace raftd

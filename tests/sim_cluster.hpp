#pragma once
// Deterministic cluster simulation: 3 or 5 nodes, each with its real role,
// persister, replicators and state machine, all in one CAF test_coordinator.
// Peers talk through the fault-injecting network (tests/sim_network.hpp);
// clients write, delete and read throughout (their history is checked for
// linearizability at the end, tests/sim_history.hpp); the safety checks
// (tests/sim_checker.hpp) run after every step. All randomness comes from
// one seed, so a seed replays its run exactly.
//
// Each step runs one message of one actor, picked at random among those
// with mail, or lets a little virtual time pass (timers due fire), or, when
// nothing is queued, jumps to the next timer. The seed also draws the
// scenario: cluster size, link faults (drop, duplicate, delay, which
// reorders), how often faults strike, replication limits, election timeout,
// each node's clock (up to 10% off).
//
// Faults: crash a node (its disk keeps only what its persister wrote, and
// its kv state every batch its state machine applied, as LevelDB's would;
// it restarts from that applied index, as the daemon does) and restart it
// later; crash it just as its
// persister has a write queued; partition nodes (symmetric, one-way, with
// or without breaking connections); pause a node (SIGSTOP: its role, its
// persister, state machine and every replicator its role spawned stop;
// their mail waits). Aimed faults
// strike at the moments that matter: right after a vote is granted, as a
// node becomes leader, at a leader's first commit in its term. Half of the
// seeds churn leaders this way on purpose (see churn_leaders()).
//
// Membership (thesis ch. 4), in the seeds that draw it: spare servers with
// empty disks join, members leave, a server joins that never catches up
// (down or paused: it must not be added, §4.2.1), the leader removes
// itself (§4.2.2), during the faults and once more after them. The same
// safety checks hold after every step; liveness waits for the cluster the
// leader leaves and expects only the members of the leader's committed
// configuration to follow it. Changes go only to a leader that has
// committed an entry of its term (sim_options::unguarded_changes).
//
// Log compaction (§7; thesis ch. 5), in the seeds that draw it: every node
// compacts its log behind its state machine's durable snapshot, often
// (small thresholds), so a follower cut off or down for a while needs a
// snapshot, streamed in small chunks through the same faulty network. An
// install may crash its node at any of its steps (install_step), and a
// node restarts from whatever its kv state and log then hold (some crashes
// are a machine's: the kv state loses what it applied since its last
// sync, and the log must still hold that). The kv state itself is checked
// against the committed log at every apply and install, and every
// member's whole state once the cluster is quiet.
//
// A run has two phases: faults for `fault_time` of virtual time, then calm:
// every node up and running, every link healed and lossless, and within
// `liveness_bound` a leader must be elected, a new write acknowledged and
// applied everywhere, followers must keep up, and every earlier request
// must have been answered.

#include <array>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace raftd::sim {

/// Known bugs to switch on (core_config::bugs, role_config).
struct bug_switches {
  /// Grant a vote before it is durable (role_config).
  bool vote_before_durable = false;
  /// Commit an older term's entry by counting replicas (§5.4.2).
  bool commit_old_terms = false;
  /// Accept appends without the §5.3 consistency check.
  bool skip_log_check = false;
  /// Answer linearizable reads from the local state machine, without
  /// ReadIndex (role_config).
  bool local_reads = false;
  /// Answer a delete at its commit, before it is applied, with found = true
  /// (role_config).
  bool delete_before_apply = false;
  /// A follower switches to a snapshot after its first chunk, ignoring the
  /// rest and the totals (state_machine_config).
  bool partial_snapshot = false;
};

/// Which seeds change membership.
enum class membership_mode {
  off,  ///< None: the founding members only.
  half, ///< Half of the seeds (drawn apart from the rest, so the other
        ///< half draws what it drew before membership changes existed).
  all,  ///< Every seed.
};

/// Parses "off", "half", "all"; false if unknown.
bool parse_membership(const std::string& name, membership_mode& out);

/// Which seeds compact their logs and install snapshots (§7).
enum class snapshot_mode {
  off,  ///< None: logs grow, nobody needs a snapshot.
  half, ///< Half of the seeds (drawn apart, as membership_mode::half).
  all,  ///< Every seed.
};

/// Parses "off", "half", "all"; false if unknown.
bool parse_snapshots(const std::string& name, snapshot_mode& out);

/// The steps of an install at which the sim crashes the follower.
enum class install_step {
  begin,         ///< The install began; no chunk written yet.
  chunk,         ///< A chunk was written (more may follow).
  before_switch, ///< The last chunk was written; the switch is next.
  after_switch,  ///< The state machine switched; the log's reset is not
                 ///< durable yet.
  log_durable,   ///< The log's reset is durable too.
};
constexpr size_t install_steps = 5;

/// Parses "vote_before_durable", "commit_old_terms", "skip_log_check",
/// "local_reads", "delete_before_apply", "partial_snapshot" (comma-separated); false if a name
/// is unknown.
bool parse_bugs(const std::string& names, bug_switches& out);

struct sim_options {
  uint64_t seed = 1;
  bug_switches bugs;
  /// Check "durable before reply" at the network (the vote and append
  /// replies against the voter's and follower's disk).
  bool check_durable_replies = true;
  membership_mode membership = membership_mode::half;
  /// Check linearizable reads against acknowledged writes by log index
  /// (check::linearizable_reads), and the clients' whole history per key
  /// with a linearizability checker (check::history).
  bool check_reads = true;
  bool check_history = true;
  /// Check that a committed leave is answered as a success. Off by
  /// default: the removal of the leader is answered "outcome unknown"
  /// (a known finding, see check_change_reply in sim_cluster.cpp).
  bool strict_change_replies = false;
  /// Let a change reach a leader that has not yet committed an entry of its
  /// term (asked of any member, which forwards it). Off by default, the sim
  /// asks only a leader that has, and forwarded changes are lost: raftd's
  /// role starts a change as soon as the previous configuration commits,
  /// so two leaders' changes to one configuration can have disjoint
  /// majorities and a committed entry is lost (a known bug: the
  /// single-server change bug, Ongaro, raft-dev, 2015). It also lets a
  /// leader remove itself before its term's first commit; if it then loses
  /// leadership, its log may be the only one that can win, and raft_core
  /// never campaigns outside its own latest configuration (against thesis
  /// §4.2.2): nobody is ever elected.
  bool unguarded_changes = false;
  /// Log compaction (§7): which seeds compact. Such a seed draws how often
  /// (the state machine syncs every 5 to 60 applied entries, the log keeps
  /// 0 to 20 behind), the chunk size (one pair to all of them), and how
  /// often an install crashes its node at a drawn step (install_step).
  snapshot_mode snapshots = snapshot_mode::half;
  /// If nonzero: every seed compacts, with these thresholds.
  uint64_t snapshot_entries = 0;
  uint64_t snapshot_trailing = 0;
  /// Virtual time with faults, then the bound for liveness after them.
  std::chrono::milliseconds fault_time{3000};
  std::chrono::milliseconds liveness_bound{10000};
  /// Stops a run that takes more steps (a guard against a busy loop).
  uint64_t max_steps = 2'000'000;
  /// Writes the client history as JSON lines (tests/lin/checker.py reads
  /// them) to `history_out` if not null.
  std::ostream* history_out = nullptr;
  /// Prints every step, fault and role change to `trace` if not null.
  std::ostream* trace = nullptr;
};

struct sim_result {
  uint64_t seed = 0;
  bool ok = true;
  /// The broken check and what was seen (empty if ok).
  std::string check;
  std::string detail;
  /// The step at which the check broke (or the last step) and virtual time.
  uint64_t step = 0;
  int64_t virtual_ms = 0;
  /// A digest of the whole run: equal for two runs of one seed.
  uint64_t fingerprint = 0;
  /// What happened, for the summary.
  size_t nodes = 0;
  uint64_t crashes = 0;
  uint64_t acked_writes = 0;
  uint64_t reads = 0;
  uint64_t max_term = 0;
  /// Keys whose history the checker could not decide within its budget.
  uint64_t history_undecided = 0;
  uint64_t messages_dropped = 0;
  /// Membership changes that committed, and joins refused because the new
  /// server did not catch up.
  uint64_t joins = 0;
  uint64_t leaves = 0;
  uint64_t leader_removals = 0;
  uint64_t stuck_joins_refused = 0;
  /// Log compaction (§7): compactions (not by an install), snapshots
  /// installed by followers, restarts that found a compacted log, crashes
  /// that lost the kv state's unsynced applies, and crashes at each
  /// install step.
  uint64_t compactions = 0;
  uint64_t snapshots_installed = 0;
  uint64_t compacted_restarts = 0;
  uint64_t power_losses = 0;
  std::array<uint64_t, install_steps> install_crashes{};
};

/// Runs one seed.
sim_result run_simulation(const sim_options& opts);

/// "seed 7 step 1234 (t=2.345s): election safety: n1 and n2 both lead ..."
std::string describe(const sim_result& r);

} // namespace raftd::sim

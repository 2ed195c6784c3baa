#pragma once
// The Raft rules, pure: no actors, no disk, no clock. Time comes in as ticks,
// randomness from `core_config::seed`, so a seed replays exactly. The role
// actor (actors/raft_role.cpp) turns messages into calls and effects into
// sends. Section numbers refer to Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm" (§5), and Ongaro's thesis (thesis §).

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messages/types.hpp"
#include "raft/log.hpp"
#include "raft/membership.hpp"

namespace raftd {

/// What this server currently is (§5.1; pre-candidate: thesis §9.6).
enum class role_kind : uint8_t { follower, pre_candidate, candidate, leader };

const char* to_string(role_kind r);

struct core_config {
  node_name id;
  /// Drives the election-timeout jitter.
  uint64_t seed = 0;
  /// Election timeout in ticks; each wait is random in [t, 2t) (§5.2).
  int election_ticks = 15;
  /// Pre-vote before a real election (thesis §9.6).
  bool pre_vote = true;
  /// A leader that has not heard from a majority for an election timeout
  /// steps down (thesis §6.2).
  bool check_quorum = true;
  /// Known bugs, switched on only by the simulation's tests to show that it
  /// catches them. Never set outside tests.
  struct {
    /// Commit an older term's entry by counting replicas (breaks §5.4.2).
    bool commit_old_terms = false;
    /// Accept appends without the consistency check (breaks §5.3).
    bool skip_log_check = false;
  } bugs;
};

/// What the caller must do after a call into the core, in this order:
/// 1. make `hard_state()` durable if `save_state`, truncate the log at
///    `truncate_from` if nonzero and append `append`, all in one synced write;
/// 2. only then send `after_sync` (vote requests) and the RPC reply the call
///    returned (granted votes, append acks, §5.1 "respond after persisting");
/// 3. apply `committed` to the state machine, in order (any time: they are
///    already durable here and committed by a majority).
struct effects {
  bool save_state = false;
  /// The log's compacted prefix moved up to (compact_to, compact_term):
  /// entries at or below it go from the disk too (§7).
  uint64_t compact_to = 0;
  uint64_t compact_term = 0;
  uint64_t truncate_from = 0;
  std::vector<log_entry> append;
  std::vector<std::pair<node_name, vote_request>> after_sync;
  std::vector<log_entry> committed;
  /// The role or the known leader changed (for logging and waiting clients).
  bool role_changed = false;

  /// True if anything must be written before replies go out.
  bool needs_write() const {
    return save_state || truncate_from != 0 || !append.empty()
           || compact_to != 0;
  }
};

class raft_core {
public:
  /// Starts from durable state. `applied` is the state machine's applied
  /// index: those entries were committed, so commit starts there.
  raft_core(core_config cfg, hard_state hs, std::vector<log_entry> log,
            uint64_t applied);
  /// Starts from a log after a compacted prefix and the state machine's
  /// snapshot `applied` (its index was applied; its configuration is in
  /// force unless the log holds a later one). The log must continue the
  /// snapshot: log.prefix_index() <= applied.index <= log.last_index(),
  /// with the same term at applied.index (the caller reconciles the two
  /// first, see main.cpp).
  raft_core(core_config cfg, hard_state hs, raft_log log,
            const snapshot_meta& applied);

  /// Writes the founding configuration (this server alone) at index 1 of an
  /// empty log. It counts as committed: a cluster of one agrees with itself.
  void bootstrap(const member& self, effects& out);

  // -- inputs ----------------------------------------------------------------

  /// One logical tick: election timeout, check-quorum.
  void tick(effects& out);

  /// RequestVote receiver (§5.2, §5.4.1; pre-vote thesis §9.6).
  vote_response handle_vote_request(const vote_request& req, effects& out);

  /// RequestVote reply, at a (pre-)candidate.
  void handle_vote_response(const vote_response& resp, effects& out);

  /// AppendEntries receiver (§5.3).
  append_response handle_append_request(append_request req,
                                        effects& out);

  /// A replicator reports that `peer` holds the leader's log up to `match`
  /// durably (sent in `term`). Drives the commit index (§5.3, §5.4.2).
  void handle_match(const node_name& peer, uint64_t term, uint64_t match,
                    effects& out);

  /// Someone answered with a higher term: step down (§5.1).
  void observe_term(uint64_t term, effects& out);

  /// The local log is durable up to (index, term) (the persister replied).
  void persisted(uint64_t index, uint64_t term, effects& out);

  /// InstallSnapshot receiver, for each chunk (§7): true if it comes from
  /// the leader of this term or a later one (followed from now on, the
  /// election timer reset), false if it is stale or meant for another node.
  bool handle_install_chunk(const snapshot_chunk& c, effects& out);

  /// Log compaction (§7): the state machine's snapshot is durable at or
  /// past `upto`, which is applied here: the entries up to it go. The
  /// configuration in force at `upto` is kept.
  void compact(uint64_t upto, effects& out);

  /// InstallSnapshot receiver (§7, thesis §5.3): the state machine now holds
  /// snapshot `m` (switched to it). A log that holds m's last entry keeps
  /// what follows it; any other log is discarded whole.
  void install_snapshot(const snapshot_meta& m, effects& out);

  /// Leader only: appends a client command; returns its index, or nothing if
  /// this server is not the leader.
  std::optional<uint64_t> propose(entry_kind kind, std::string key,
                                  std::string value, effects& out);

  // -- queries -----------------------------------------------------------------

  role_kind role() const { return role_; }
  const core_config& config() const { return cfg_; }
  uint64_t term() const { return term_; }
  const node_name& id() const { return cfg_.id; }
  /// The leader of the current term, or empty if unknown.
  const node_name& leader() const { return leader_; }
  /// The leader this server follows has been heard from within the minimum
  /// election timeout (always true on the leader itself). Past that, it may
  /// be dead or cut off: clients are better told "no leader" than sent there.
  bool leader_heard_recently() const;
  hard_state durable_state() const { return {term_, voted_for_}; }
  uint64_t commit_index() const { return commit_index_; }
  uint64_t last_index() const { return log_.last_index(); }
  uint64_t last_term() const { return term_at(last_index()); }
  uint64_t stable_index() const { return stable_index_; }
  /// Term of the entry at `index` (0 for index 0 or beyond the log).
  uint64_t term_at(uint64_t index) const;
  const log_entry& entry(uint64_t index) const { return log_.at(index); }
  /// The log itself: slices for AppendEntries come from here.
  const raft_log& log() const { return log_; }
  /// The latest configuration in the log (thesis §4.1).
  const std::vector<member>& members() const { return members_; }
  const member* find_member(const node_name& name) const;
  /// Leader only: what each peer is known to hold.
  uint64_t match_of(const node_name& peer) const;
  /// True if `id` votes in the current configuration.
  bool is_voter(const node_name& id) const;
  /// How many voters make a majority of the current configuration.
  size_t quorum() const;
  /// Index of the latest configuration entry (0: none).
  uint64_t config_index() const { return config_index_; }
  /// True while the latest configuration is not yet committed: no other
  /// change may start (thesis §4.1, one server at a time).
  bool config_pending() const { return config_index_ > commit_index_; }

private:
  // -- state changes (§5.1, §5.2) --------------------------------------------
  void become_follower(uint64_t term, node_name leader, effects& out);
  void become_pre_candidate(effects& out);
  void become_candidate(effects& out);
  void become_leader(effects& out);
  void campaign(bool pre_vote, effects& out);
  void reset_election_timer();

  // -- log -------------------------------------------------------------------
  void append_local(log_entry e, effects& out);
  void truncate_local(uint64_t from, effects& out);
  bool log_up_to_date(uint64_t last_term, uint64_t last_index) const;
  void maybe_commit(effects& out);
  void emit_committed(effects& out);
  void reload_members();
  /// A message from `leader` of `term`: false if the term is stale; else
  /// follows it (§5.1, §5.2) and resets the election timer.
  bool accept_leader(uint64_t term, const node_name& leader, effects& out);
  /// Drops from `req` what the compacted prefix already covers.
  void skip_compacted(append_request& req) const;

  // -- votes -------------------------------------------------------------------
  bool in_lease() const;
  /// Granted votes from members of the latest configuration (our own
  /// counts only if we are one, thesis §4.2.2).
  size_t votes_in_config() const;

  // -- invariants --------------------------------------------------------------
  struct checked_call;
  /// Stops the node (RAFTD_CHECK) if what must hold after any call does
  /// not; `commit_before` is the commit index when the call began.
  void check_invariants(uint64_t commit_before) const;

  core_config cfg_;
  std::mt19937_64 rng_;

  /// Latest term this server has seen (§5.1). Only grows. Durable (persister
  /// replied) before this server grants a vote or acknowledges entries.
  uint64_t term_ = 0;
  /// Who got this server's vote in `term_` (§5.2); durable with `term_`.
  node_name voted_for_;
  /// The log after its compacted prefix (raft/log.hpp).
  raft_log log_;
  /// Highest index known durable on this server's disk.
  uint64_t stable_index_ = 0;
  /// Highest index known committed (§5.3). Not durable: restarts from the
  /// state machine's applied index.
  uint64_t commit_index_ = 0;
  /// Highest index handed out in `effects::committed`.
  uint64_t emitted_index_ = 0;

  role_kind role_ = role_kind::follower;
  node_name leader_;
  std::vector<member> members_;
  uint64_t config_index_ = 0;
  /// The configuration in force at the compacted prefix (the latest one at
  /// or below it): used while the log after it holds none.
  uint64_t prefix_config_index_ = 0;
  std::string prefix_config_;

  /// Ticks since the last reset: heard from a leader, granted a vote, or
  /// started an election.
  int election_elapsed_ = 0;
  /// This round's timeout, random in [election_ticks, 2 * election_ticks).
  int randomized_timeout_ = 0;
  /// Granted votes of this (pre-)election, including our own.
  std::set<node_name> votes_;
  /// Leader: highest index each peer holds durably.
  std::unordered_map<node_name, uint64_t> match_;
  /// Leader: peers heard from since the last check-quorum round.
  std::set<node_name> recently_active_;
  int check_quorum_elapsed_ = 0;
};

} // namespace raftd

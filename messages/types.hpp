#pragma once
// Plain data that crosses actor and node boundaries. Everything here is
// serializable by CAF (an `inspect` overload per type) and registered once in
// messages/register.cpp, which the daemon, raftctl and the tests all call.
// No actor headers here: this file is included almost everywhere.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace raftd {

/// A node's name: 7 lowercase hex characters, made once and kept in DATA/name.
using node_name = std::string;

/// What a log entry does when it is applied.
enum class entry_kind : uint8_t {
  noop = 0,   ///< Appended by every new leader (§5.4.2, thesis §6.4).
  put = 1,    ///< key := value.
  del = 2,    ///< Remove key.
  config = 3, ///< value holds an encoded `membership` (thesis §4.1).
};

/// One Raft log entry (§5.3). `index` and `term` never change once written.
struct log_entry {
  uint64_t term = 0;
  uint64_t index = 0;
  entry_kind kind = entry_kind::noop;
  std::string key;
  std::string value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_entry& x) {
  return f(caf::meta::type_name("log_entry"), x.term, x.index, x.kind, x.key,
           x.value);
}

inline bool operator==(const log_entry& a, const log_entry& b) {
  return a.term == b.term && a.index == b.index && a.kind == b.kind
         && a.key == b.key && a.value == b.value;
}

/// The state Raft must keep durable before answering RPCs (Figure 2).
struct hard_state {
  /// Latest term this server has seen (§5.1).
  uint64_t term = 0;
  /// Candidate that received this server's vote in `term`, or empty.
  node_name voted_for;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hard_state& x) {
  return f(caf::meta::type_name("hard_state"), x.term, x.voted_for);
}

inline bool operator==(const hard_state& a, const hard_state& b) {
  return a.term == b.term && a.voted_for == b.voted_for;
}

/// A member of the cluster and where to reach it.
struct member {
  node_name name;
  std::string http_addr; ///< "host:port" of its HTTP API (for redirects).
  std::string raft_addr; ///< "host:port" of its CAF peer port.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member& x) {
  return f(caf::meta::type_name("member"), x.name, x.http_addr, x.raft_addr);
}

inline bool operator==(const member& a, const member& b) {
  return a.name == b.name && a.http_addr == b.http_addr
         && a.raft_addr == b.raft_addr;
}

/// The voting members (thesis §4.1: a server uses the latest configuration in
/// its log, committed or not).
struct membership {
  std::vector<member> members;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, membership& x) {
  return f(caf::meta::type_name("membership"), x.members);
}

// -- Raft RPCs (§5, Figure 2; pre-vote from thesis §9.6) ----------------------

/// RequestVote arguments. With `pre_vote`, nobody changes term or vote.
struct vote_request {
  uint64_t term = 0; ///< Candidate's term (for a pre-vote: the term it would use).
  node_name candidate;
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  bool pre_vote = false;
  /// The voter this is meant for. A node answers only requests addressed to
  /// its own name: a new node on a dead member's address must not be taken
  /// over by that member's old cluster.
  node_name to;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vote_request& x) {
  return f(caf::meta::type_name("vote_request"), x.term, x.candidate,
           x.last_index, x.last_term, x.pre_vote, x.to);
}

/// RequestVote results.
struct vote_response {
  uint64_t term = 0; ///< Voter's current term (for a granted pre-vote: the request's).
  node_name voter;
  bool granted = false;
  bool pre_vote = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vote_response& x) {
  return f(caf::meta::type_name("vote_response"), x.term, x.voter, x.granted,
           x.pre_vote);
}

/// AppendEntries arguments (§5.3). Empty `entries` is a heartbeat.
struct append_request {
  uint64_t term = 0;
  node_name leader;
  uint64_t prev_index = 0;
  uint64_t prev_term = 0;
  std::vector<log_entry> entries;
  uint64_t commit = 0; ///< Leader's commit index.
  node_name to;        ///< The follower this is meant for (see vote_request).
  /// The leader's read round when this was sent; echoed back, it confirms
  /// leadership for the reads waiting on that round (thesis §6.4).
  uint64_t read_round = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_request& x) {
  return f(caf::meta::type_name("append_request"), x.term, x.leader,
           x.prev_index, x.prev_term, x.entries, x.commit, x.to, x.read_round);
}

/// AppendEntries results. On success `match_index` is the last index known to
/// match the leader's log. On a rejection `conflict_index`/`conflict_term` let
/// the leader skip a whole term at a time (§5.3, "fast back-tracking").
struct append_response {
  uint64_t term = 0;
  node_name follower;
  bool success = false;
  uint64_t match_index = 0;
  uint64_t conflict_index = 0;
  uint64_t conflict_term = 0;
  /// The request's read round, echoed (also on a rejection: any answer in
  /// the leader's term acknowledges it as leader).
  uint64_t read_round = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_response& x) {
  return f(caf::meta::type_name("append_response"), x.term, x.follower,
           x.success, x.match_index, x.conflict_index, x.conflict_term,
           x.read_round);
}

// -- inside one node: persister and state machine -------------------------

/// One durable write: `state` (if `has_state`), then the compacted prefix
/// moved up to (`compact_to`, `compact_term`) (if nonzero; entries at or
/// below it are dropped), then the log truncated at `truncate_from` (if
/// nonzero), then `entries` appended. All or nothing.
struct persist_batch {
  bool has_state = false;
  hard_state state;
  uint64_t truncate_from = 0;
  std::vector<log_entry> entries;
  uint64_t compact_to = 0;
  uint64_t compact_term = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, persist_batch& x) {
  return f(caf::meta::type_name("persist_batch"), x.has_state, x.state,
           x.truncate_from, x.entries, x.compact_to, x.compact_term);
}

/// What the log holds durably: the hard state, the compacted prefix's last
/// index and term (0, 0: nothing compacted) and the entries after it.
/// Read at start, and after the persister reopened its store (a disk that
/// failed and recovered): the role rebuilds its core from it.
struct durable_log {
  hard_state state;
  uint64_t prefix_index = 0;
  uint64_t prefix_term = 0;
  std::vector<log_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, durable_log& x) {
  return f(caf::meta::type_name("durable_log"), x.state, x.prefix_index,
           x.prefix_term, x.entries);
}

/// What a snapshot is (§7, thesis ch. 5): the key/value state after every
/// entry up to `index` (of `term`) was applied, and the configuration in
/// force at that index (thesis §4.1): the latest configuration entry at or
/// below it, its index and its encoded members (0 and "": none yet).
struct snapshot_meta {
  uint64_t index = 0;
  uint64_t term = 0;
  uint64_t config_index = 0;
  std::string config;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_meta& x) {
  return f(caf::meta::type_name("snapshot_meta"), x.index, x.term,
           x.config_index, x.config);
}

inline bool operator==(const snapshot_meta& a, const snapshot_meta& b) {
  return a.index == b.index && a.term == b.term
         && a.config_index == b.config_index && a.config == b.config;
}

/// The outcome of applying one batch: `found[i]` tells, for a delete at
/// entry i, whether its key existed before (DELETE's 404); 0 for the rest.
/// `durable` is the snapshot the state machine's store holds durably (a
/// synced write covered it): the log at or below `durable.index` may go.
struct apply_result {
  uint64_t applied_index = 0;
  std::vector<uint8_t> found;
  snapshot_meta durable;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, apply_result& x) {
  return f(caf::meta::type_name("apply_result"), x.applied_index, x.found,
           x.durable);
}

// -- InstallSnapshot (§7; thesis §5.3), streamed in chunks ---------------------

/// One chunk of a leader's key/value state. Chunk `seq` follows chunk
/// seq - 1 of the same snapshot (same `meta.index` and `meta.term`); keys
/// ascend across the whole stream. The last chunk carries the totals over
/// every pair sent: `count` and `checksum` (storage/snapshot.hpp), checked by
/// the follower before it switches to the new state.
struct snapshot_chunk {
  uint64_t term = 0; ///< The leader's term.
  node_name leader;
  node_name to; ///< The follower this is meant for (see vote_request).
  snapshot_meta meta;
  uint64_t seq = 0;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  bool last = false;
  uint64_t count = 0;
  uint64_t checksum = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_chunk& x) {
  return f(caf::meta::type_name("snapshot_chunk"), x.term, x.leader, x.to,
           x.meta, x.seq, x.keys, x.values, x.last, x.count, x.checksum);
}

/// The follower's answer to a chunk. `next_seq` is the chunk it wants next
/// of that snapshot (0: start over). `done`: the snapshot is installed, and
/// this follower's log continues from `meta.index` + 1.
struct install_response {
  uint64_t term = 0;
  node_name follower;
  bool ok = false;
  uint64_t next_seq = 0;
  bool done = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, install_response& x) {
  return f(caf::meta::type_name("install_response"), x.term, x.follower, x.ok,
           x.next_seq, x.done);
}

/// What a follower's state machine did with a snapshot chunk: the chunk it
/// wants next (0: start over) and, once `done`, the snapshot it now holds.
struct install_progress {
  uint64_t next_seq = 0;
  bool done = false;
  snapshot_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, install_progress& x) {
  return f(caf::meta::type_name("install_progress"), x.next_seq, x.done,
           x.meta);
}

// -- client-facing -----------------------------------------------------------

/// How a read is served.
enum class read_mode : uint8_t {
  linearizable = 0, ///< Sees every write acknowledged before it (thesis §6.4).
  stale = 1,        ///< This node's local state, at once (the seed's reads).
};

/// One member as `/status` shows it.
struct member_status {
  member info;
  std::string role;      ///< "leader", "follower", "candidate" or "unknown".
  uint64_t match_index = 0;
  bool reachable = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_status& x) {
  return f(caf::meta::type_name("member_status"), x.info, x.role,
           x.match_index, x.reachable);
}

/// What `GET /status` and `raftctl status` show.
struct node_status {
  node_name name;
  std::string state; ///< "leader", "follower", "candidate".
  uint64_t term = 0;
  node_name leader;  ///< Empty when unknown.
  std::string leader_http;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  std::vector<member_status> members;
  /// Why this node cannot write to its disk ("" while it can). Meanwhile it
  /// takes no part in Raft and serves stale reads only.
  std::string storage_error;
  /// The durable snapshot (index, term) and the first index the log holds.
  uint64_t snapshot_index = 0;
  uint64_t snapshot_term = 0;
  uint64_t first_index = 1;
  /// Snapshots this node installed from a leader, and sent to followers,
  /// since it started.
  uint64_t snapshots_installed = 0;
  uint64_t snapshots_sent = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("node_status"), x.name, x.state, x.term,
           x.leader, x.leader_http, x.commit_index, x.applied_index,
           x.last_index, x.members, x.storage_error, x.snapshot_index,
           x.snapshot_term, x.first_index, x.snapshots_installed,
           x.snapshots_sent);
}

} // namespace raftd

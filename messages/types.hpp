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

/// One durable write: `state` (if `has_state`), then the log truncated at
/// `truncate_from` (if nonzero), then `entries` appended. All or nothing.
struct persist_batch {
  bool has_state = false;
  hard_state state;
  uint64_t truncate_from = 0;
  std::vector<log_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, persist_batch& x) {
  return f(caf::meta::type_name("persist_batch"), x.has_state, x.state,
           x.truncate_from, x.entries);
}

/// What the log holds durably, read back after the persister reopened its
/// store (a disk that failed and recovered): the role rebuilds its core from
/// it.
struct durable_log {
  hard_state state;
  std::vector<log_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, durable_log& x) {
  return f(caf::meta::type_name("durable_log"), x.state, x.entries);
}

/// The outcome of applying one batch: `found[i]` tells, for a delete at
/// entry i, whether its key existed before (DELETE's 404); 0 for the rest.
struct apply_result {
  uint64_t applied_index = 0;
  std::vector<uint8_t> found;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, apply_result& x) {
  return f(caf::meta::type_name("apply_result"), x.applied_index, x.found);
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("node_status"), x.name, x.state, x.term,
           x.leader, x.leader_http, x.commit_index, x.applied_index,
           x.last_index, x.members, x.storage_error);
}

} // namespace raftd

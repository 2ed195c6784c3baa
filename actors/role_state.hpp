#pragma once
// The ROLE actor's state and the functions that act on it, split by idea
// across actors/role_*.cpp; actors/raft_role.cpp wires them to messages.
// Internal to the role: nothing outside actors/role_*.cpp and raft_role.cpp
// includes this header.
//
//   role_writes.cpp      durable writes (group commit), applying, answering
//                        client writes (§5.3, thesis §10.2.1)
//   role_fanout.cpp      the replicators: one per peer, what they are told
//   role_reads.cpp       linearizable reads: ReadIndex (thesis §6.4)
//   role_membership.cpp  joins and leaves (thesis ch. 4)
//   role_snapshots.cpp   log compaction and InstallSnapshot (§7, thesis ch. 5)
//   role_backup.cpp      snapshots read by clients for backups
//   raft_role.cpp        effects of a core call, timers, status, the behavior

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/result.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/group_commit.hpp"
#include "actors/raft_role.hpp"
#include "actors/replicator.hpp"
#include "raft/core.hpp"

namespace raftd::role {

using after_fn = group_commit::after_fn;

/// A client write waiting for its entry to commit (a put) or to be applied
/// (a delete, whose answer says whether the key existed).
struct pending_write {
  uint64_t term = 0;
  bool is_delete = false;
  caf::typed_response_promise<uint64_t> put_rp;
  caf::typed_response_promise<uint64_t, bool> del_rp;
};

/// A linearizable read waiting for its read index (thesis §6.4): a GET here
/// (`local`) or a follower's read_index request (`remote`).
struct read_waiter {
  bool is_remote = false;
  std::string key;
  caf::typed_response_promise<bool, std::string> local;
  caf::typed_response_promise<uint64_t> remote;
  uint64_t deadline_tick = 0;
  /// The read index, once known (0: not yet).
  uint64_t index = 0;
  /// Leader: the heartbeat round whose majority acknowledgement confirms it.
  uint64_t round = 0;
};

/// Removes and returns the waiters for which `done` holds, in order.
template <class Pred>
std::vector<read_waiter> take_if(std::vector<read_waiter>& ws, Pred done) {
  auto split = std::stable_partition(ws.begin(), ws.end(),
                                     [&](auto& w) { return !done(w); });
  std::vector<read_waiter> out(std::make_move_iterator(split),
                               std::make_move_iterator(ws.end()));
  ws.erase(split, ws.end());
  return out;
}

/// A server being caught up before it joins (thesis §4.2.1): it gets the log
/// in rounds; once a round ends within an election timeout, it is added.
struct catch_up {
  member m;
  caf::typed_response_promise<uint64_t> rp;
  uint64_t round_target = 0;
  uint64_t round_start_tick = 0;
  int rounds = 0;
  uint64_t deadline_tick = 0;
};

/// A snapshot a client is reading for a backup (role_backup.cpp).
struct backup_read {
  snapshot_stream_actor stream;
  /// The tick of the last request for a chunk: idle too long, it closes.
  uint64_t last_used_tick = 0;
};

struct role_state {
  static inline const char* name = "raft_role";

  role_config cfg;
  std::unique_ptr<raft_core> core;
  persister_actor persister;
  state_machine_actor sm;

  /// The write at the persister and the one collecting what comes next.
  group_commit commits;

  /// Highest index the state machine has applied.
  uint64_t applied_index = 0;
  /// Client writes by log index: puts are answered when their entry
  /// commits, deletes when it applies (apply_committed).
  std::map<uint64_t, pending_write> writes;
  /// (deadline tick, index) in proposal order, for 504 after write_timeout.
  std::deque<std::pair<uint64_t, uint64_t>> write_deadlines;
  /// Local reads whose index is known, waiting until the state machine has
  /// applied that far.
  std::vector<read_waiter> reads;

  /// Logical time: ticks since start.
  uint64_t now_tick = 0;
  uint64_t write_timeout_ticks = 0;
  /// One replicator per other member: the link to that peer.
  std::map<node_name, replicator_actor> replicators;
  /// The configuration entry (index, term) and joining server the
  /// replicators were last matched to: skip the work when neither changed.
  std::pair<uint64_t, uint64_t> synced_config{~uint64_t{0}, 0};
  node_name synced_joining;
  /// Peers whose replicator is connected.
  std::set<node_name> reachable;
  /// The term this node leads as the replicators know it (0: none), and
  /// the log end and commit they were last told.
  uint64_t lead_term = 0;
  uint64_t told_last = 0;
  uint64_t told_commit = 0;
  /// The server being caught up to join, if any.
  std::optional<catch_up> joining;

  /// Leader: reads waiting for this term's first commit or for a majority
  /// to acknowledge their round (thesis §6.4).
  std::vector<read_waiter> unconfirmed;
  /// Leader: the current read round, stamped on outgoing appends; a new
  /// round starts only once the current one went out, so every read waiting
  /// at that moment shares one confirmation.
  uint64_t read_round = 0;
  bool round_stamped = true;
  /// Leader, this term: the highest read round each peer acknowledged.
  std::unordered_map<node_name, uint64_t> acked_round;
  /// Follower: reads waiting to ask the leader, and those whose request is
  /// out (one request in flight serves all of them).
  std::vector<read_waiter> follower_waiting;
  std::vector<read_waiter> follower_asking;
  /// The leader and term `follower_asking` was sent to, and a number that
  /// changes whenever that request is abandoned (its answer is then late
  /// and ignored).
  node_name asked_leader;
  uint64_t asked_term = 0;
  uint64_t ask_seq = 0;
  /// Work batched until the role's mailbox drains (a flush message sent to
  /// itself comes after everything queued now): committed entries to apply,
  /// and whether the replicators are owed new entries, a commit index or a
  /// read round. Under load, one push, one apply and one confirmation then
  /// serve every client request that arrived meanwhile.
  bool flush_pending = false;
  std::vector<log_entry> to_apply;
  bool confirm_due = false;
  bool failed = false;
  /// Why this node cannot write to its disk (none: it can). While set the
  /// node takes no part in Raft and serves stale reads only; from
  /// `retry_tick` on it tries to reopen its stores (role_recovery.cpp).
  caf::error storage_error;
  uint64_t retry_tick = 0;
  bool recovering = false;

  /// The state machine's durable snapshot, as it last reported it.
  snapshot_meta snapshot;
  /// Leader: snapshots on their way to peers, by the index they end at:
  /// the log from there on stays until they are installed.
  std::map<node_name, uint64_t> installing;
  uint64_t snapshots_installed = 0;
  uint64_t snapshots_sent = 0;
  /// Backups being read, by the id their client reads them by; each keeps
  /// a consistent view of the kv store (and its files) alive until closed.
  std::map<uint64_t, backup_read> backups;
  uint64_t last_backup_id = 0;

  /// Replicators and backup streams live as long as the role: they stop
  /// with it.
  ~role_state() {
    for (auto& [name, r] : replicators)
      caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    for (auto& [id, b] : backups)
      caf::anon_send_exit(b.stream, caf::exit_reason::user_shutdown);
  }
};

using role_ptr = role_actor::stateful_pointer<role_state>;

// -- raft_role.cpp -------------------------------------------------------------

/// `d` in role ticks, at least one.
uint64_t ticks_of(const role_state& st, std::chrono::milliseconds d);

/// Runs what a call into the core asks for; `reply` goes out once every
/// write issued so far is durable.
void handle_effects(role_ptr self, effects& e, after_fn reply = {});

// -- role_writes.cpp -----------------------------------------------------------

void start_write(role_ptr self);
void fail(role_ptr self, const caf::error& err);
void fail_write(pending_write& w, const caf::error& err);
void apply_committed(role_ptr self, std::vector<log_entry> entries);
caf::error not_leader_error(const role_state& st);
caf::error check_key(const std::string& key);
caf::result<uint64_t> on_put(role_ptr self, std::string key,
                             std::string value);
caf::result<uint64_t, bool> on_delete(role_ptr self, std::string key);

// -- role_fanout.cpp -----------------------------------------------------------

void send_vote_request(role_ptr self, const node_name& to,
                       const vote_request& req);
void sync_replicators(role_ptr self);
void schedule_flush(role_ptr self);
void drive_replicators(role_ptr self);
void push_to_replicators(role_ptr self);
caf::result<append_request> next_append(role_state& st, uint64_t term,
                                        uint64_t from);

// -- role_reads.cpp ------------------------------------------------------------

void read_local(role_ptr self, std::string key,
                caf::typed_response_promise<bool, std::string> rp);
void serve_reads(role_ptr self);
void fail_read(read_waiter& w, const caf::error& err);
void advance_reads(role_ptr self);
void retarget_reads(role_ptr self);
caf::result<bool, std::string> on_get(role_ptr self, std::string key,
                                      read_mode mode);
caf::result<uint64_t> on_read_index(role_ptr self);

// -- role_recovery.cpp ---------------------------------------------------------

void storage_failed(role_ptr self, const caf::error& err);
caf::error refuse_if_degraded(const role_state& st);
void retry_storage(role_ptr self);

// -- role_snapshots.cpp --------------------------------------------------------

void maybe_compact(role_ptr self, const snapshot_meta& durable);
caf::result<install_response> on_install(role_ptr self, snapshot_chunk c);
void on_snapshot_sending(role_ptr self, const node_name& peer, uint64_t index,
                         bool finished, bool ok);

// -- role_backup.cpp -----------------------------------------------------------

caf::result<uint64_t> on_backup_open(role_ptr self);
caf::result<snapshot_chunk> on_backup_read(role_ptr self, uint64_t id,
                                           uint64_t seq);
void close_backup(role_ptr self, uint64_t id);
void expire_backups(role_ptr self);

// -- role_membership.cpp -------------------------------------------------------

void check_catch_up(role_ptr self, uint64_t match);
caf::result<uint64_t> on_join(role_ptr self, member m);
caf::result<uint64_t> on_leave(role_ptr self, node_name name);

// -- templates -----------------------------------------------------------------

/// Proposes a client command; `rp` is answered when it commits or applies
/// (apply_committed), fails, or times out.
template <class Promise>
Promise propose(role_ptr self, entry_kind kind, std::string key,
                std::string value, pending_write w, Promise rp) {
  auto& st = self->state;
  effects e;
  auto index = st.core->propose(kind, std::move(key), std::move(value), e);
  if (!index) {
    rp.deliver(not_leader_error(st));
    return rp;
  }
  w.term = st.core->term();
  st.writes.emplace(*index, std::move(w));
  st.write_deadlines.emplace_back(st.now_tick + st.write_timeout_ticks, *index);
  handle_effects(self, e);
  return rp;
}

} // namespace raftd::role

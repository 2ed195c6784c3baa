#include "actors/raft_role.hpp"

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/actor_cast.hpp>
#include <caf/delegated.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/logging.hpp"
#include "actors/raft_core.hpp"
#include "actors/replicator.hpp"
#include "messages/errors.hpp"

namespace raftd {

namespace {

using after_fn = std::function<void()>;

/// A durable write being built or running, and what waits for it.
struct write_slot {
  bool used = false;
  persist_batch batch;
  /// Replies and sends that may go out only once this write is durable.
  std::vector<after_fn> after;
};

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

struct role_state {
  static inline const char* name = "raft_role";

  role_config cfg;
  std::unique_ptr<raft_core> core;
  persister_actor persister;
  state_machine_actor sm;

  /// The write at the persister, and the one collecting what comes next
  /// (group commit: everything proposed during one fsync shares the next).
  write_slot in_flight;
  write_slot next;

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

  /// Replicators live as long as the role: they stop with it.
  ~role_state() {
    for (auto& [name, r] : replicators)
      caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  }
};

using role_ptr = role_actor::stateful_pointer<role_state>;

// -- durable writes ------------------------------------------------------------

void run_all(std::vector<after_fn>& fs) {
  auto todo = std::move(fs);
  fs.clear();
  for (auto& f : todo)
    f();
}

void handle_effects(role_ptr self, effects& e, after_fn reply = {});

void start_write(role_ptr self);

/// The last entry a write makes durable: (index, term), or (0, 0).
std::pair<uint64_t, uint64_t> last_of(const persist_batch& b) {
  if (b.entries.empty())
    return {0, 0};
  return {b.entries.back().index, b.entries.back().term};
}

void on_write_done(role_ptr self, std::pair<uint64_t, uint64_t> last) {
  auto& st = self->state;
  effects e;
  if (last.first != 0)
    st.core->persisted(last.first, last.second, e);
  auto after = std::move(st.in_flight.after);
  st.in_flight = write_slot{};
  run_all(after);
  handle_effects(self, e);
  start_write(self);
}

void fail(role_ptr self, const caf::error& err) {
  auto& st = self->state;
  if (st.failed)
    return;
  st.failed = true;
  RAFTD_LOG(error, "cannot make the log durable: "
                     << self->system().render(err) << "; stopping");
  if (st.cfg.on_fatal)
    st.cfg.on_fatal(err);
  self->quit(err);
}

void start_write(role_ptr self) {
  auto& st = self->state;
  if (st.in_flight.used || !st.next.used || st.failed)
    return;
  st.in_flight = std::move(st.next);
  st.next = write_slot{};
  auto last = last_of(st.in_flight.batch);
  // The batch moves into the message: the role keeps only what waits on it.
  self->request(st.persister, caf::infinite, atom::write::value,
                std::move(st.in_flight.batch))
    .then([=](uint64_t) { on_write_done(self, last); },
          [=](caf::error& err) { fail(self, err); });
}

/// Adds the core's writes to the next batch. Truncation drops whatever the
/// batch meant to append from that index on.
void merge_write(role_state& st, effects& e) {
  auto& b = st.next.batch;
  st.next.used = true;
  if (e.save_state) {
    b.has_state = true;
    b.state = st.core->durable_state();
  }
  if (e.truncate_from != 0) {
    auto from = e.truncate_from;
    if (b.truncate_from == 0 || from < b.truncate_from)
      b.truncate_from = from;
    auto& es = b.entries;
    while (!es.empty() && es.back().index >= from)
      es.pop_back();
  }
  for (auto& x : e.append)
    b.entries.push_back(std::move(x));
}

/// Runs `f` once every write issued so far is durable.
void after_writes(role_state& st, after_fn f) {
  if (st.next.used)
    st.next.after.push_back(std::move(f));
  else if (st.in_flight.used)
    st.in_flight.after.push_back(std::move(f));
  else
    f();
}

// -- applying ------------------------------------------------------------------

void serve_reads(role_ptr self);

void advance_reads(role_ptr self);

void retarget_reads(role_ptr self);

void fail_write(pending_write& w, const caf::error& err) {
  if (w.is_delete)
    w.del_rp.deliver(err);
  else
    w.put_rp.deliver(err);
}

void answer_write(role_state& st, uint64_t index, uint64_t term, bool found) {
  auto i = st.writes.find(index);
  if (i == st.writes.end())
    return;
  auto& w = i->second;
  if (w.term != term) {
    // A new leader replaced our entry at this index: it never applied.
    fail_write(w, make_error(errc::superseded, "replaced by a new leader"));
  } else if (w.is_delete) {
    w.del_rp.deliver(index, found);
  } else {
    w.put_rp.deliver(index);
  }
  st.writes.erase(i);
}

void apply_committed(role_ptr self, std::vector<log_entry> entries) {
  if (entries.empty())
    return;
  auto& st = self->state;
  // The entries move into the message. Answering needs only the client
  // writes among them: (position, index, term) of each.
  struct waiting {
    size_t pos;
    uint64_t index;
    uint64_t term;
  };
  std::vector<waiting> puts;
  std::vector<waiting> dels;
  if (!st.writes.empty())
    for (size_t i = 0; i < entries.size(); ++i)
      if (auto w = st.writes.find(entries[i].index); w != st.writes.end())
        (w->second.is_delete ? dels : puts)
          .push_back({i, entries[i].index, entries[i].term});
  std::shared_ptr<std::vector<log_entry>> seen; // the observer's (tests) copy
  if (st.cfg.observer.on_applied)
    seen = std::make_shared<std::vector<log_entry>>(entries);
  self->request(st.sm, caf::infinite, atom::apply::value, std::move(entries))
    .then(
      [=](const apply_result& r) {
        auto& st = self->state;
        if (seen)
          st.cfg.observer.on_applied(*seen);
        st.applied_index = std::max(st.applied_index, r.applied_index);
        for (auto& d : dels)
          answer_write(st, d.index, d.term,
                       d.pos < r.found.size() && r.found[d.pos] != 0);
        serve_reads(self);
      },
      [=](caf::error& err) { fail(self, err); });
  // A put is decided once committed (§5.3); its answer needs nothing from
  // the state machine, so it goes out now rather than after the apply's
  // reply: one round trip to the state machine's thread less per write
  // (p50 at 1 connection ~0.03 ms lower, bench/RESULTS.md). Reads still see
  // it: this node's reads reach the state machine after this apply (one
  // sender, one receiver: CAF keeps the order), and a linearizable read
  // anywhere waits for an index at or past this one.
  for (auto& p : puts)
    answer_write(st, p.index, p.term, false);
}

void log_role_change(role_state& st) {
  auto& c = *st.core;
  if (c.role() == role_kind::leader)
    RAFTD_LOG(notice, "became leader in term " << c.term());
  else if (!c.leader().empty())
    RAFTD_LOG(notice, "following " << c.leader() << " in term " << c.term());
  else
    RAFTD_LOG(info, "now " << to_string(c.role()) << " in term " << c.term());
}

void send_vote_request(role_ptr self, const node_name& to,
                       const vote_request& req) {
  auto i = self->state.replicators.find(to);
  if (i != self->state.replicators.end())
    self->send(i->second, atom::vote::value, req);
}

replicator_actor make_replicator(role_ptr self, const member& m) {
  auto& st = self->state;
  replicator_config rc;
  rc.peer = m;
  rc.heartbeat = st.cfg.heartbeat;
  rc.rpc_timeout = st.cfg.rpc_timeout;
  rc.max_inflight = st.cfg.max_inflight;
  auto r = spawn_replicator(self->system(), rc, self, st.cfg.connector);
  if (st.lead_term != 0)
    self->send(r, atom::lead::value, st.lead_term, st.core->last_index() + 1);
  return r;
}

/// Keeps one replicator per other member (thesis §4.1: the configuration in
/// the log is the one in force).
void sync_replicators(role_ptr self) {
  auto& st = self->state;
  auto& c = *st.core;
  std::pair<uint64_t, uint64_t> config{c.config_index(),
                                       c.term_at(c.config_index())};
  auto joining = st.joining ? st.joining->m.name : node_name{};
  if (config == st.synced_config && joining == st.synced_joining)
    return; // runs after every step: most steps change no membership
  st.synced_config = config;
  st.synced_joining = joining;
  std::set<node_name> want;
  for (auto& m : st.core->members())
    if (m.name != st.core->id())
      want.insert(m.name);
  if (st.joining)
    want.insert(st.joining->m.name);
  for (auto i = st.replicators.begin(); i != st.replicators.end();) {
    if (want.count(i->first) > 0) {
      ++i;
      continue;
    }
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
    st.reachable.erase(i->first);
    i = st.replicators.erase(i);
  }
  for (auto& m : st.core->members())
    if (want.count(m.name) > 0 && st.replicators.count(m.name) == 0)
      st.replicators.emplace(m.name, make_replicator(self, m));
  if (st.joining && st.replicators.count(st.joining->m.name) == 0)
    st.replicators.emplace(st.joining->m.name,
                           make_replicator(self, st.joining->m));
}

/// The leader's entries after `after`, as one AppendEntries for any peer
/// that holds the log up to `after` (the replicator names the receiver).
append_request new_entries(role_state& st, uint64_t after, uint64_t last) {
  auto& c = *st.core;
  st.round_stamped = true; // it carries the current read round
  append_request req{c.term(), c.id(), after, c.term_at(after), {},
                     c.commit_index(), {}, st.read_round};
  req.entries.reserve(last - after);
  for (auto i = after + 1; i <= last; ++i)
    req.entries.push_back(c.entry(i));
  return req;
}

void schedule_flush(role_ptr self) {
  auto& st = self->state;
  if (st.flush_pending)
    return;
  st.flush_pending = true;
  self->send(self, atom::flush::value);
}

void push_to_replicators(role_ptr self);

/// Tells the replicators whether this node leads; new entries and commits go
/// out at the next flush.
void drive_replicators(role_ptr self) {
  auto& st = self->state;
  auto& c = *st.core;
  bool leading = c.role() == role_kind::leader;
  if (leading && st.lead_term != c.term()) {
    st.lead_term = c.term();
    st.acked_round.clear();
    st.told_last = c.last_index();
    for (auto& [name, r] : st.replicators)
      self->send(r, atom::lead::value, c.term(), c.last_index() + 1);
  } else if (!leading && st.lead_term != 0) {
    st.lead_term = 0;
    for (auto& [name, r] : st.replicators)
      self->send(r, atom::follow::value);
    // Our proposals may still commit under the next leader, or not: say so
    // now rather than at the write timeout.
    for (auto& [index, w] : st.writes)
      fail_write(w, make_error(errc::outcome_unknown,
                               "leadership lost; it may still commit"));
    st.writes.clear();
    // Their deadlines go too: a write proposed at the same index in a later
    // term must get its own full timeout, not theirs.
    st.write_deadlines.clear();
  }
  if (leading
      && (c.last_index() != st.told_last || c.commit_index() != st.told_commit))
    schedule_flush(self);
}

/// Tells the replicators how far the log and commit index went since they
/// were last told: new entries are pushed (built once, shared by every
/// replicator).
void push_to_replicators(role_ptr self) {
  auto& st = self->state;
  auto& c = *st.core;
  auto last = c.last_index();
  if (c.role() != role_kind::leader
      || (last == st.told_last && c.commit_index() == st.told_commit))
    return;
  if (last > st.told_last && !st.replicators.empty()) {
    auto msg = caf::make_message(atom::append::value,
                                 new_entries(st, st.told_last, last));
    for (auto& [name, r] : st.replicators)
      caf::anon_send(caf::actor_cast<caf::actor>(r), msg);
  } else {
    for (auto& [name, r] : st.replicators)
      self->send(r, atom::pump::value, last, c.commit_index());
  }
  st.told_last = last;
  st.told_commit = c.commit_index();
}

/// The next AppendEntries for a peer whose log should continue at `from`.
caf::result<append_request> next_append(role_state& st, uint64_t term,
                                        uint64_t from) {
  st.round_stamped = true; // this request carries the current read round
  auto& c = *st.core;
  if (c.role() != role_kind::leader || c.term() != term)
    return make_error(errc::not_leader, "no longer leading that term");
  from = std::max<uint64_t>(1, std::min(from, c.last_index() + 1));
  append_request req{term, c.id(), from - 1, c.term_at(from - 1), {},
                     c.commit_index(), {}, st.read_round};
  size_t bytes = 0;
  for (auto i = from; i <= c.last_index(); ++i) {
    if (req.entries.size() >= st.cfg.max_batch_entries
        || (bytes >= st.cfg.max_batch_bytes && !req.entries.empty()))
      break;
    auto& e = c.entry(i);
    bytes += e.key.size() + e.value.size();
    req.entries.push_back(e);
  }
  return req;
}

void handle_effects(role_ptr self, effects& e, after_fn reply) {
  auto& st = self->state;
  if (e.role_changed)
    log_role_change(st);
  if (e.needs_write())
    merge_write(st, e);
  for (auto& [to, req] : e.after_sync)
    after_writes(st, [=] { send_vote_request(self, to, req); });
  if (reply)
    after_writes(st, std::move(reply));
  start_write(self);
  if (!e.committed.empty()) {
    if (st.to_apply.empty())
      st.to_apply = std::move(e.committed);
    else
      for (auto& x : e.committed)
        st.to_apply.push_back(std::move(x));
    schedule_flush(self);
  }
  sync_replicators(self);
  drive_replicators(self);
  advance_reads(self);
  retarget_reads(self);
  if (st.cfg.observer.on_step)
    st.cfg.observer.on_step(*st.core);
}

/// Runs one call into the core and everything it asks for.
template <class F>
void step(role_ptr self, F f) {
  effects e;
  f(*self->state.core, e);
  handle_effects(self, e);
}

// -- client requests -----------------------------------------------------------

/// Why this node will not take a write: the leader's address if known.
caf::error not_leader_error(const role_state& st) {
  auto& leader = st.core->leader();
  if (leader.empty())
    return make_error(errc::no_leader, "no leader known");
  // A leader silent for an election timeout is likely paused, dead or cut
  // off (an election is due): a redirect there would hang the client.
  if (!st.core->leader_heard_recently())
    return make_error(errc::no_leader, "leader " + leader
                                        + " has not been heard from lately");
  if (auto m = st.core->find_member(leader))
    return make_error(errc::not_leader, m->http_addr);
  return make_error(errc::no_leader, "leader " + leader + " not in config");
}

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

caf::error check_key(const std::string& key) {
  if (key.empty())
    return make_error(errc::bad_request, "empty key");
  return {};
}

caf::result<uint64_t> on_put(role_ptr self, std::string key,
                             std::string value) {
  auto& st = self->state;
  if (auto err = check_key(key))
    return err;
  if (value.size() > st.cfg.max_value_size)
    return make_error(errc::value_too_large,
                      "value over " + std::to_string(st.cfg.max_value_size)
                        + " bytes");
  pending_write w;
  w.put_rp = self->make_response_promise<uint64_t>();
  auto rp = w.put_rp;
  return propose(self, entry_kind::put, std::move(key), std::move(value),
                 std::move(w), rp);
}

caf::result<uint64_t, bool> on_delete(role_ptr self, std::string key) {
  if (auto err = check_key(key))
    return err;
  pending_write w;
  w.is_delete = true;
  w.del_rp = self->make_response_promise<uint64_t, bool>();
  auto rp = w.del_rp;
  return propose(self, entry_kind::del, std::move(key), {}, std::move(w), rp);
}

/// Reads key from the state machine, which answers the client itself (one
/// hop less than relaying the value back through the role).
void read_local(role_ptr self, std::string key,
                caf::typed_response_promise<bool, std::string> rp) {
  rp.delegate(self->state.sm, atom::get::value, std::move(key));
}

void serve_reads(role_ptr self) {
  auto& st = self->state;
  auto ready = take_if(st.reads, [&](auto& w) {
    return w.index <= st.applied_index;
  });
  for (auto& w : ready)
    read_local(self, std::move(w.key), w.local);
}

// -- linearizable reads: ReadIndex (thesis §6.4) ------------------------------

/// Answers a read whose index is known: once the state machine has applied
/// that far, it reads locally.
void complete_read(role_ptr self, read_waiter& w) {
  auto& st = self->state;
  if (w.is_remote) {
    w.remote.deliver(w.index);
    return;
  }
  st.reads.push_back(std::move(w));
}

void fail_read(read_waiter& w, const caf::error& err) {
  if (w.is_remote)
    w.remote.deliver(err);
  else
    w.local.deliver(err);
}

/// True once a majority acknowledged this node as leader in `round`.
bool round_confirmed(const role_state& st, uint64_t round) {
  auto& c = *st.core;
  size_t acks = 0;
  for (auto& m : c.members()) {
    if (m.name == c.id())
      ++acks;
    else if (auto i = st.acked_round.find(m.name);
             i != st.acked_round.end() && i->second >= round)
      ++acks;
  }
  return acks >= c.quorum();
}

/// Gives waiting reads their index and round, and answers confirmed ones.
void advance_reads(role_ptr self) {
  auto& st = self->state;
  auto& c = *st.core;
  auto& ws = st.unconfirmed;
  if (ws.empty())
    return;
  if (c.role() != role_kind::leader) {
    for (auto& w : ws)
      fail_read(w, not_leader_error(st));
    ws.clear();
    return;
  }
  // A new leader knows its commit index only once an entry of its own term
  // has committed (its no-op): until then, reads wait.
  bool ready = c.term_at(c.commit_index()) == c.term();
  bool ask = false;
  for (auto& w : ws) {
    if (w.index != 0 || !ready)
      continue;
    w.index = c.commit_index();
    if (st.round_stamped) {
      ++st.read_round;
      st.round_stamped = false;
      ask = true;
    }
    w.round = st.read_round;
  }
  if (ask) {
    st.confirm_due = true;
    schedule_flush(self);
  }
  auto confirmed = take_if(ws, [&](auto& w) {
    return w.index != 0 && round_confirmed(st, w.round);
  });
  for (auto& w : confirmed)
    complete_read(self, w);
  serve_reads(self);
}

/// The mailbox drained up to the flush message: send what built up.
void on_flush(role_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  push_to_replicators(self);
  if (st.confirm_due) {
    st.confirm_due = false;
    if (st.core->role() == role_kind::leader)
      for (auto& [name, r] : st.replicators)
        self->send(r, atom::confirm::value, st.read_round);
  }
  apply_committed(self, std::move(st.to_apply));
  st.to_apply.clear();
}

/// The replicator that reaches the leader this follower can ask for a read
/// index, or null: none known, or silent for an election timeout (paused,
/// dead or cut off; an election is due).
const replicator_actor* usable_leader(const role_state& st) {
  auto& c = *st.core;
  if (c.leader().empty() || !c.leader_heard_recently())
    return nullptr;
  auto i = st.replicators.find(c.leader());
  return i == st.replicators.end() ? nullptr : &i->second;
}

void enqueue_read(role_ptr self, read_waiter w);

/// Follower: asks the leader for a read index on behalf of every read
/// waiting now; the reads then wait until this node has applied that far.
/// With no usable leader they keep waiting, up to their deadline, for the
/// next one (retarget_reads asks it once known).
void ask_read_index(role_ptr self) {
  auto& st = self->state;
  if (!st.follower_asking.empty() || st.follower_waiting.empty())
    return;
  auto leader = usable_leader(st);
  if (leader == nullptr)
    return;
  st.follower_asking = std::move(st.follower_waiting);
  st.follower_waiting.clear();
  st.asked_leader = st.core->leader();
  st.asked_term = st.core->term();
  auto seq = ++st.ask_seq;
  self->request(*leader, st.cfg.write_timeout, atom::read_index::value)
    .then(
      [=](uint64_t index) {
        auto& st = self->state;
        if (seq != st.ask_seq)
          return; // abandoned: its reads were asked of a newer leader
        for (auto& w : st.follower_asking) {
          w.index = index;
          complete_read(self, w);
        }
        st.follower_asking.clear();
        serve_reads(self);
        ask_read_index(self);
      },
      [=](caf::error&) {
        auto& st = self->state;
        if (seq != st.ask_seq)
          return;
        for (auto& w : st.follower_asking)
          fail_read(w, make_error(errc::no_leader,
                                  "the leader did not confirm the read"));
        st.follower_asking.clear();
        ask_read_index(self);
      });
}

/// Follower reads asked of a leader that has since gone silent or been
/// replaced (a new term, a new leader, or this node leads now) would wait
/// for an answer that may never come, for the whole write timeout, and
/// every read after them behind it. Instead they are taken back and asked
/// of the next leader as soon as one is known (thesis §6.4 needs only that
/// the read index come from a leader confirmed after the read arrived).
void retarget_reads(role_ptr self) {
  auto& st = self->state;
  auto& c = *st.core;
  bool stale_ask = !st.follower_asking.empty()
                   && (c.leader() != st.asked_leader
                       || c.term() != st.asked_term
                       || !c.leader_heard_recently());
  if (stale_ask) {
    ++st.ask_seq; // the old request's answer, if any, is ignored
    auto asked = std::move(st.follower_asking);
    st.follower_asking.clear();
    asked.insert(asked.end(), std::make_move_iterator(st.follower_waiting.begin()),
                 std::make_move_iterator(st.follower_waiting.end()));
    st.follower_waiting = std::move(asked);
  }
  if (c.role() == role_kind::leader && !st.follower_waiting.empty()) {
    auto waiting = std::move(st.follower_waiting);
    st.follower_waiting.clear();
    for (auto& w : waiting)
      enqueue_read(self, std::move(w));
    return;
  }
  ask_read_index(self);
}

/// A read arriving on a follower with no usable leader is refused at once
/// (the client may try another node); one already on its way waits.
void enqueue_read(role_ptr self, read_waiter w) {
  auto& st = self->state;
  if (st.core->role() == role_kind::leader) {
    st.unconfirmed.push_back(std::move(w));
    advance_reads(self);
  } else if (w.is_remote) {
    fail_read(w, not_leader_error(st));
  } else if (usable_leader(st) == nullptr && st.follower_asking.empty()) {
    fail_read(w, make_error(errc::no_leader, "no leader known"));
  } else {
    st.follower_waiting.push_back(std::move(w));
    ask_read_index(self);
  }
}

caf::result<bool, std::string> on_get(role_ptr self, std::string key,
                                      read_mode mode) {
  auto& st = self->state;
  if (auto err = check_key(key))
    return err;
  auto rp = self->make_response_promise<bool, std::string>();
  if (mode == read_mode::stale) {
    read_local(self, std::move(key), rp); // the seed's local read
    return rp;
  }
  read_waiter w;
  w.key = std::move(key);
  w.local = rp;
  w.deadline_tick = st.now_tick + st.write_timeout_ticks;
  enqueue_read(self, std::move(w));
  return rp;
}

caf::result<uint64_t> on_read_index(role_ptr self) {
  auto& st = self->state;
  if (st.core->role() != role_kind::leader)
    return not_leader_error(st);
  read_waiter w;
  w.is_remote = true;
  w.remote = self->make_response_promise<uint64_t>();
  w.deadline_tick = st.now_tick + st.write_timeout_ticks;
  auto rp = w.remote;
  enqueue_read(self, std::move(w));
  return rp;
}

node_status make_status(const role_state& st) {
  auto& c = *st.core;
  node_status s;
  s.name = c.id();
  s.state = to_string(c.role());
  s.term = c.term();
  s.leader = c.leader();
  if (auto m = c.find_member(c.leader()))
    s.leader_http = m->http_addr;
  s.commit_index = c.commit_index();
  s.applied_index = st.applied_index;
  s.last_index = c.last_index();
  for (auto& m : c.members()) {
    member_status ms;
    ms.info = m;
    bool self = m.name == c.id();
    ms.role = self ? to_string(c.role())
                   : (m.name == c.leader() ? "leader" : "follower");
    ms.match_index = c.role() == role_kind::leader ? c.match_of(m.name) : 0;
    ms.reachable = self || st.reachable.count(m.name) > 0;
    s.members.push_back(std::move(ms));
  }
  return s;
}

// -- membership (thesis ch. 4) ------------------------------------------------

uint64_t ticks_of(const role_state& st, std::chrono::milliseconds d) {
  auto tick = std::max<int64_t>(1, st.cfg.tick_interval.count());
  return std::max<int64_t>(1, d.count() / tick);
}

/// Why a membership change cannot start now, if it cannot.
caf::error change_blocked(const role_state& st) {
  if (st.core->config_pending())
    return make_error(errc::busy, "another membership change is committing");
  if (st.joining)
    return make_error(errc::busy, "server " + st.joining->m.name
                                    + " is catching up to join");
  return {};
}

/// A joining server must not take a name or an address already in use.
caf::error check_new_member(const role_state& st, const member& m) {
  if (m.name.empty() || m.http_addr.empty() || m.raft_addr.empty())
    return make_error(errc::bad_request, "a member needs a name and addresses");
  for (auto& x : st.core->members()) {
    if (x.name == m.name && !(x == m))
      return make_error(errc::conflict, "name " + m.name
                                          + " is already a member at "
                                          + x.http_addr);
    if (x.name != m.name
        && (x.http_addr == m.http_addr || x.raft_addr == m.raft_addr))
      return make_error(errc::conflict, "address in use by member " + x.name);
  }
  return {};
}

/// Proposes a configuration entry; `rp` gets its index once committed.
void propose_config(role_ptr self, std::vector<member> ms,
                    caf::typed_response_promise<uint64_t> rp) {
  pending_write w;
  w.put_rp = rp;
  propose(self, entry_kind::config, {}, encode_members(ms), std::move(w), rp);
}

void finish_catch_up(role_ptr self, caf::error err) {
  auto& st = self->state;
  auto j = std::move(*st.joining);
  st.joining.reset();
  if (err) {
    RAFTD_LOG(warn, "server " << j.m.name << " did not join: "
                               << describe(err));
    j.rp.deliver(err);
    sync_replicators(self); // drops its replicator
    return;
  }
  RAFTD_LOG(notice, "adding server " << j.m.name << " at " << j.m.http_addr);
  auto ms = st.core->members();
  ms.push_back(j.m);
  propose_config(self, std::move(ms), j.rp);
}

/// Called when the joining server's match grows, and on ticks.
void check_catch_up(role_ptr self, uint64_t match) {
  auto& st = self->state;
  if (!st.joining)
    return;
  auto& j = *st.joining;
  if (st.core->role() != role_kind::leader)
    return finish_catch_up(self, not_leader_error(st));
  if (st.now_tick >= j.deadline_tick)
    return finish_catch_up(self, make_error(errc::busy,
                                            "the new server did not catch up "
                                            "in time"));
  if (match < j.round_target)
    return;
  // Thesis §4.2.1: once a round takes no longer than an election timeout,
  // the new server is close enough to add without hurting availability.
  if (st.now_tick - j.round_start_tick <= ticks_of(st, st.cfg.catch_up_round))
    return finish_catch_up(self, {});
  if (++j.rounds >= st.cfg.max_catch_up_rounds)
    return finish_catch_up(self, make_error(errc::busy,
                                            "the new server is too slow to "
                                            "catch up"));
  j.round_target = st.core->last_index();
  j.round_start_tick = st.now_tick;
}

template <class F>
caf::result<uint64_t> forward_to_leader(role_ptr self, F&& msg) {
  auto& st = self->state;
  auto i = st.replicators.find(st.core->leader());
  if (st.core->leader().empty() || i == st.replicators.end())
    return not_leader_error(st);
  return msg(i->second);
}

caf::result<uint64_t> on_join(role_ptr self, member m) {
  auto& st = self->state;
  if (st.core->role() != role_kind::leader)
    return forward_to_leader(self, [&](replicator_actor& r) {
      return self->delegate(r, atom::join::value, std::move(m));
    });
  if (auto err = check_new_member(st, m))
    return err;
  if (st.core->find_member(m.name))
    return st.core->config_index(); // already a member: nothing to do
  if (auto err = change_blocked(st))
    return err;
  RAFTD_LOG(notice, "catching up server " << m.name << " at " << m.raft_addr
                                          << " before it joins");
  auto rp = self->make_response_promise<uint64_t>();
  st.joining = catch_up{m, rp, st.core->last_index(), st.now_tick, 0,
                        st.now_tick + ticks_of(st, st.cfg.catch_up_timeout)};
  sync_replicators(self);
  return rp;
}

caf::result<uint64_t> on_leave(role_ptr self, node_name name) {
  auto& st = self->state;
  if (st.core->role() != role_kind::leader)
    return forward_to_leader(self, [&](replicator_actor& r) {
      return self->delegate(r, atom::leave::value, std::move(name));
    });
  if (!st.core->find_member(name))
    return make_error(errc::not_found, "no member named " + name);
  if (st.core->members().size() == 1)
    return make_error(errc::conflict, "cannot remove the last member");
  if (auto err = change_blocked(st))
    return err;
  RAFTD_LOG(notice, "removing server " << name);
  auto ms = st.core->members();
  ms.erase(std::remove_if(ms.begin(), ms.end(),
                          [&](const member& x) { return x.name == name; }),
           ms.end());
  auto rp = self->make_response_promise<uint64_t>();
  propose_config(self, std::move(ms), rp);
  return rp;
}

// -- time ----------------------------------------------------------------------

/// Answers writes and reads that waited past their bound (HTTP 504 / 503).
void expire_waiters(role_state& st) {
  while (!st.write_deadlines.empty()
         && st.write_deadlines.front().first <= st.now_tick) {
    auto i = st.writes.find(st.write_deadlines.front().second);
    st.write_deadlines.pop_front();
    if (i == st.writes.end())
      continue;
    fail_write(i->second,
               make_error(errc::outcome_unknown,
                          "not confirmed in time; it may still commit"));
    st.writes.erase(i);
  }
  for (auto* ws : {&st.reads, &st.unconfirmed, &st.follower_waiting,
                   &st.follower_asking})
    for (auto& w : take_if(*ws, [&](auto& w) {
           return w.deadline_tick <= st.now_tick;
         }))
      fail_read(w, make_error(errc::no_leader, "read not confirmed in time"));
}

void on_tick(role_ptr self, uint64_t) {
  auto& st = self->state;
  ++st.now_tick;
  effects e;
  st.core->tick(e);
  handle_effects(self, e);
  expire_waiters(st);
  if (st.joining)
    check_catch_up(self, 0);
  self->delayed_send(self, st.cfg.tick_interval, atom::tick::value,
                     st.now_tick);
}

role_actor::behavior_type raft_role(role_ptr self, role_config cfg,
                                    std::shared_ptr<raft_core> core,
                                    persister_actor persister,
                                    state_machine_actor sm,
                                    uint64_t applied_index, bool bootstrap) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.core.reset(new raft_core(std::move(*core)));
  st.persister = std::move(persister);
  st.sm = std::move(sm);
  st.applied_index = applied_index;
  auto tick_ms = std::max<int64_t>(1, st.cfg.tick_interval.count());
  st.write_timeout_ticks = std::max<int64_t>(1, st.cfg.write_timeout.count()
                                                  / tick_ms);
  if (bootstrap && st.core->last_index() == 0) {
    effects e;
    st.core->bootstrap(st.cfg.self, e);
    handle_effects(self, e);
  }
  sync_replicators(self);
  self->send(self, atom::tick::value, uint64_t{0});
  return {
    [=](atom::put, std::string& key, std::string& value) {
      return on_put(self, std::move(key), std::move(value));
    },
    [=](atom::del, std::string& key) { return on_delete(self, std::move(key)); },
    [=](atom::get, std::string& key, read_mode mode) {
      return on_get(self, std::move(key), mode);
    },
    [=](atom::status) { return make_status(self->state); },
    [=](atom::join, member& m) { return on_join(self, std::move(m)); },
    [=](atom::leave, node_name& name) {
      return on_leave(self, std::move(name));
    },
    [=](atom::vote, const vote_request& req) {
      effects e;
      auto resp = self->state.core->handle_vote_request(req, e);
      auto rp = self->make_response_promise<vote_response>();
      if (self->state.cfg.bug_vote_before_durable)
        rp.deliver(resp);
      handle_effects(self, e, [rp, resp]() mutable { rp.deliver(resp); });
      return rp;
    },
    [=](atom::append, append_request& req) {
      effects e;
      auto resp = self->state.core->handle_append_request(std::move(req), e);
      auto rp = self->make_response_promise<append_response>();
      handle_effects(self, e, [rp, resp]() mutable { rp.deliver(resp); });
      return rp;
    },
    [=](atom::tick, uint64_t n) { on_tick(self, n); },
    [=](atom::flush) { on_flush(self); },
    [=](atom::entries, uint64_t term, uint64_t from) {
      return next_append(self->state, term, from);
    },
    [=](atom::match, const node_name& peer, uint64_t term, uint64_t match,
        uint64_t round) {
      auto& st = self->state;
      bool current = term == st.core->term()
                     && st.core->role() == role_kind::leader;
      if (current && st.joining && st.joining->m.name == peer)
        check_catch_up(self, match);
      if (current) {
        auto& acked = st.acked_round[peer];
        acked = std::max(acked, round);
      }
      step(self, [&](raft_core& c, effects& e) {
        c.handle_match(peer, term, match, e);
      });
    },
    [=](atom::read_index) { return on_read_index(self); },
    [=](atom::vote, const vote_response& resp) {
      step(self, [&](raft_core& c, effects& e) {
        c.handle_vote_response(resp, e);
      });
    },
    [=](atom::term, uint64_t term) {
      step(self, [&](raft_core& c, effects& e) { c.observe_term(term, e); });
    },
    [=](atom::peer, const node_name& name, bool up) {
      if (up)
        self->state.reachable.insert(name);
      else
        self->state.reachable.erase(name);
    },
  };
}

} // namespace

role_actor spawn_raft_role(caf::actor_system& sys, role_config cfg,
                           std::unique_ptr<raft_core> core,
                           persister_actor persister, state_machine_actor sm,
                           uint64_t applied_index, bool bootstrap) {
  // spawn() copies its arguments: hand the core over in a shared_ptr.
  std::shared_ptr<raft_core> shared{std::move(core)};
  return sys.spawn(raft_role, std::move(cfg), shared, std::move(persister),
                   std::move(sm), applied_index, bootstrap);
}

} // namespace raftd

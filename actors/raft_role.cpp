#include "actors/raft_role.hpp"

#include <deque>
#include <map>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/delegated.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/logging.hpp"
#include "actors/raft_core.hpp"
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

/// A client write waiting for its entry to be applied.
struct pending_write {
  uint64_t term = 0;
  bool is_delete = false;
  caf::typed_response_promise<uint64_t> put_rp;
  caf::typed_response_promise<uint64_t, bool> del_rp;
};

/// A linearizable read waiting for the state machine to reach `index`.
struct pending_read {
  uint64_t index = 0;
  std::string key;
  caf::typed_response_promise<bool, std::string> rp;
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
  /// Client writes by log index, answered when their entry applies.
  std::map<uint64_t, pending_write> writes;
  /// (deadline tick, index) in proposal order, for 504 after write_timeout.
  std::deque<std::pair<uint64_t, uint64_t>> write_deadlines;
  std::vector<pending_read> reads;

  /// Logical time: ticks since start.
  uint64_t now_tick = 0;
  uint64_t write_timeout_ticks = 0;
  /// Peers' published actors, by name (connected by the replicators).
  std::unordered_map<node_name, node_actor> peers;
  bool failed = false;
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

void on_write_done(role_ptr self) {
  auto& st = self->state;
  auto& b = st.in_flight.batch;
  effects e;
  if (!b.entries.empty())
    st.core->persisted(b.entries.back().index, b.entries.back().term, e);
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
  self->request(st.persister, caf::infinite, atom::write::value,
                st.in_flight.batch)
    .then([=](uint64_t) { on_write_done(self); },
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

void fail_write(pending_write& w, const caf::error& err) {
  if (w.is_delete)
    w.del_rp.deliver(err);
  else
    w.put_rp.deliver(err);
}

void answer_write(role_state& st, const log_entry& e, bool found) {
  auto i = st.writes.find(e.index);
  if (i == st.writes.end())
    return;
  auto& w = i->second;
  if (w.term != e.term) {
    // A new leader replaced our entry at this index: it never applied.
    fail_write(w, make_error(errc::superseded, "replaced by a new leader"));
  } else if (w.is_delete) {
    w.del_rp.deliver(e.index, found);
  } else {
    w.put_rp.deliver(e.index);
  }
  st.writes.erase(i);
}

void apply_committed(role_ptr self, std::vector<log_entry> entries) {
  if (entries.empty())
    return;
  auto& st = self->state;
  self->request(st.sm, caf::infinite, atom::apply::value, entries)
    .then(
      [=](const apply_result& r) {
        auto& st = self->state;
        st.applied_index = std::max(st.applied_index, r.applied_index);
        for (size_t i = 0; i < entries.size(); ++i)
          answer_write(st, entries[i], i < r.found.size() && r.found[i] != 0);
        serve_reads(self);
      },
      [=](caf::error& err) { fail(self, err); });
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
  auto i = self->state.peers.find(to);
  if (i == self->state.peers.end())
    return; // not connected: the election timer will retry
  self->request(i->second, std::chrono::milliseconds{100}, atom::vote::value,
                req)
    .then(
      [=](const vote_response& resp) {
        effects e;
        self->state.core->handle_vote_response(resp, e);
        handle_effects(self, e);
      },
      [](caf::error&) {});
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
  apply_committed(self, std::move(e.committed));
}

// -- client requests -----------------------------------------------------------

/// Why this node will not take a write: the leader's address if known.
caf::error not_leader_error(const role_state& st) {
  auto& leader = st.core->leader();
  if (leader.empty())
    return make_error(errc::no_leader, "no leader known");
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

void read_local(role_ptr self, const std::string& key,
                caf::typed_response_promise<bool, std::string> rp) {
  self->request(self->state.sm, caf::infinite, atom::get::value, key)
    .then([=](bool found, std::string& value) mutable {
            rp.deliver(found, std::move(value));
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

void serve_reads(role_ptr self) {
  auto& st = self->state;
  auto& rs = st.reads;
  auto ready = std::stable_partition(rs.begin(), rs.end(), [&](auto& r) {
    return r.index > st.applied_index;
  });
  std::vector<pending_read> go(std::make_move_iterator(ready),
                               std::make_move_iterator(rs.end()));
  rs.erase(ready, rs.end());
  for (auto& r : go)
    read_local(self, r.key, r.rp);
}

/// The index a read must wait for. A leader uses its commit index once an
/// entry of its own term has committed (thesis §6.4); before that, its last
/// index, which includes its no-op. Followers serve their own state for now.
uint64_t read_index(const role_state& st) {
  auto& c = *st.core;
  if (c.role() != role_kind::leader)
    return st.applied_index;
  if (c.term_at(c.commit_index()) == c.term())
    return c.commit_index();
  return c.last_index();
}

caf::result<bool, std::string> on_get(role_ptr self, std::string key,
                                      read_mode mode) {
  auto& st = self->state;
  if (auto err = check_key(key))
    return err;
  auto rp = self->make_response_promise<bool, std::string>();
  auto index = mode == read_mode::stale ? 0 : read_index(st);
  if (index <= st.applied_index) {
    read_local(self, key, rp);
    return rp;
  }
  st.reads.push_back(pending_read{index, std::move(key), rp,
                                  st.now_tick + st.write_timeout_ticks});
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
    ms.reachable = self || st.peers.count(m.name) > 0;
    s.members.push_back(std::move(ms));
  }
  return s;
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
  auto& rs = st.reads;
  for (auto i = rs.begin(); i != rs.end();) {
    if (i->deadline_tick > st.now_tick) {
      ++i;
      continue;
    }
    i->rp.deliver(make_error(errc::no_leader, "read not confirmed in time"));
    i = rs.erase(i);
  }
}

void on_tick(role_ptr self, uint64_t) {
  auto& st = self->state;
  ++st.now_tick;
  effects e;
  st.core->tick(e);
  handle_effects(self, e);
  expire_waiters(st);
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
    [=](atom::vote, const vote_request& req) {
      effects e;
      auto resp = self->state.core->handle_vote_request(req, e);
      auto rp = self->make_response_promise<vote_response>();
      handle_effects(self, e, [rp, resp]() mutable { rp.deliver(resp); });
      return rp;
    },
    [=](atom::append, const append_request& req) {
      effects e;
      auto resp = self->state.core->handle_append_request(req, e);
      auto rp = self->make_response_promise<append_response>();
      handle_effects(self, e, [rp, resp]() mutable { rp.deliver(resp); });
      return rp;
    },
    [=](atom::tick, uint64_t n) { on_tick(self, n); },
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

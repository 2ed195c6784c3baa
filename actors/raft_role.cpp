// The ROLE actor's wiring: each message becomes a call into the core or
// into one of the role's parts (actors/role_state.hpp lists them), and the
// core's effects become writes and sends.
#include "actors/raft_role.hpp"

#include <caf/actor_system.hpp>

#include "actors/role_state.hpp"
#include "daemon/logging.hpp"
#include "messages/errors.hpp"

namespace raftd {

namespace role {

uint64_t ticks_of(const role_state& st, std::chrono::milliseconds d) {
  auto tick = std::max<int64_t>(1, st.cfg.tick_interval.count());
  return std::max<int64_t>(1, d.count() / tick);
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

void handle_effects(role_ptr self, effects& e, after_fn reply) {
  auto& st = self->state;
  if (st.storage_error)
    return; // a node that cannot write takes no part (role_recovery.cpp)
  if (e.role_changed)
    log_role_change(st);
  if (e.needs_write())
    st.commits.merge(e, st.core->durable_state());
  for (auto& [to, req] : e.after_sync)
    st.commits.after([=] { send_vote_request(self, to, req); });
  if (reply)
    st.commits.after(std::move(reply));
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
  if (self->state.storage_error)
    return; // frozen until the disk recovers (role_recovery.cpp)
  effects e;
  f(*self->state.core, e);
  handle_effects(self, e);
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
  s.snapshot_index = st.snapshot.index;
  s.snapshot_term = st.snapshot.term;
  s.first_index = c.log().first_index();
  s.snapshots_installed = st.snapshots_installed;
  s.snapshots_sent = st.snapshots_sent;
  if (st.storage_error) {
    s.state = "degraded";
    s.storage_error = describe(st.storage_error);
  }
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
  if (st.storage_error)
    retry_storage(self); // no elections meanwhile
  else
    st.core->tick(e);
  handle_effects(self, e);
  expire_waiters(st);
  if (st.joining)
    check_catch_up(self, 0);
  if (!st.backups.empty())
    expire_backups(self);
  self->delayed_send(self, st.cfg.tick_interval, atom::tick::value,
                     st.now_tick);
}

role_actor::behavior_type raft_role(role_ptr self, role_config cfg,
                                    std::shared_ptr<raft_core> core,
                                    persister_actor persister,
                                    state_machine_actor sm,
                                    snapshot_meta applied, bool bootstrap) {
  auto& st = self->state;
  auto applied_index = applied.index;
  st.snapshot = std::move(applied);
  st.cfg = std::move(cfg);
  st.core.reset(new raft_core(std::move(*core)));
  st.persister = std::move(persister);
  st.sm = std::move(sm);
  st.applied_index = applied_index;
  st.write_timeout_ticks = ticks_of(st, st.cfg.write_timeout);
  if (bootstrap && st.core->last_index() == 0) {
    effects e;
    st.core->bootstrap(st.cfg.self, e);
    handle_effects(self, e);
  }
  sync_replicators(self);
  self->send(self, atom::tick::value, uint64_t{0});
  return {
    [=](atom::put, std::string& key,
        std::string& value) -> caf::result<uint64_t> {
      if (auto err = refuse_if_degraded(self->state))
        return err;
      return on_put(self, std::move(key), std::move(value));
    },
    [=](atom::del, std::string& key) -> caf::result<uint64_t, bool> {
      if (auto err = refuse_if_degraded(self->state))
        return err;
      return on_delete(self, std::move(key));
    },
    [=](atom::get, std::string& key,
        read_mode mode) -> caf::result<bool, std::string> {
      if (mode != read_mode::stale && self->state.storage_error)
        return make_error(errc::busy, "this node cannot write to its disk; "
                                      "linearizable reads need it (try "
                                      "another node or ?consistency=stale)");
      return on_get(self, std::move(key), mode);
    },
    [=](atom::status) { return make_status(self->state); },
    [=](atom::join, member& m) -> caf::result<uint64_t> {
      if (auto err = refuse_if_degraded(self->state))
        return err;
      return on_join(self, std::move(m));
    },
    [=](atom::leave, node_name& name) -> caf::result<uint64_t> {
      if (auto err = refuse_if_degraded(self->state))
        return err;
      return on_leave(self, std::move(name));
    },
    [=](atom::vote, const vote_request& req) -> caf::result<vote_response> {
      if (auto err = refuse_if_degraded(self->state))
        return err; // it could not make its vote durable
      effects e;
      auto resp = self->state.core->handle_vote_request(req, e);
      auto rp = self->make_response_promise<vote_response>();
      if (self->state.cfg.bug_vote_before_durable)
        rp.deliver(resp);
      handle_effects(self, e, [rp, resp]() mutable { rp.deliver(resp); });
      return rp;
    },
    [=](atom::append, append_request& req) -> caf::result<append_response> {
      if (auto err = refuse_if_degraded(self->state))
        return err; // it could not make the entries durable
      effects e;
      auto resp = self->state.core->handle_append_request(std::move(req), e);
      auto rp = self->make_response_promise<append_response>();
      handle_effects(self, e, [rp, resp]() mutable { rp.deliver(resp); });
      return rp;
    },
    [=](atom::tick, uint64_t n) { on_tick(self, n); },
    [=](atom::flush) {
      if (self->state.storage_error)
        self->state.flush_pending = false;
      else
        on_flush(self);
    },
    [=](atom::entries, uint64_t term,
        uint64_t from) -> caf::result<append_request> {
      if (auto err = refuse_if_degraded(self->state))
        return err;
      return next_append(self->state, term, from);
    },
    [=](atom::match, const node_name& peer, uint64_t term, uint64_t match,
        uint64_t round) {
      auto& st = self->state;
      if (st.storage_error)
        return;
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
    [=](atom::read_index) -> caf::result<uint64_t> {
      if (auto err = refuse_if_degraded(self->state))
        return err;
      return on_read_index(self);
    },
    [=](atom::vote, const vote_response& resp) {
      step(self, [&](raft_core& c, effects& e) {
        c.handle_vote_response(resp, e);
      });
    },
    [=](atom::term, uint64_t term) {
      step(self, [&](raft_core& c, effects& e) { c.observe_term(term, e); });
    },
    [=](atom::install, snapshot_chunk& c) -> caf::result<install_response> {
      if (auto err = refuse_if_degraded(self->state))
        return err; // it could not write the snapshot
      return on_install(self, std::move(c));
    },
    [=](atom::snapshot, const node_name& peer, uint64_t index, bool finished,
        bool ok) { on_snapshot_sending(self, peer, index, finished, ok); },
    [=](atom::snapshot) { return on_backup_open(self); },
    [=](atom::snapshot, uint64_t id, uint64_t seq) {
      return on_backup_read(self, id, seq);
    },
    [=](atom::close, uint64_t id) { close_backup(self, id); },
    [=](atom::peer, const node_name& name, bool up) {
      if (up)
        self->state.reachable.insert(name);
      else
        self->state.reachable.erase(name);
    },
  };
}

} // namespace role

role_actor spawn_raft_role(caf::actor_system& sys, role_config cfg,
                           std::unique_ptr<raft_core> core,
                           persister_actor persister, state_machine_actor sm,
                           const snapshot_meta& applied, bool bootstrap) {
  // spawn() copies its arguments: hand the core over in a shared_ptr.
  std::shared_ptr<raft_core> shared{std::move(core)};
  return sys.spawn(role::raft_role, std::move(cfg), shared, std::move(persister),
                   std::move(sm), applied, bootstrap);
}

} // namespace raftd

// Membership changes, one server at a time (thesis ch. 4): a joining
// server is caught up in rounds before it is added (§4.2.1); a leaving one is
// removed by a configuration entry.
#include "actors/role_state.hpp"

#include <caf/delegated.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"

namespace raftd::role {

// -- membership (thesis ch. 4) ------------------------------------------------

/// Why a membership change cannot start now, if it cannot.
caf::error change_blocked(const role_state& st) {
  // Ongaro's fix to single-server changes (raft-dev, 2015; the thesis's
  // erratum to §4.1): a leader changes the configuration only once an entry
  // of its own term has committed. Otherwise two leaders of nearby terms can
  // each change the same configuration, and the two changes' majorities
  // need not overlap (the simulation's seed 3790 lost committed entries so).
  auto& c = *st.core;
  if (c.term_at(c.commit_index()) != c.term())
    return make_error(errc::busy, "the leader has not yet committed an entry "
                                  "of its term; retry");
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

} // namespace raftd::role

// The replication fan-out: one replicator per peer (thesis §4.1: the
// configuration in the log is the one in force), told when this node leads,
// and fed new entries, commits and read rounds once per mailbox drain.
#include "actors/role_state.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/make_message.hpp>

#include "messages/errors.hpp"

namespace raftd::role {

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
  rc.self = st.core->id();
  rc.sm = st.sm;
  rc.snapshot_chunk_bytes = st.cfg.snapshot_chunk_bytes;
  rc.snapshot_window = st.cfg.snapshot_window;
  rc.detached_streams = st.cfg.detached_streams;
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
    st.installing.erase(i->first);
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
  return append_request{c.term(),         c.id(),
                        after,            c.term_at(after),
                        c.log().slice(after + 1, last),
                        c.commit_index(), {},
                        st.read_round};
}

void schedule_flush(role_ptr self) {
  auto& st = self->state;
  if (st.flush_pending)
    return;
  st.flush_pending = true;
  self->send(self, atom::flush::value);
}

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
    st.installing.clear(); // the replicators give them up
    for (auto& [name, r] : st.replicators)
      self->send(r, atom::follow::value);
    // Our proposals past the commit index may still commit under the next
    // leader, or not: say so now rather than at the write timeout. Those
    // already committed are answered as usual once applied: a leader that
    // removed itself steps down in the very step that commits its removal
    // (thesis §4.2.2), and that leave succeeded.
    auto committed = c.commit_index();
    for (auto i = st.writes.upper_bound(committed); i != st.writes.end();) {
      fail_write(i->second, make_error(errc::outcome_unknown,
                                       "leadership lost; it may still commit"));
      i = st.writes.erase(i);
    }
    // Their deadlines go too: a write proposed at the same index in a later
    // term must get its own full timeout, not theirs.
    auto& ds = st.write_deadlines;
    ds.erase(std::remove_if(ds.begin(), ds.end(),
                            [&](auto& d) { return d.second > committed; }),
             ds.end());
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
  if (last > st.told_last && st.told_last >= c.log().prefix_index()
      && !st.replicators.empty()) {
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
  // §7: the entries before `from` are in the snapshot now; so is the term
  // of the one just before, unless it is the prefix's last.
  if (from <= c.log().prefix_index())
    return make_error(errc::compacted,
                      "entries up to " + std::to_string(c.log().prefix_index())
                        + " are compacted");
  return append_request{term,
                        c.id(),
                        from - 1,
                        c.term_at(from - 1),
                        c.log().slice(from, c.last_index(),
                                      st.cfg.max_batch_entries,
                                      st.cfg.max_batch_bytes),
                        c.commit_index(),
                        {},
                        st.read_round};
}

} // namespace raftd::role

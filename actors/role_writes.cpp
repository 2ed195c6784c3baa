// Durable writes and client writes: group commit (everything proposed
// during one fsync shares the next, thesis §10.2.1), applying committed
// entries, and answering puts at commit and deletes at apply (§5.3).
#include "actors/role_state.hpp"

#include <caf/actor_system.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"

namespace raftd::role {

// -- durable writes ------------------------------------------------------------

void start_write(role_ptr self);

void on_write_done(role_ptr self) {
  auto& st = self->state;
  if (st.storage_error)
    return; // the kv store failed meanwhile: nothing goes out
  auto [last, after] = st.commits.finish();
  effects e;
  if (last.first != 0)
    st.core->persisted(last.first, last.second, e);
  for (auto& f : after)
    f();
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
  if (st.failed)
    return;
  auto batch = st.commits.start();
  if (!batch)
    return;
  self->request(st.persister, caf::infinite, atom::write::value,
                std::move(*batch))
    .then([=](uint64_t) { on_write_done(self); },
          [=](caf::error& err) { storage_failed(self, err); });
}

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
        maybe_compact(self, r.durable);
      },
      [=](caf::error& err) { storage_failed(self, err); });
  // A put is decided once committed (§5.3); its answer needs nothing from
  // the state machine, so it goes out now rather than after the apply's
  // reply: one round trip to the state machine's thread less per write
  // (bench/RESULTS.md). Reads still see
  // it: this node's reads reach the state machine after this apply (one
  // sender, one receiver: CAF keeps the order), and a linearizable read
  // anywhere waits for an index at or past this one.
  for (auto& p : puts)
    answer_write(st, p.index, p.term, false);
  for (auto& d : dels) // a known bug (role_config), for the simulation only
    if (st.cfg.bug_delete_before_apply)
      answer_write(st, d.index, d.term, true);
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

} // namespace raftd::role

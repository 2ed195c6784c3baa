// Reads: stale ones straight from the state machine, linearizable ones by
// ReadIndex (thesis §6.4) on the leader and, through the leader, on
// followers.
#include "actors/role_state.hpp"

#include <caf/delegated.hpp>

#include "daemon/logging.hpp"
#include "messages/errors.hpp"
#include "raft/quorum.hpp"

namespace raftd::role {

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
  return quorum::reached(acks, c.members().size());
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
      [=](caf::error& err) {
        auto& st = self->state;
        if (seq != st.ask_seq)
          return;
        RAFTD_LOG(info, "read index from " << st.asked_leader << " failed: "
                                           << describe(err));
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
  if (mode == read_mode::stale || st.cfg.bug_local_reads) {
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

} // namespace raftd::role

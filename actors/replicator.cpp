#include "actors/replicator.hpp"

#include <algorithm>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/delegated.hpp>
#include <caf/result.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "daemon/logging.hpp"
#include "messages/address.hpp"
#include "actors/snapshot_stream.hpp"
#include "storage/snapshot.hpp"
#include "messages/errors.hpp"

namespace raftd {

// -- the actor -------------------------------------------------------------------

namespace {

/// A snapshot on its way to the peer (§7), chunk by chunk with at most
/// `snapshot_window` unacknowledged.
struct snapshot_send {
  /// The stream reading it; null while the state machine is asked for a
  /// view of its state.
  snapshot_stream_actor stream;
  snapshot_meta meta;
  /// The next chunk to send, and the one the follower wants next.
  uint64_t next_seq = 0;
  uint64_t acked = 0;
  /// A chunk is being read; the last chunk was sent.
  bool reading = false;
  bool sent_last = false;
  /// Replies from before a resend are stale.
  uint64_t epoch = 0;
  /// Heartbeat ticks when the oldest unacknowledged chunk went out.
  uint64_t sent_tick = 0;
};

struct replicator_state {
  static inline const char* name = "replicator";
  replicator_config cfg;
  role_actor role;
  connector_actor connector;
  node_actor peer;
  /// The peer's raft_addr, parsed once at spawn. Empty if it does not parse:
  /// then this replicator never connects and the peer stays unreachable
  /// (parse failures are reported, never thrown inside the actor).
  std::optional<host_port> addr;

  bool connecting = false;
  uint64_t connect_gen = 0;
  std::chrono::milliseconds backoff{0};

  /// Nonzero while this node leads that term.
  uint64_t term = 0;
  peer_progress progress;
  /// The leader's last index and commit, as last told.
  uint64_t leader_last = 0;
  uint64_t leader_commit = 0;
  /// What the peer was last sent as commit index.
  uint64_t sent_commit = 0;
  /// An `entries` request to the role is outstanding.
  bool pulling = false;
  /// Something went out since the last heartbeat tick.
  bool sent_recently = false;
  bool heartbeat_due = false;
  uint64_t heartbeat_gen = 0;
  /// Leader reads wait for the peer to see this read round (thesis §6.4);
  /// `sent_round` is the highest one sent so far.
  uint64_t want_round = 0;
  uint64_t sent_round = 0;
  /// Heartbeat ticks so far: the clock of in-flight appends. Appends carry
  /// no CAF timeout (each one costs a clock-thread wake-up and a timeout
  /// message); the heartbeat tick gives up on the oldest instead.
  uint64_t ticks = 0;
  /// The snapshot being sent, while the peer needs entries this node has
  /// compacted away (§7).
  std::optional<snapshot_send> snap;

  /// A stream stops with the replicator (a removed peer, a stopping node).
  ~replicator_state() {
    if (snap && snap->stream)
      caf::anon_send_exit(snap->stream, caf::exit_reason::user_shutdown);
  }
};

using repl_ptr = replicator_actor::stateful_pointer<replicator_state>;

void pump(repl_ptr self);

void connect(repl_ptr self);

void schedule_reconnect(repl_ptr self) {
  auto& st = self->state;
  st.backoff = st.backoff.count() == 0
                 ? st.cfg.reconnect_min
                 : std::min(st.cfg.reconnect_max, st.backoff * 2);
  self->delayed_send(self, st.backoff, atom::connect::value, ++st.connect_gen);
}

void on_connected(repl_ptr self, node_actor peer) {
  auto& st = self->state;
  st.connecting = false;
  st.peer = std::move(peer);
  st.backoff = std::chrono::milliseconds{0};
  self->monitor(st.peer);
  RAFTD_LOG(info, "peer " << st.cfg.peer.name << " at "
                          << st.cfg.peer.raft_addr << " is reachable");
  self->send(st.role, atom::peer::value, st.cfg.peer.name, true);
  st.progress.failed(st.progress.epoch); // resend from the known match
  pump(self);
}

/// Asks the connector for the peer; on failure, retries with back-off.
void connect(repl_ptr self) {
  auto& st = self->state;
  if (st.connecting || st.peer || !st.addr)
    return;
  st.connecting = true;
  self->request(st.connector, st.cfg.rpc_timeout, atom::connect::value,
                st.addr->host, st.addr->port)
    .then([=](node_actor& peer) { on_connected(self, std::move(peer)); },
          [=](caf::error& err) {
            self->state.connecting = false;
            RAFTD_LOG(debug, "cannot reach " << self->state.cfg.peer.name
                                             << ": "
                                             << self->system().render(err));
            schedule_reconnect(self);
          });
}

void on_peer_down(repl_ptr self) {
  auto& st = self->state;
  st.peer = nullptr;
  RAFTD_LOG(info, "peer " << st.cfg.peer.name << " is unreachable");
  self->send(st.role, atom::peer::value, st.cfg.peer.name, false);
  st.progress.failed(st.progress.epoch);
  schedule_reconnect(self);
}

void on_append_response(repl_ptr self, const append_response& r,
                        uint64_t epoch) {
  auto& st = self->state;
  if (r.term > st.term && st.term != 0) {
    self->send(st.role, atom::term::value, r.term); // §5.1: step down
    return;
  }
  if (r.term == 0) {
    // Another node now answers at that address (see append_request::to).
    RAFTD_LOG(debug, "the node at " << st.cfg.peer.raft_addr << " is not "
                                    << st.cfg.peer.name);
    st.progress.failed(epoch);
    return;
  }
  if (st.term == 0 || r.term != st.term)
    return;
  if (r.success)
    st.progress.succeeded(r.match_index, epoch);
  else if (st.progress.rejected(r.conflict_index, epoch))
    RAFTD_LOG(debug, "peer " << st.cfg.peer.name << " rejected; probing from "
                             << st.progress.next);
  // Any answer in our term also tells check-quorum that the peer is alive,
  // and acknowledges this node as leader up to the echoed read round.
  self->send(st.role, atom::match::value, st.cfg.peer.name, st.term,
             st.progress.match, r.read_round);
  pump(self);
}

void send_append(repl_ptr self, append_request req) {
  auto& st = self->state;
  req.to = st.cfg.peer.name;
  st.progress.sent(req.entries.empty() ? 0 : req.entries.back().index,
                   st.ticks);
  st.sent_commit = std::max(st.sent_commit, req.commit);
  st.sent_round = std::max(st.sent_round, req.read_round);
  st.sent_recently = true;
  st.heartbeat_due = false;
  auto epoch = st.progress.epoch;
  self->request(st.peer, caf::infinite, atom::append::value, std::move(req))
    .then(
      [=](const append_response& r) { on_append_response(self, r, epoch); },
      [=](caf::error& err) {
        RAFTD_LOG(debug, "append to " << self->state.cfg.peer.name
                                      << " failed: " << describe(err));
        self->state.progress.failed(epoch);
        pump(self);
      });
}

void pump_snapshot(repl_ptr self);
void start_snapshot(repl_ptr self);

/// Sends what the window allows: new entries, a commit update, or a
/// heartbeat. Entries come from the role, one request at a time.
void pump(repl_ptr self) {
  auto& st = self->state;
  if (st.snap) {
    pump_snapshot(self);
    // Heartbeats go on meanwhile, from the start of the log (it matches
    // anywhere: a follower checks from its own snapshot on): a follower
    // slow to write chunks must not start an election (§5.2), and reads
    // still need it to acknowledge this leader (thesis §6.4).
    bool urgent = st.heartbeat_due || st.want_round > st.sent_round;
    if (urgent && st.term != 0 && st.peer)
      send_append(self, append_request{st.term, st.cfg.self, 0, 0, {}, 0, {},
                                       st.want_round});
    return;
  }
  if (st.term == 0 || !st.peer || st.pulling)
    return;
  bool has_entries = st.progress.next <= st.leader_last;
  bool has_commit = st.leader_commit > st.sent_commit;
  bool urgent = st.heartbeat_due || st.want_round > st.sent_round;
  if (!urgent && !has_entries && !has_commit)
    return;
  // A heartbeat or a read confirmation goes out even when the window is
  // full: it keeps the follower's election timer from firing (§5.2) and
  // reads from waiting on a slow pipeline.
  if (!urgent && !st.progress.can_send(st.cfg.max_inflight))
    return;
  st.pulling = true;
  auto term = st.term;
  // The role always answers at once: no timeout needed.
  self->request(st.role, caf::infinite, atom::entries::value, term,
                st.progress.next)
    .then(
      [=](append_request& req) {
        auto& st = self->state;
        st.pulling = false;
        if (st.term != term || !st.peer)
          return;
        send_append(self, std::move(req));
        pump(self);
      },
      [=](caf::error& err) {
        self->state.pulling = false;
        if (is(err, errc::compacted)) {
          start_snapshot(self);
          return;
        }
        // The role no longer leads that term: the next `lead` restarts us.
        RAFTD_LOG(debug, "no entries for " << self->state.cfg.peer.name
                                           << ": " << describe(err));
      });
}

// -- InstallSnapshot (§7) ----------------------------------------------------------

/// Tells the role that this transfer ended (ok: the peer holds it).
void end_snapshot(repl_ptr self, bool ok) {
  auto& st = self->state;
  if (!st.snap)
    return;
  if (st.snap->stream) {
    self->send(st.role, atom::snapshot::value, st.cfg.peer.name,
               st.snap->meta.index, true, ok);
    // Its thread and the LevelDB snapshot it pins go now, not whenever
    // the last handle happens to.
    self->send_exit(st.snap->stream, caf::exit_reason::user_shutdown);
  }
  if (ok) {
    // The peer's log continues after the snapshot (§7).
    st.progress.reset(st.snap->meta.index + 1);
    st.progress.succeeded(st.snap->meta.index, st.progress.epoch);
    self->send(st.role, atom::match::value, st.cfg.peer.name, st.term,
               st.progress.match, uint64_t{0});
    RAFTD_LOG(notice, "sent peer " << st.cfg.peer.name
                                   << " the snapshot at index "
                                   << st.snap->meta.index);
  }
  st.snap.reset();
}

/// The peer needs entries this node compacted away: open a view of the
/// state machine and stream it.
void start_snapshot(repl_ptr self) {
  auto& st = self->state;
  if (st.snap || st.term == 0)
    return;
  st.snap.emplace();
  auto term = st.term;
  self->request(st.cfg.sm, caf::infinite, atom::snapshot::value)
    .then(
      [=](snapshot_source& src) {
        auto& st = self->state;
        if (!st.snap || st.term != term) {
          st.snap.reset();
          return;
        }
        st.snap->meta = src.reader->meta();
        st.snap->stream = spawn_snapshot_stream(self->system(), src.reader,
                                                st.cfg.snapshot_chunk_bytes,
                                                st.cfg.detached_streams);
        RAFTD_LOG(notice, "sending peer " << st.cfg.peer.name
                                          << " the snapshot at index "
                                          << st.snap->meta.index);
        self->send(st.role, atom::snapshot::value, st.cfg.peer.name,
                   st.snap->meta.index, false, false);
        pump(self);
      },
      [=](caf::error& err) {
        RAFTD_LOG(warn, "no snapshot for " << self->state.cfg.peer.name
                                           << ": " << describe(err));
        self->state.snap.reset(); // the next pump asks again
      });
}

/// Resends from the chunk the follower wants (a stale reply, a timeout or a
/// broken connection): replies to what was sent before are ignored.
void rewind_snapshot(repl_ptr self, uint64_t from) {
  auto& s = *self->state.snap;
  ++s.epoch;
  s.next_seq = from;
  s.acked = from;
  s.sent_last = false;
}

void on_install_response(repl_ptr self, const install_response& r,
                         uint64_t epoch) {
  auto& st = self->state;
  if (r.term > st.term && st.term != 0) {
    self->send(st.role, atom::term::value, r.term); // §5.1: step down
    return;
  }
  if (!st.snap || epoch != st.snap->epoch || r.term != st.term)
    return;
  // Any answer in our term shows the peer alive (check-quorum).
  self->send(st.role, atom::match::value, st.cfg.peer.name, st.term,
             st.progress.match, uint64_t{0});
  if (r.done)
    return end_snapshot(self, true);
  if (!r.ok || r.next_seq < st.snap->acked) {
    rewind_snapshot(self, r.next_seq);
  } else {
    st.snap->acked = std::max(st.snap->acked, r.next_seq);
    st.snap->sent_tick = st.ticks;
  }
  pump(self);
}

void send_chunk(repl_ptr self, snapshot_chunk c) {
  auto& st = self->state;
  c.term = st.term;
  c.leader = st.cfg.self;
  c.to = st.cfg.peer.name;
  auto epoch = st.snap->epoch;
  if (st.snap->acked == c.seq)
    st.snap->sent_tick = st.ticks;
  st.sent_recently = true;
  self->request(st.peer, caf::infinite, atom::install::value, std::move(c))
    .then(
      [=](const install_response& r) { on_install_response(self, r, epoch); },
      [=](caf::error& err) {
        auto& st = self->state;
        RAFTD_LOG(debug, "snapshot chunk to " << st.cfg.peer.name
                                              << " failed: " << describe(err));
        if (st.snap && st.snap->epoch == epoch)
          rewind_snapshot(self, st.snap->acked);
      });
}

/// Reads and sends chunks while the window allows.
void pump_snapshot(repl_ptr self) {
  auto& st = self->state;
  auto& s = *st.snap;
  if (st.term == 0 || !st.peer || !s.stream || s.reading
      || s.sent_last || s.next_seq >= s.acked + st.cfg.snapshot_window)
    return;
  s.reading = true;
  auto epoch = s.epoch;
  auto seq = s.next_seq++;
  self->request(s.stream, caf::infinite, atom::read::value, seq)
    .then(
      [=](snapshot_chunk& c) {
        auto& st = self->state;
        if (!st.snap)
          return;
        st.snap->reading = false;
        if (st.snap->epoch != epoch || !st.peer)
          return pump(self);
        st.snap->sent_last = c.last;
        send_chunk(self, std::move(c));
        pump(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        RAFTD_LOG(error, "cannot read the snapshot for "
                           << st.cfg.peer.name << ": " << describe(err));
        end_snapshot(self, false); // the next pump starts a new one
      });
}

/// New entries pushed by the leader: sent at once if they continue exactly
/// where this peer's pipeline is, else pulled later as usual.
void on_pushed(repl_ptr self, const append_request& req) {
  auto& st = self->state;
  if (req.entries.empty() || req.term != st.term)
    return;
  if (st.snap) { // the peer's log continues after the snapshot
    st.leader_last = std::max(st.leader_last, req.entries.back().index);
    st.leader_commit = std::max(st.leader_commit, req.commit);
    return pump(self);
  }
  st.leader_last = std::max(st.leader_last, req.entries.back().index);
  st.leader_commit = std::max(st.leader_commit, req.commit);
  auto& p = st.progress;
  bool fits = st.peer && !st.pulling && !p.probe
              && req.prev_index + 1 == p.next
              && p.can_send(st.cfg.max_inflight);
  if (fits)
    send_append(self, req);
  else
    pump(self);
}

/// The oldest append got no reply for an RPC timeout: give up the window
/// and resend from the match (late replies are stale by epoch).
void check_stall(repl_ptr self) {
  auto& st = self->state;
  ++st.ticks;
  auto limit = std::max<int64_t>(1, st.cfg.rpc_timeout / st.cfg.heartbeat);
  if (st.snap && st.snap->stream && st.snap->acked < st.snap->next_seq
      && st.ticks - st.snap->sent_tick > static_cast<uint64_t>(limit)) {
    RAFTD_LOG(debug, "peer " << st.cfg.peer.name << " did not acknowledge "
                             << "snapshot chunk " << st.snap->acked
                             << "; resending from it");
    rewind_snapshot(self, st.snap->acked);
  }
  if (!st.progress.stalled(st.ticks, static_cast<uint64_t>(limit)))
    return;
  RAFTD_LOG(debug, "peer " << st.cfg.peer.name << " did not answer for "
                           << st.cfg.rpc_timeout.count() << " ms; resending");
  st.progress.failed(st.progress.epoch);
}

void on_heartbeat(repl_ptr self, uint64_t gen) {
  auto& st = self->state;
  if (gen != st.heartbeat_gen || st.term == 0)
    return;
  check_stall(self);
  if (!st.sent_recently)
    st.heartbeat_due = true;
  st.sent_recently = false;
  pump(self);
  self->delayed_send(self, st.cfg.heartbeat, atom::heartbeat::value, gen);
}

void on_lead(repl_ptr self, uint64_t term, uint64_t next) {
  auto& st = self->state;
  end_snapshot(self, false); // a snapshot of an earlier term
  st.term = term;
  st.progress = peer_progress{};
  st.progress.reset(next);
  // The new term's log ends before `next`; it may be shorter than the last
  // term's (entries truncated since). A stale leader_last above it would
  // have pump() pull empty appends for entries that no longer exist,
  // without end: heartbeats take no window slot.
  st.leader_last = next - 1;
  st.sent_commit = 0;
  st.want_round = st.sent_round = 0;
  st.heartbeat_due = true; // announce the new leader at once (§5.2)
  self->delayed_send(self, st.cfg.heartbeat, atom::heartbeat::value,
                     ++st.heartbeat_gen);
  pump(self);
}

void on_vote(repl_ptr self, const vote_request& req) {
  auto& st = self->state;
  if (!st.peer)
    return connect(self); // the candidate's election timer retries
  self->request(st.peer, st.cfg.rpc_timeout, atom::vote::value, req)
    .then(
      [=](const vote_response& r) {
        self->send(self->state.role, atom::vote::value, r);
      },
      [=](caf::error& err) {
        // The candidate's election timer retries; a lost vote is no fault.
        RAFTD_LOG(debug, "vote request to " << self->state.cfg.peer.name
                                            << " failed: " << describe(err));
      });
}

replicator_actor::behavior_type
replicator(repl_ptr self, replicator_config cfg, role_actor role,
           connector_actor connector) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.role = std::move(role);
  st.connector = std::move(connector);
  if (auto addr = parse_host_port(st.cfg.peer.raft_addr))
    st.addr = std::move(addr.value);
  else
    RAFTD_LOG(error, "peer " << st.cfg.peer.name << " has a bad address \""
                             << st.cfg.peer.raft_addr << "\" (" << addr.error
                             << "); it stays unreachable");
  self->set_down_handler([=](caf::down_msg& dm) {
    if (self->state.peer && dm.source == self->state.peer.address())
      on_peer_down(self);
  });
  connect(self);
  return {
    [=](atom::lead, uint64_t term, uint64_t next) { on_lead(self, term, next); },
    [=](atom::follow) {
      end_snapshot(self, false);
      self->state.term = 0;
      ++self->state.heartbeat_gen;
    },
    [=](atom::pump, uint64_t last, uint64_t commit) {
      self->state.leader_last = last;
      self->state.leader_commit = commit;
      pump(self);
    },
    [=](atom::append, const append_request& req) { on_pushed(self, req); },
    [=](atom::vote, const vote_request& req) { on_vote(self, req); },
    [=](atom::confirm, uint64_t round) {
      auto& st = self->state;
      st.want_round = std::max(st.want_round, round);
      pump(self);
    },
    [=](atom::read_index) -> caf::result<uint64_t> {
      if (!self->state.peer)
        return make_error(errc::no_leader, "the leader is unreachable");
      return self->delegate(self->state.peer, atom::read_index::value);
    },
    [=](atom::join, member& m) -> caf::result<uint64_t> {
      if (!self->state.peer)
        return make_error(errc::no_leader, "the leader is unreachable");
      return self->delegate(self->state.peer, atom::join::value, std::move(m));
    },
    [=](atom::leave, node_name& name) -> caf::result<uint64_t> {
      if (!self->state.peer)
        return make_error(errc::no_leader, "the leader is unreachable");
      return self->delegate(self->state.peer, atom::leave::value,
                            std::move(name));
    },
    [=](atom::heartbeat, uint64_t gen) { on_heartbeat(self, gen); },
    [=](atom::connect, uint64_t gen) {
      if (gen == self->state.connect_gen)
        connect(self);
    },
  };
}

} // namespace

replicator_actor spawn_replicator(caf::actor_system& sys,
                                  replicator_config cfg, role_actor role,
                                  connector_actor connector) {
  return sys.spawn(replicator, std::move(cfg), std::move(role),
                   std::move(connector));
}

} // namespace raftd

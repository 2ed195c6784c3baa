#pragma once
// Every actor interface of raftd, top to bottom. This is the wire contract:
// another CAF program includes this header (plus messages/register.hpp) and
// reaches a node with `remote_actor<raftd::node_actor>(host, raft_port)`.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/types.hpp"

namespace raftd {

// -- atoms (CAF 0.17: at most 10 characters) ---------------------------------

namespace atom {
using get = caf::get_atom;
using put = caf::put_atom;
using del = caf::delete_atom;
using tick = caf::tick_atom;
using join = caf::join_atom;
using leave = caf::leave_atom;
using status = caf::atom_constant<caf::atom("status")>;
using vote = caf::atom_constant<caf::atom("vote")>;
using append = caf::atom_constant<caf::atom("append")>;
using write = caf::atom_constant<caf::atom("write")>;
using apply = caf::atom_constant<caf::atom("apply")>;
using applied = caf::atom_constant<caf::atom("applied")>;
using idle = caf::atom_constant<caf::atom("idle_tmo")>;
using sweep = caf::atom_constant<caf::atom("sweep")>;
using connect = caf::connect_atom;
using lead = caf::atom_constant<caf::atom("lead")>;
using follow = caf::atom_constant<caf::atom("follow")>;
using pump = caf::atom_constant<caf::atom("pump")>;
using entries = caf::atom_constant<caf::atom("entries")>;
using match = caf::atom_constant<caf::atom("match")>;
using term = caf::atom_constant<caf::atom("term")>;
using peer = caf::atom_constant<caf::atom("peer")>;
using heartbeat = caf::atom_constant<caf::atom("heartbeat")>;
using read_index = caf::atom_constant<caf::atom("read_index")>;
using confirm = caf::atom_constant<caf::atom("confirm")>;
using flush = caf::atom_constant<caf::atom("flush")>;
using recover = caf::atom_constant<caf::atom("recover")>;
using install = caf::atom_constant<caf::atom("install")>;
using snapshot = caf::atom_constant<caf::atom("snapshot")>;
using read = caf::atom_constant<caf::atom("read")>;
using trim = caf::atom_constant<caf::atom("trim")>;
using close = caf::close_atom;
} // namespace atom

// -- the public face of a node -------------------------------------------------

/// The NODE actor: what a node offers on its peer port, to clients and peers.
/// Errors are raftd errors (messages/errors.hpp): not_leader (context: the
/// leader's HTTP address), no_leader, outcome_unknown, value_too_large, ...
using node_actor = caf::typed_actor<
  // Sets key := value once a majority holds it durably and it is applied;
  // replies with the entry's log index.
  caf::replies_to<atom::put, std::string, std::string>::with<uint64_t>,
  // Deletes key the same way; replies with the index and whether it existed.
  caf::replies_to<atom::del, std::string>::with<uint64_t, bool>,
  // Reads key; replies whether it was found, and its value.
  caf::replies_to<atom::get, std::string, read_mode>::with<bool, std::string>,
  // Describes this node and the members it knows.
  caf::replies_to<atom::status>::with<node_status>,
  // Adds a server once it has caught up (thesis §4.2.1) with a configuration
  // entry (single-server change, thesis §4.1); replies with that entry's
  // index once committed. A member that is not the leader forwards it.
  caf::replies_to<atom::join, member>::with<uint64_t>,
  // Removes a server with a configuration entry; replies with its index once
  // committed. A member that is not the leader forwards it.
  caf::replies_to<atom::leave, node_name>::with<uint64_t>,
  // RequestVote RPC (§5.2, pre-vote: thesis §9.6). Answered once durable.
  caf::replies_to<atom::vote, vote_request>::with<vote_response>,
  // AppendEntries RPC (§5.3). Answered once the entries are durable.
  caf::replies_to<atom::append, append_request>::with<append_response>,
  // ReadIndex (thesis §6.4): the leader confirms it still leads and replies
  // with an index; a read that waits until it has applied that far is
  // linearizable. Followers ask it for their own linearizable reads.
  caf::replies_to<atom::read_index>::with<uint64_t>,
  // InstallSnapshot RPC (§7), one chunk at a time; answered once the chunk
  // is written (and, for the last, once the snapshot is installed and the
  // log reset is durable).
  caf::replies_to<atom::install, snapshot_chunk>::with<install_response>,
  // Backup: opens a consistent snapshot of this node's applied state (any
  // member serves one) and replies with an id to read it by. Unread for
  // `backup_idle_expiry` (actors/role_backup.cpp), it closes.
  caf::replies_to<atom::snapshot>::with<uint64_t>,
  // Chunk `seq` (0, 1, ...) of open snapshot `id`; the one marked `last`
  // closes it. An unknown or expired id: errc::not_found.
  caf::replies_to<atom::snapshot, uint64_t, uint64_t>::with<snapshot_chunk>,
  // Closes open snapshot `id` before its end (its reader went away).
  caf::reacts_to<atom::close, uint64_t>>;

// -- actors inside one node ----------------------------------------------------

class snapshot_reader;

/// A consistent view of a node's applied state (storage/snapshot.hpp),
/// handed from the state machine to whoever streams it. Local only.
struct snapshot_source {
  std::shared_ptr<snapshot_reader> reader;
};

/// The PERSISTER actor: owns DATA/log and the hard state (term, vote).
/// Runs detached: its synced LevelDB writes block only its own thread.
using persister_actor = caf::typed_actor<
  // Makes a batch durable in one synced WriteBatch; replies with the last
  // log index after the write.
  caf::replies_to<atom::write, persist_batch>::with<uint64_t>,
  // Sent to itself after a write moved the compacted prefix: deletes the
  // entries below it a few thousand at a time, between writes.
  caf::reacts_to<atom::trim>,
  // After a failed write: reopens the store, proves it can write again (one
  // synced write) and replies with what is durable.
  caf::replies_to<atom::recover>::with<durable_log>>;

/// The STATE MACHINE actor: owns DATA/kv, applies committed entries in order.
using state_machine_actor = caf::typed_actor<
  // Applies committed entries (contiguous, in order) in one write batch that
  // also stores the applied index, so no entry is ever applied twice.
  caf::replies_to<atom::apply, std::vector<log_entry>>::with<apply_result>,
  // Reads key from the applied state.
  caf::replies_to<atom::get, std::string>::with<bool, std::string>,
  // The last applied index.
  caf::replies_to<atom::applied>::with<uint64_t>,
  // After a failed apply: reopens the store; replies with its snapshot
  // (what it applied).
  caf::replies_to<atom::recover>::with<snapshot_meta>,
  // A consistent view of the applied state, to stream from another thread
  // (InstallSnapshot, backup).
  caf::replies_to<atom::snapshot>::with<snapshot_source>,
  // One chunk of a snapshot from the leader, written beside the live state;
  // the last one switches to it (storage/snapshot.hpp).
  caf::replies_to<atom::install, snapshot_chunk>::with<install_progress>>;

/// A SNAPSHOT STREAM: reads one consistent snapshot in chunks, on its own
/// thread, and can go back to any chunk it produced (a transfer resumed
/// after a broken connection).
using snapshot_stream_actor = caf::typed_actor<
  // Chunk `seq` (term, leader and to left empty for the sender to fill).
  caf::replies_to<atom::read, uint64_t>::with<snapshot_chunk>>;

/// The CONNECTOR: the one place that knows how to reach a peer. Production
/// asks CAF's middleman (actors/connector.cpp); the simulation hands out its
/// fault-injecting network's handles instead.
using connector_actor = caf::typed_actor<
  // Resolves the node published at host:port.
  caf::replies_to<atom::connect, std::string, uint16_t>::with<node_actor>>;

/// A REPLICATOR: this node's link to one peer. On every node it carries
/// vote requests; on the leader it also replicates the log to that peer with
/// several AppendEntries in flight, backing off on rejection. It owns the
/// peer's liveness: connect, reconnect with back-off, RPC timeouts.
using replicator_actor = caf::typed_actor<
  // This node leads `term`: replicate, probing from index `next`.
  caf::reacts_to<atom::lead, uint64_t, uint64_t>,
  // This node no longer leads: stop replicating.
  caf::reacts_to<atom::follow>,
  // The leader's log now ends at `last` and commits at `commit`.
  caf::reacts_to<atom::pump, uint64_t, uint64_t>,
  // The leader's new entries, ready to send as they are to a peer that is
  // caught up (saves pulling them: one hop less per batch).
  caf::reacts_to<atom::append, append_request>,
  // Sends a RequestVote; the reply goes to the role.
  caf::reacts_to<atom::vote, vote_request>,
  // Reads wait for read round r: send it (a heartbeat if nothing else).
  caf::reacts_to<atom::confirm, uint64_t>,
  // Asks the peer (the leader) for a read index.
  caf::replies_to<atom::read_index>::with<uint64_t>,
  // Forwards a join or leave to the peer (when it is the leader).
  caf::replies_to<atom::join, member>::with<uint64_t>,
  caf::replies_to<atom::leave, node_name>::with<uint64_t>,
  // Heartbeat timer (generation-tagged).
  caf::reacts_to<atom::heartbeat, uint64_t>,
  // Reconnect timer (generation-tagged).
  caf::reacts_to<atom::connect, uint64_t>>;

/// The ROLE actor: the consensus rules (raft/core.hpp) and the only
/// writer of the log. Published on the peer port as a `node_actor`.
using role_actor = node_actor::extend<
  // Drives election and heartbeat timers: one logical tick.
  caf::reacts_to<atom::tick, uint64_t>,
  // Sent to itself: the messages queued before it are handled, so the new
  // entries, commit index and read round they produced go out together.
  caf::reacts_to<atom::flush>,
  // A replicator asks for the next AppendEntries to `peer`'s log from index
  // `from`, in leader term `term` (refused if this node no longer leads it).
  caf::replies_to<atom::entries, uint64_t, uint64_t>::with<append_request>,
  // A replicator reports what a peer holds durably (and that it answered,
  // acknowledging read round r): (peer, term, match, r).
  caf::reacts_to<atom::match, node_name, uint64_t, uint64_t, uint64_t>,
  // A replicator relays a RequestVote reply.
  caf::reacts_to<atom::vote, vote_response>,
  // A replicator saw a higher term.
  caf::reacts_to<atom::term, uint64_t>,
  // A replicator's peer became reachable (true) or unreachable (false).
  caf::reacts_to<atom::peer, node_name, bool>,
  // A replicator started (false, false) sending `peer` the snapshot at
  // `index`, finished it (true, true) or gave it up (true, false): while it
  // runs, the log from `index` on stays (hashicorp/raft #212).
  caf::reacts_to<atom::snapshot, node_name, uint64_t, bool, bool>>;

} // namespace raftd

// Never crosses a node boundary: a local handle, not serializable.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(raftd::snapshot_source)

#pragma once
// Every actor interface of raftd, top to bottom. This is the wire contract:
// another CAF program includes this header (plus messages/register.hpp) and
// reaches a node with `remote_actor<raftd::node_actor>(host, raft_port)`.

#include <cstdint>
#include <string>
#include <vector>

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
using status = caf::atom_constant<caf::atom("status")>;
using vote = caf::atom_constant<caf::atom("vote")>;
using append = caf::atom_constant<caf::atom("append")>;
using write = caf::atom_constant<caf::atom("write")>;
using apply = caf::atom_constant<caf::atom("apply")>;
using applied = caf::atom_constant<caf::atom("applied")>;
using idle = caf::atom_constant<caf::atom("idle_tmo")>;
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
  // RequestVote RPC (§5.2, pre-vote: thesis §9.6). Answered once durable.
  caf::replies_to<atom::vote, vote_request>::with<vote_response>,
  // AppendEntries RPC (§5.3). Answered once the entries are durable.
  caf::replies_to<atom::append, append_request>::with<append_response>>;

// -- actors inside one node ----------------------------------------------------

/// The PERSISTER actor: owns DATA/log and the hard state (term, vote).
/// Runs detached: its synced LevelDB writes block only its own thread.
using persister_actor = caf::typed_actor<
  // Makes a batch durable in one synced WriteBatch; replies with the last
  // log index after the write.
  caf::replies_to<atom::write, persist_batch>::with<uint64_t>>;

/// The STATE MACHINE actor: owns DATA/kv, applies committed entries in order.
using state_machine_actor = caf::typed_actor<
  // Applies committed entries (contiguous, in order) in one write batch that
  // also stores the applied index, so no entry is ever applied twice.
  caf::replies_to<atom::apply, std::vector<log_entry>>::with<apply_result>,
  // Reads key from the applied state.
  caf::replies_to<atom::get, std::string>::with<bool, std::string>,
  // The last applied index.
  caf::replies_to<atom::applied>::with<uint64_t>>;

/// The ROLE actor: the consensus rules (actors/raft_core.hpp) and the only
/// writer of the log. Published on the peer port as a `node_actor`.
using role_actor = node_actor::extend<
  // Drives election and heartbeat timers: one logical tick.
  caf::reacts_to<atom::tick, uint64_t>>;

} // namespace raftd

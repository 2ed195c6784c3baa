#pragma once

#include "messages/actors.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace raftd {

/// Spawns the production CONNECTOR: it asks CAF's middleman actor to
/// connect (never blocking a scheduler thread) and checks that what is
/// published there speaks `node_actor`. CAF never reconnects by itself; the
/// replicators call this again, with back-off, when a peer goes away.
connector_actor spawn_middleman_connector(caf::actor_system& sys);

} // namespace raftd

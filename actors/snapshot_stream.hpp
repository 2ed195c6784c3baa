#pragma once

#include <cstddef>
#include <memory>

#include "messages/actors.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace raftd {

class snapshot_reader;

/// Spawns a SNAPSHOT STREAM over `reader`: chunks of at most `chunk_bytes`
/// of keys and values (at least one pair). `detached`: on a thread of its
/// own, so reading the store holds up no scheduler worker (and with it the
/// role). It stops when the last handle to it goes.
snapshot_stream_actor spawn_snapshot_stream(caf::actor_system& sys,
                                            std::shared_ptr<snapshot_reader> r,
                                            size_t chunk_bytes, bool detached);

} // namespace raftd

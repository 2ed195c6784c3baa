#pragma once
// The HTTP ACCEPTOR: a CAF io broker serving the HTTP API (README "HTTP API")
// on `-h host -p port`. It runs on CAF's single multiplexer thread, so it only
// parses and writes: every request becomes one asynchronous request to the
// node actor, and the answer is written when the reply arrives, in request
// order per connection (keep-alive and pipelining). Requests the node need
// not see (unknown routes, wrong methods, a `POST /join` body that
// http/join.hpp rejects) are answered here at once.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "messages/actors.hpp"

namespace raftd {

/// Where the acceptor listens and the limits it owns.
struct http_config {
  std::string host = "localhost"; ///< Address to bind (-h).
  uint16_t port = 4001;           ///< Port to bind (-p); 0 picks a free one.
  /// Open connections (-max-conns). One more gets 503 and is closed.
  size_t max_conns = 1024;
  /// A connection with nothing to do for this long is closed (-idle-timeout).
  std::chrono::milliseconds idle_timeout{60000};
  /// Largest value, i.e. request body, in bytes (-max-value-size); more: 413.
  size_t max_value_size = 1 << 20;
  /// Largest request line plus headers, in bytes; more: 431.
  size_t max_header_size = 16 << 10;
  /// How long the acceptor waits for the node's reply. Past it, a write gets
  /// 504 (its outcome is unknown) and a read 503. Longer than -write-timeout,
  /// so that the node normally answers outcome_unknown itself first.
  std::chrono::milliseconds request_timeout{6000};
  /// Write answers straight to the socket while CAF holds none of the
  /// connection's bytes (fewer system calls per answer); false: every
  /// answer goes through CAF's send buffers.
  bool direct_writes = true;
};

/// Binds `cfg.host:cfg.port` (SO_REUSEADDR) and spawns the acceptor, which
/// sends every request to `node`. A bind error comes back here. If
/// `bound_port` is not null, it receives the port actually bound (useful
/// with port 0). Stop it with `anon_send_exit(a, exit_reason::user_shutdown)`:
/// it closes its listening socket and all connections.
caf::expected<caf::actor> spawn_http_acceptor(caf::actor_system& sys,
                                              node_actor node,
                                              const http_config& cfg,
                                              uint16_t* bound_port = nullptr);

} // namespace raftd

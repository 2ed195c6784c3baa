#pragma once
// raftd's error codes. They travel as caf::error{code, atom("raftd"), context},
// so remote clients see them intact. `register_types` installs the renderer.

#include <cstdint>
#include <string>

#include <caf/error.hpp>

namespace raftd {

enum class errc : uint8_t {
  corrupt_data = 1, ///< The data directory holds what we cannot read.
  storage_failed,   ///< A write could not be made durable (disk full, EIO).
  not_leader,       ///< Not the leader; context: the leader's HTTP address.
  no_leader,        ///< No leader known: nothing was proposed (HTTP 503).
  outcome_unknown,  ///< Proposed, not confirmed in time; may commit (HTTP 504).
  value_too_large,  ///< Value over -max-value-size (HTTP 413).
  bad_request,      ///< Malformed input; context says what.
  shutting_down,    ///< The node is stopping; nothing was proposed.
  superseded,       ///< Proposed, then truncated by a new leader: not applied.
  conflict,         ///< A join names a taken name or address (HTTP 409).
  busy,             ///< Another membership change is running; retry (503).
  not_found,        ///< No such member (HTTP 404).
  unreachable,      ///< No raftd node answers at that address (HTTP 503).
  internal,         ///< A caller broke a contract: a bug (HTTP 500).
  compacted,        ///< Entries asked for are in the snapshot now (§7).
};

/// The category atom of every raftd error.
caf::atom_value errc_category();

/// Builds an error with an optional human-readable context.
caf::error make_error(errc code, std::string context = {});

/// True if `e` is a raftd error with this code.
bool is(const caf::error& e, errc code);

/// The context string of a raftd error (e.g. the leader address), or "".
std::string context_of(const caf::error& e);

/// A one-line description of any error, raftd's or CAF's, without needing
/// an actor system (e.g. "corrupt_data: missing log database").
std::string describe(const caf::error& e);

/// Short name of a code, e.g. "not_leader".
const char* to_string(errc code);

} // namespace raftd

#pragma once
// What a start (or a recovery from a failed disk) finds on disk is a log and
// a state machine snapshot written at different moments. Installing a
// snapshot switches the state machine first and resets the log after it
// (§7), so a crash in between leaves a log that ends before the snapshot, or
// that does not continue it. Then the log restarts after the snapshot, as
// the install would have left it.

#include <optional>

#include <caf/expected.hpp>

#include "messages/types.hpp"

namespace raftd {

/// Makes `log` continue `applied` (the state machine's snapshot): returns
/// nothing if it already does, else changes `log` to start after the
/// snapshot and returns the write that makes the disk agree. A log
/// compacted past `applied` is errc::corrupt_data: the log only drops what
/// the state machine holds durably.
caf::expected<std::optional<persist_batch>>
reconcile_log(durable_log& log, const snapshot_meta& applied);

} // namespace raftd

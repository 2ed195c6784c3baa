#pragma once
// `raftd -restore FILE DIR`: makes a data directory from a backup
// (storage/snapshot_file.hpp) as a new one-member cluster, like `etcdctl
// snapshot restore`. The new member has a new name (a new data directory
// makes one) and the addresses of the -h/-p/-raft-port flags; it starts
// with `raftd ... DIR` as usual and elects itself, and others may -join it.
//
// Nothing is written until the whole file has been read and checked: a
// truncated or damaged file, or a DIR that exists and is not empty, is
// refused with DIR left as it was.

#include <string>

#include <caf/expected.hpp>

#include "daemon/node_config.hpp"
#include "messages/types.hpp"

namespace raftd {

/// What a restore made.
struct restore_report {
  node_name name;       ///< The new member's name.
  snapshot_meta meta;   ///< As installed: the new one-member configuration.
  uint64_t count = 0;   ///< Keys restored.
};

/// Restores `cfg.restore` into `cfg.data_path` (see above). Errors:
/// errc::corrupt_data (the file), errc::conflict (DIR not empty),
/// errc::storage_failed (the disk); each says what and where.
caf::expected<restore_report> restore_backup(const node_config& cfg);

} // namespace raftd

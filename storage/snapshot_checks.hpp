#pragma once
// Internal to storage/: what every kv_install checks of the stream it is
// given (storage/snapshot.hpp), whatever it writes into.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include "storage/snapshot.hpp"

namespace raftd::detail {

/// A chunk continues a stream whose last key is `last_key` (if `any`): as
/// many values as keys, each key past the one before. Else bad_request.
caf::error check_chunk(const std::vector<std::string>& keys,
                       const std::vector<std::string>& values,
                       const std::string& last_key, bool any);

/// The totals the sender announced match what arrived. Else corrupt_data.
caf::error check_totals(const snapshot_digest& got, uint64_t count,
                        uint64_t checksum);

} // namespace raftd::detail

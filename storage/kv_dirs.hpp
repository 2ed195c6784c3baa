#pragma once
// Internal to storage/: which kv directory of a data directory is live
// (DATA/kv-current, storage/data_dir.hpp), and switching it.

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace raftd::detail {

/// True for "kv" and "kv.<digits>": the names a kv directory may have.
bool is_kv_dir_name(const std::string& name);

/// The name of the live kv directory of the data directory at `path`:
/// what DATA/kv-current holds, or "kv" without it. A kv-current that does
/// not hold a kv directory name, or names one that does not exist:
/// errc::corrupt_data.
caf::expected<std::string> live_kv_name(const std::string& path);

/// "kv.N" for N one past the highest kv.M in `path` (1 if none).
caf::expected<std::string> next_kv_name(const std::string& path);

/// Makes `name` the live kv directory: kv-current.tmp, fsync, rename to
/// kv-current, fsync of `path`. `renamed` tells, on failure, whether the
/// rename was done (a restart may then find either directory live).
caf::error switch_live_kv(const std::string& path, const std::string& name,
                          bool& renamed);

/// Removes every kv directory in `path` but `live` (what an interrupted
/// install, or a switch whose old directory was not removed, left).
caf::error remove_other_kv_dirs(const std::string& path,
                                const std::string& live);

} // namespace raftd::detail

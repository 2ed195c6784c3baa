#pragma once
// Internal to storage/: the LevelDB kv store on a database that is already
// open, for the install that wrote it (kv_install.cpp) and for
// open_leveldb_kv_store. Includes LevelDB headers, so only storage/*.cpp
// include it.

#include <cstddef>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <leveldb/db.h>

#include "storage/kv_store.hpp"

namespace raftd::detail {

/// The kv database's memtable. Applying a put inserts into LevelDB's skip
/// list, and with random keys each insert chases pointers down the whole
/// list: in a 4 MiB table (LevelDB's default) those loads miss the CPU
/// caches, and the skip-list search showed high in a profile of writes at
/// 64 connections. A 256 KiB table stays in cache at the price of more,
/// smaller flushes to level 0; at 64 KiB the flushes cost more than they
/// saved (both measured in bench/RESULTS.md).
constexpr size_t kv_write_buffer_bytes = 256 << 10;

/// The memtable of a kv database being filled by a snapshot install: keys
/// arrive in order, in bulk, and a small table would flush every 256 KiB
/// into level 0 faster than compaction drains it (LevelDB then stalls the
/// writer). The installed store keeps it until the next restart.
constexpr size_t install_write_buffer_bytes = 32 << 20;

/// The kv store on `db` (opened by open_db), reading its applied index and
/// snapshot meta from it; they count as durable. Shared: snapshot readers
/// keep the database open after the store is gone.
caf::expected<std::unique_ptr<kv_store>>
make_leveldb_kv_store(std::shared_ptr<leveldb::DB> db, std::string dir);

} // namespace raftd::detail

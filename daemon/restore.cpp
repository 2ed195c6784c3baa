// The restored directory is what a follower holds right after installing
// a snapshot (§7), with itself as the only member: the kv store at the
// snapshot's index (its meta naming the new configuration), an empty log
// whose compacted prefix is the snapshot's (index, term), and a hard state
// in the snapshot's term. The start then reads it like any other
// (main.cpp load_state): the log continues the snapshot, the members come
// from the kv meta, and the node does not bootstrap (its log is not empty:
// last index = the snapshot's). Its first election is in a later term than
// the prefix's, so every new entry's term is at least the prefix term, as
// the log matching rule needs (§5.3).
#include "daemon/restore.hpp"

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <dirent.h>

#include "messages/errors.hpp"
#include "raft/membership.hpp"
#include "storage/data_dir.hpp"
#include "storage/snapshot_file.hpp"

namespace raftd {

namespace {

/// Pairs read from the file per chunk written to the new store.
constexpr size_t restore_chunk_bytes = 4 << 20;

/// A restore only makes new directories: one that exists must be empty.
caf::error check_target(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return {}; // absent: open_data_dir makes it
  if (!S_ISDIR(st.st_mode))
    return make_error(errc::conflict, dir + " exists and is not a directory");
  auto d = ::opendir(dir.c_str());
  if (d == nullptr)
    return make_error(errc::storage_failed, "cannot read directory " + dir);
  bool empty = true;
  while (auto e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..")
      empty = false;
  }
  ::closedir(d);
  if (!empty)
    return make_error(errc::conflict, dir + " is not empty (a restore makes "
                                            "a new data directory)");
  return {};
}

/// Copies the pairs of `file` into `install`, checking the file again as it
/// goes (it may have changed since it was verified).
caf::error copy_pairs(const std::string& file, kv_install& install) {
  std::ifstream in{file, std::ios::binary | std::ios::ate};
  if (!in)
    return make_error(errc::storage_failed, "cannot open " + file);
  auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  snapshot_file_reader r{in, size};
  if (auto err = r.open())
    return err;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (;;) {
    keys.clear();
    values.clear();
    auto done = r.read(restore_chunk_bytes, keys, values);
    if (!done)
      return done.error();
    if (auto err = install.write(keys, values))
      return err;
    if (*done)
      return {};
  }
}

/// Empties `dir` (made by this restore, or empty before it), or removes it
/// if it did not exist: a restore that failed half way (a full disk, a file
/// changed under it) must not leave what looks like a node's directory.
void undo_target(const std::string& dir, bool existed) {
  std::error_code ec;
  if (!existed) {
    std::filesystem::remove_all(dir, ec);
    return;
  }
  for (auto& e : std::filesystem::directory_iterator{dir, ec})
    std::filesystem::remove_all(e.path(), ec);
}

caf::expected<restore_report>
restore_into(const node_config& cfg, const snapshot_file_summary& summary);

} // namespace

caf::expected<restore_report> restore_backup(const node_config& cfg) {
  auto summary = verify_snapshot_file(cfg.restore);
  if (!summary)
    return summary.error();
  if (summary->meta.index == 0)
    return make_error(errc::corrupt_data,
                      cfg.restore + ": the snapshot is at index 0 (a cluster "
                                    "that never committed): nothing to "
                                    "restore");
  if (auto err = check_target(cfg.data_path))
    return err;
  struct stat st;
  bool existed = ::stat(cfg.data_path.c_str(), &st) == 0;
  auto rep = restore_into(cfg, *summary);
  if (!rep)
    undo_target(cfg.data_path, existed);
  return rep;
}

namespace {

caf::expected<restore_report>
restore_into(const node_config& cfg, const snapshot_file_summary& sum) {
  auto summary = &sum;
  auto dd = open_data_dir(cfg.data_path);
  if (!dd)
    return dd.error();
  restore_report rep;
  rep.name = dd->name;
  rep.count = summary->count;
  member self{dd->name, cfg.host + ":" + std::to_string(cfg.http_port),
              cfg.host + ":" + std::to_string(cfg.raft_port)};
  rep.meta = summary->meta;
  rep.meta.config_index = rep.meta.index;
  rep.meta.config = encode_members({self});
  auto install = begin_kv_install(cfg.data_path, rep.meta);
  if (!install)
    return install.error();
  if (auto err = copy_pairs(cfg.restore, **install))
    return err;
  auto kv = (*install)->finish(summary->count, summary->checksum);
  if (!kv)
    return kv.error();
  dd->kv.reset(); // the empty store it replaced
  (*install)->discard_old();
  // The log continues the snapshot, in the snapshot's term (see above).
  persist_batch b;
  b.has_state = true;
  b.state.term = rep.meta.term;
  b.compact_to = rep.meta.index;
  b.compact_term = rep.meta.term;
  if (auto err = dd->log->write(b))
    return err;
  return rep;
}

} // namespace

} // namespace raftd

#pragma once
// The Raft log as the core sees it (etcd's log.go): the entries after a
// compacted prefix. Once the state machine's snapshot covers a prefix (§7,
// thesis §5.1), `compact` drops it and only its last index and term stay,
// for the consistency check of the entry after it (§5.3).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "messages/types.hpp"

namespace raftd {

class raft_log {
public:
  raft_log() = default;
  /// `entries` hold consecutive indexes starting at 1.
  explicit raft_log(std::vector<log_entry> entries);
  /// `entries` hold consecutive indexes starting at `prefix_index` + 1.
  raft_log(uint64_t prefix_index, uint64_t prefix_term,
           std::vector<log_entry> entries);

  /// Last index and term of the compacted prefix (0, 0: none).
  uint64_t prefix_index() const { return prefix_index_; }
  uint64_t prefix_term() const { return prefix_term_; }

  /// Index of the first entry held (1 while nothing is compacted).
  uint64_t first_index() const { return prefix_index_ + 1; }
  /// Index of the last entry (the prefix's last index if none is held).
  uint64_t last_index() const { return prefix_index_ + entries_.size(); }
  /// Term of the entry at `index`: the prefix's last term for its last
  /// index, 0 for index 0, beyond the log or inside the compacted prefix.
  uint64_t term_at(uint64_t index) const;
  /// True if the entry at `index` is held (not compacted, not beyond).
  bool holds(uint64_t index) const {
    return index >= first_index() && index <= last_index();
  }
  /// The entry at `index`; it must be held.
  const log_entry& at(uint64_t index) const;

  /// Entries from `from` to `to` (inclusive, both held), at most
  /// `max_entries`, and stopping once `max_bytes` of keys and values are
  /// in (at least one entry, however large).
  std::vector<log_entry>
  slice(uint64_t from, uint64_t to,
        size_t max_entries = std::numeric_limits<size_t>::max(),
        size_t max_bytes = std::numeric_limits<size_t>::max()) const;

  /// Appends the entry at last_index() + 1.
  void append(log_entry e);
  /// Drops every entry from `from` on (`from` past the prefix).
  void truncate_from(uint64_t from);

  /// Drops the entries up to `upto` (held, or the prefix itself), keeping
  /// its term as the prefix's (§7: the snapshot replaces them).
  void compact(uint64_t upto);
  /// Drops every entry: the log starts after (index, term) (§7: a snapshot
  /// the log does not continue replaces it whole).
  void reset(uint64_t index, uint64_t term);

  /// The latest configuration entry held at or below `upto`, or null
  /// (thesis §4.1: the latest one in the log is in force, committed or not).
  const log_entry*
  last_config(uint64_t upto = std::numeric_limits<uint64_t>::max()) const;

private:
  /// Last index and term of the compacted prefix (0, 0: none).
  uint64_t prefix_index_ = 0;
  uint64_t prefix_term_ = 0;
  /// Entry i is entries_[i - first_index()]. A deque, not a vector: a vector
  /// that doubles moves the whole log in one step, and the role is silent
  /// meanwhile (bench/RESULTS.md, the 2^20-entry stall).
  std::deque<log_entry> entries_;
};

} // namespace raftd

#include "raft/reconcile.hpp"

#include <string>

#include "messages/errors.hpp"

namespace raftd {

caf::expected<std::optional<persist_batch>>
reconcile_log(durable_log& log, const snapshot_meta& applied) {
  auto last = log.prefix_index + log.entries.size();
  if (log.prefix_index > applied.index)
    return make_error(errc::corrupt_data,
                      "the log is compacted to "
                        + std::to_string(log.prefix_index)
                        + ", past the key/value state's applied index "
                        + std::to_string(applied.index));
  auto term_at = [&](uint64_t i) -> uint64_t {
    if (i == log.prefix_index)
      return log.prefix_term;
    return log.entries[i - log.prefix_index - 1].term;
  };
  // A state from before compaction existed knows no terms (term 0): it
  // was applied from this very log, which then continues it.
  bool continues = applied.index <= last
                   && (applied.term == 0 || applied.index == 0
                       || term_at(applied.index) == applied.term);
  if (continues)
    return std::optional<persist_batch>{};
  if (applied.term == 0)
    return make_error(errc::corrupt_data,
                      "the key/value state is ahead of the log (applied "
                        + std::to_string(applied.index) + ", log ends at "
                        + std::to_string(last) + ")");
  persist_batch b;
  b.compact_to = applied.index;
  b.compact_term = applied.term;
  b.truncate_from = applied.index + 1;
  log.prefix_index = applied.index;
  log.prefix_term = applied.term;
  log.entries.clear();
  return std::optional<persist_batch>{std::move(b)};
}

} // namespace raftd

#include "raft/log.hpp"

#include <iterator>
#include <string>

#include "raft/check.hpp"

namespace raftd {

raft_log::raft_log(std::vector<log_entry> entries)
  : entries_(std::make_move_iterator(entries.begin()),
             std::make_move_iterator(entries.end())) {
}

uint64_t raft_log::term_at(uint64_t index) const {
  if (index == prefix_index_)
    return prefix_term_;
  if (!holds(index))
    return 0;
  return at(index).term;
}

const log_entry& raft_log::at(uint64_t index) const {
  RAFTD_CHECK(holds(index), "no entry " + std::to_string(index)
                              + " in the log's range "
                              + std::to_string(first_index()) + ".."
                              + std::to_string(last_index()));
  return entries_[index - first_index()];
}

std::vector<log_entry> raft_log::slice(uint64_t from, uint64_t to,
                                       size_t max_entries,
                                       size_t max_bytes) const {
  std::vector<log_entry> out;
  if (from > to)
    return out;
  out.reserve(std::min<uint64_t>(to - from + 1, max_entries));
  size_t bytes = 0;
  for (auto i = from; i <= to && out.size() < max_entries; ++i) {
    if (bytes >= max_bytes && !out.empty())
      break;
    auto& e = at(i);
    bytes += e.key.size() + e.value.size();
    out.push_back(e);
  }
  return out;
}

void raft_log::append(log_entry e) {
  RAFTD_CHECK(e.index == last_index() + 1,
              "appending entry " + std::to_string(e.index) + " after "
                + std::to_string(last_index()));
  entries_.push_back(std::move(e));
}

void raft_log::truncate_from(uint64_t from) {
  RAFTD_CHECK(from > prefix_index_,
              "truncating into the compacted prefix at "
                + std::to_string(from));
  if (from <= last_index())
    entries_.resize(from - first_index());
}

const log_entry* raft_log::last_config() const {
  for (auto i = entries_.rbegin(); i != entries_.rend(); ++i)
    if (i->kind == entry_kind::config)
      return &*i;
  return nullptr;
}

} // namespace raftd

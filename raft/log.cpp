#include "raft/log.hpp"

#include <cassert>
#include <iterator>

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
  assert(holds(index));
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
  assert(e.index == last_index() + 1);
  entries_.push_back(std::move(e));
}

void raft_log::truncate_from(uint64_t from) {
  assert(from > prefix_index_);
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

#include "raft/log.hpp"

#include <iterator>
#include <string>

#include "raft/check.hpp"

namespace raftd {

raft_log::raft_log(std::vector<log_entry> entries)
  : entries_(std::make_move_iterator(entries.begin()),
             std::make_move_iterator(entries.end())) {
}

raft_log::raft_log(uint64_t prefix_index, uint64_t prefix_term,
                   std::vector<log_entry> entries)
  : raft_log(std::move(entries)) {
  prefix_index_ = prefix_index;
  prefix_term_ = prefix_term;
  RAFTD_CHECK(entries_.empty() || entries_.front().index == prefix_index + 1,
              "the log after prefix " + std::to_string(prefix_index)
                + " starts at " + std::to_string(entries_.front().index));
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

void raft_log::compact(uint64_t upto) {
  if (upto == prefix_index_)
    return;
  RAFTD_CHECK(holds(upto), "compacting to " + std::to_string(upto)
                             + " outside the log's range "
                             + std::to_string(first_index()) + ".."
                             + std::to_string(last_index()));
  auto term = at(upto).term;
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<ptrdiff_t>(upto - prefix_index_));
  prefix_index_ = upto;
  prefix_term_ = term;
}

void raft_log::reset(uint64_t index, uint64_t term) {
  entries_.clear();
  prefix_index_ = index;
  prefix_term_ = term;
}

const log_entry* raft_log::last_config(uint64_t upto) const {
  for (auto i = entries_.rbegin(); i != entries_.rend(); ++i)
    if (i->index <= upto && i->kind == entry_kind::config)
      return &*i;
  return nullptr;
}

} // namespace raftd

#include "actors/group_commit.hpp"

#include <algorithm>

#include "raft/core.hpp"

namespace raftd {

void group_commit::merge(effects& e, const hard_state& state) {
  auto& b = next_.batch;
  next_.used = true;
  if (e.save_state) {
    b.has_state = true;
    b.state = state;
  }
  if (e.compact_to > b.compact_to) {
    // The prefix moves first (persist_batch): what it covers is not written,
    // and a truncation inside it starts after it instead.
    b.compact_to = e.compact_to;
    b.compact_term = e.compact_term;
    auto& es = b.entries;
    es.erase(std::remove_if(es.begin(), es.end(),
                            [&](auto& x) { return x.index <= b.compact_to; }),
             es.end());
    if (b.truncate_from != 0 && b.truncate_from <= b.compact_to)
      b.truncate_from = b.compact_to + 1;
  }
  if (e.truncate_from != 0) {
    auto from = e.truncate_from;
    if (b.truncate_from == 0 || from < b.truncate_from)
      b.truncate_from = from;
    auto& es = b.entries;
    while (!es.empty() && es.back().index >= from)
      es.pop_back();
  }
  for (auto& x : e.append)
    b.entries.push_back(std::move(x));
}

void group_commit::after(after_fn f) {
  if (next_.used)
    next_.after.push_back(std::move(f));
  else if (in_flight_.used)
    in_flight_.after.push_back(std::move(f));
  else
    f();
}

std::optional<persist_batch> group_commit::start() {
  if (in_flight_.used || !next_.used)
    return std::nullopt;
  in_flight_ = std::move(next_);
  next_ = slot{};
  auto& es = in_flight_.batch.entries;
  in_flight_last_ = es.empty() ? last_entry{0, 0}
                               : last_entry{es.back().index, es.back().term};
  // The batch moves into the message: only what waits on it stays here.
  auto batch = std::move(in_flight_.batch);
  in_flight_.batch = persist_batch{};
  return batch;
}

std::pair<group_commit::last_entry, std::vector<group_commit::after_fn>>
group_commit::finish() {
  auto done = std::make_pair(in_flight_last_, std::move(in_flight_.after));
  in_flight_ = slot{};
  in_flight_last_ = {0, 0};
  return done;
}

} // namespace raftd

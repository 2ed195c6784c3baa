#include "raft/progress.hpp"

#include <algorithm>

namespace raftd {

void peer_progress::reset(uint64_t next_index) {
  next = std::max(next_index, match + 1);
  probe = true;
  flights.clear();
  ++epoch;
}

bool peer_progress::can_send(size_t max_inflight) const {
  return probe ? flights.empty() : flights.size() < max_inflight;
}

void peer_progress::sent(uint64_t last_or_zero, uint64_t now) {
  if (last_or_zero == 0)
    return;
  flights.push_back(flight{last_or_zero, now});
  if (last_or_zero >= next)
    next = last_or_zero + 1; // optimistic: the next request follows on
}

void peer_progress::succeeded(uint64_t match_index, uint64_t reply_epoch) {
  match = std::max(match, match_index);
  while (!flights.empty() && flights.front().last <= match)
    flights.pop_front();
  next = std::max(next, match + 1);
  if (probe && reply_epoch == epoch) {
    probe = false; // found where the logs agree: pipeline from here
    next = match + 1;
    flights.clear();
    ++epoch;
  }
}

bool peer_progress::rejected(uint64_t conflict_index, uint64_t reply_epoch) {
  if (reply_epoch != epoch)
    return false; // the window was reset since: this says nothing new
  auto back = conflict_index > 0 ? conflict_index : next - 1;
  reset(std::max<uint64_t>(1, std::min(back, next - 1)));
  return true;
}

void peer_progress::failed(uint64_t reply_epoch) {
  if (reply_epoch == epoch)
    reset(match + 1);
}

bool peer_progress::stalled(uint64_t now, uint64_t timeout) const {
  return !flights.empty() && now - flights.front().sent_at >= timeout;
}

} // namespace raftd

#pragma once
// Per-peer replication progress (etcd's tracker/progress.go and
// inflights.go): pure bookkeeping, no actors, no clock (time comes in as a
// tick count). The replicator actor (actors/replicator.cpp) drives it.

#include <cstddef>
#include <cstdint>
#include <deque>

namespace raftd {

/// Pure bookkeeping of what one peer holds and what is in flight to it
/// (etcd's tracker/progress and inflights): in `probe` mode one request at a
/// time finds where the logs agree; in `replicate` mode up to `max_inflight`
/// go out. In-flight appends are freed by index, as etcd's FreeLE: a success
/// up to i frees every request up to i, so a lost reply costs nothing once a
/// later one arrives.
struct peer_progress {
  /// One append in flight: its last index and when it went out (ticks).
  struct flight {
    uint64_t last;
    uint64_t sent_at;
  };

  uint64_t next = 1;   ///< Next index to send.
  uint64_t match = 0;  ///< Highest index known to match, durably (§5.3).
  bool probe = true;
  /// Appends with entries in flight, oldest first. Heartbeats (no entries)
  /// do not take a slot.
  std::deque<flight> flights;
  /// Bumped whenever the window resets; replies from an older epoch no
  /// longer count against the window.
  uint64_t epoch = 0;

  /// Starts over from `next` (a new term, a timeout, a reconnect).
  void reset(uint64_t next_index);
  /// True if another request may go out now.
  bool can_send(size_t max_inflight) const;
  /// A request carrying entries up to `last` (or none: 0) went out at `now`.
  void sent(uint64_t last_or_zero, uint64_t now);
  /// A success: the peer holds everything up to `match_index`.
  void succeeded(uint64_t match_index, uint64_t reply_epoch);
  /// A rejection with the follower's hint (§5.3): back off to the first
  /// index of the conflicting term, or past the follower's last entry.
  /// Returns false if the reply was stale and changed nothing.
  bool rejected(uint64_t conflict_index, uint64_t reply_epoch);
  /// A request failed (peer down): resend from the match.
  void failed(uint64_t reply_epoch);
  /// True if the oldest append in flight went out `timeout` ticks ago or
  /// more without being answered.
  bool stalled(uint64_t now, uint64_t timeout) const;
};

} // namespace raftd

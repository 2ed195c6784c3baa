#pragma once
// Group commit (thesis §10.2.1): one durable write at the persister at a
// time; whatever the core asks to write meanwhile collects in the next one,
// so everything proposed during one fsync shares the next. Replies that may
// go out only once durable (§5.1 "respond after persisting") wait on the
// write that carries their state. Plain: the role sends the batches and
// reports them done; tests drive it without an actor.

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "messages/types.hpp"

namespace raftd {

struct effects;

class group_commit {
public:
  using after_fn = std::function<void()>;
  /// (index, term) of the last entry a write makes durable; (0, 0): none.
  using last_entry = std::pair<uint64_t, uint64_t>;

  /// Adds the core's writes to the next batch: `state` if `e` says to save
  /// it, the truncation (dropping what the batch meant to append from that
  /// index on), then the new entries, moved out of `e`.
  void merge(effects& e, const hard_state& state);

  /// Runs `f` once every write merged so far is durable: at once if none is
  /// pending.
  void after(after_fn f);

  /// The next batch for the persister, if one is waiting and none is in
  /// flight; it is in flight from now on.
  std::optional<persist_batch> start();

  /// The write in flight is durable: what it made durable, and the
  /// functions waiting on it, in order, for the caller to run.
  std::pair<last_entry, std::vector<after_fn>> finish();

  /// True if a write is at the persister.
  bool in_flight() const { return in_flight_.used; }

private:
  struct slot {
    bool used = false;
    persist_batch batch;
    std::vector<after_fn> after;
  };
  slot in_flight_;
  slot next_;
  last_entry in_flight_last_{0, 0};
};

} // namespace raftd

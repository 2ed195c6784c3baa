#pragma once
// The simulation's client history and its linearizability check, per key
// (a register history is linearizable iff each key's is: locality, Herlihy &
// Wing). The model is tests/lin/checker.py's, with deletes made exact:
//   put v      ok: took effect once inside [invoke, complete]; failed
//              (nothing proposed: no_leader, not_leader, busy,
//              storage_failed): dropped; unknown (outcome_unknown,
//              superseded, a timeout): may take effect any time after
//              invoke, or never.
//   delete     ok, found: the key held a value, and is absent after;
//              ok, not found: the key was absent, and stays so; unknown:
//              a write of "absent" that may or may not take effect.
//   read       linearizable, ok: returned the register's value at one point
//              inside [invoke, complete]. Failed reads are dropped.
//   stale read may be as old as it likes, but not from the future: it
//              returns "absent" (a node that has applied nothing yet: a
//              restart, a spare that just joined) or the value of a put of
//              that key invoked before the read completed.
// The search is Wing & Gong's with Lowe's just-in-time linearization and
// memoized (linearized set, value) configurations, as Porcupine does. Pure:
// no actors, no clock (times are virtual microseconds).

#include <cstdint>
#include <limits>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace raftd::sim {

/// One client operation of the history.
struct history_op {
  enum kind_t { put, del, read, stale_read };
  enum outcome_t { ok, failed, unknown };
  kind_t kind = put;
  outcome_t outcome = ok;
  std::string key;
  /// put: the value written; reads: the value returned if `found`.
  std::string value;
  /// Reads and ok deletes: whether the key held a value.
  bool found = false;
  /// Virtual time of the first attempt and of the final answer (unknown:
  /// never answered for sure, `complete` is ignored).
  int64_t invoke = 0;
  int64_t complete = 0;
  /// Which client request it was, for failure messages.
  uint64_t id = 0;
};

/// "op 12 put k1=v12 [300, 450] ok" for failure messages.
std::string describe(const history_op& op);

/// Writes `ops` as JSON lines in tests/lin/checker.py's format (times in
/// seconds; stale reads left out), so the Python checker can judge them.
void write_history(std::ostream& out, const std::vector<history_op>& ops);

/// Why a history is not linearizable: the check's detail.
struct history_failure {
  std::string key;
  std::string detail;
};

/// Checks each key's linearizable ops (Wing & Gong) and every stale read;
/// the first failure found, or nothing. `max_steps` bounds the search per
/// key: a key it cannot decide within them (many long concurrent writes,
/// as a slow cluster makes) counts in `undecided` and does not fail.
std::optional<history_failure>
check_history(const std::vector<history_op>& ops, uint64_t max_steps,
              size_t& undecided);

/// The same, failing a key it cannot decide.
std::optional<history_failure>
check_history(const std::vector<history_op>& ops,
              uint64_t max_steps = 1'000'000);

} // namespace raftd::sim

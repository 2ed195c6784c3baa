#pragma once
// The simulation's safety checks (tests/sim_cluster.cpp feeds them): Raft's
// properties (§5.2, §5.4, Figure 3) checked after every step of every node,
// plus what a client may rely on. Pure: no actors, no clock.
//
// How the log checks stay cheap: every log position gets a chained hash
// (hash of the entry and of the position before it). Log Matching then says
// that an (index, term) pair, wherever and whenever it appears, always comes
// with the same chained hash; a registry of those pairs, never pruned, checks
// it as each node's log grows. Committed entries are kept once, with the
// lowest term in which any node knew them committed; a leader of a later term
// must hold every one of them (Leader Completeness).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messages/types.hpp"

namespace raftd {
class raft_core;
} // namespace raftd

namespace raftd::sim {

/// The names of the checks, as failures report them.
namespace check {
constexpr const char* election_safety = "election safety";
constexpr const char* log_matching = "log matching";
constexpr const char* leader_completeness = "leader completeness";
constexpr const char* state_machine_safety = "state machine safety";
/// No two nodes consider different entries committed at one index.
constexpr const char* commit_agreement = "commit agreement";
/// No node removes an entry at or below its own commit index.
constexpr const char* committed_kept = "committed entries kept";
/// Every acknowledged write is applied at its index, once, everywhere.
constexpr const char* acked_writes = "acknowledged writes";
/// A server joins only once it has caught up (thesis §4.2.1).
constexpr const char* catch_up = "caught up before joining";
/// A committed membership change is reported as a success.
constexpr const char* change_replies = "membership change replies";
/// A linearizable read sees every write acknowledged before it began.
constexpr const char* linearizable_reads = "linearizable reads";
/// The clients' history is linearizable per key, and stale reads return
/// nothing from the future (tests/sim_history.hpp).
constexpr const char* history = "linearizable history";
/// A vote or an append acknowledgement goes out only once durable (Fig. 2).
constexpr const char* durable_replies = "durable before reply";
/// A node's key/value state is what applying the committed log from the
/// start up to its applied index gives (checked at each apply and install,
/// and every member's whole state once the cluster is quiet).
constexpr const char* kv_state = "kv state";
/// After the faults stop, a leader and progress within a bounded time; a
/// running node answers every client request within its bound.
constexpr const char* liveness = "liveness";
} // namespace check

/// A whole key/value state, as a snapshot reader streams it.
using kv_pairs = std::map<std::string, std::string>;

/// A broken property: which one, and what was seen.
struct violation {
  std::string check;
  std::string detail;
};

/// 64-bit hash of an entry (term, index, kind, key, value).
uint64_t entry_hash(const log_entry& e);

/// "i3 t2 put k0=c1-7": a short description for failure messages.
std::string describe_entry(const log_entry& e);

/// Checks Raft's safety properties as nodes step. The first violation is
/// kept; later ones are ignored (one failure names one seed and step).
class safety_checker {
public:
  explicit safety_checker(size_t nodes);

  // -- what the simulation reports --------------------------------------------

  /// Node `n` restarted: its volatile state (log view, commit) starts over
  /// from what it loads; its state machine holds every entry up to
  /// `applied` (its durable kv state).
  void restarted(size_t n, uint64_t applied = 0);

  /// After every step of node `n`'s role, with its core as it now is.
  void on_step(size_t n, const raft_core& c);

  /// Node `n`'s state machine applied `es` (in order). Entries an install
  /// covered since are skipped, as the store skips them.
  void on_applied(size_t n, const std::vector<log_entry>& es);

  /// Node `n`'s state machine switched to snapshot `m` from a leader (§7):
  /// it holds every committed entry up to m.index, and applies from there.
  void on_installed(size_t n, const snapshot_meta& m);

  /// Node `n`'s whole key/value state (`pairs`, ascending keys) at its
  /// applied index `index` must be the reference state there
  /// (check::kv_state); `when` says when it was taken. Skipped while the
  /// committed log known here is shorter.
  void check_kv(size_t n, uint64_t index, const kv_pairs& pairs,
                const char* when);

  /// A client saw `put key value` (or a delete of key) acknowledged at
  /// `index`.
  void on_acked_write(uint64_t index, const std::string& key,
                      const std::string& value,
                      entry_kind kind = entry_kind::put);

  /// Records a violation found elsewhere (network, clients, liveness).
  void fail(const char* check, std::string detail);

  // -- results ----------------------------------------------------------------

  const std::optional<violation>& failure() const {
    return failure_;
  }

  /// The state that applying the committed entries 1..`index` gives
  /// (`index` at most the committed entries known).
  kv_pairs reference_state(uint64_t index) const;

  /// Highest index node `n` applied since it last started.
  uint64_t applied_upto(size_t n) const {
    return nodes_[n].applied;
  }

  /// Highest index any state machine applied.
  uint64_t applied_max() const {
    return applied_.size();
  }

  /// Highest index a client saw acknowledged (0: none).
  uint64_t acked_max() const {
    return acked_.empty() ? 0 : acked_.rbegin()->first;
  }

  size_t acked_count() const {
    return acked_.size();
  }

  /// The applied index of the put that wrote `value`, if it was applied.
  std::optional<uint64_t> index_of_value(const std::string& value) const;

  /// Whether a delete of `key` was applied at `index` or later.
  bool deleted_since(const std::string& key, uint64_t index) const;

  /// The key an applied put at `index` wrote ("" if none).
  std::string key_at(uint64_t index) const;

  /// End of a run that reached liveness: every acknowledged write is
  /// applied (on every node, which the caller checked caught up).
  void finish();

private:
  struct node_view {
    /// Term and chained hash of each log position, as last seen.
    std::vector<uint64_t> terms;
    std::vector<uint64_t> chain;
    /// Highest commit index seen since the node started.
    uint64_t max_commit = 0;
    /// Positions up to here were compared with `committed_`.
    uint64_t commit_checked = 0;
    /// Highest index applied since the node started.
    uint64_t applied = 0;
    /// Highest snapshot installed since the node started: applied batches
    /// skip the entries up to it.
    uint64_t installed = 0;
    /// Positions up to here are in the node's compacted prefix, checked
    /// equal to the committed entries (§7: a snapshot holds only those).
    uint64_t prefix_checked = 0;
  };

  struct committed_entry {
    log_entry entry;
    uint64_t hash = 0;  ///< entry_hash(entry)
    uint64_t chain = 0; ///< chained hash of the position
    /// Lowest term in which some node knew it committed.
    uint64_t commit_term = 0;
  };

  struct pair_hash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& p) const;
  };

  void check_election_safety(size_t n, const raft_core& c);
  void check_log_matching(size_t n, const raft_core& c);
  void register_position(size_t n, uint64_t index, uint64_t term,
                         uint64_t chain);
  void check_commit(size_t n, const raft_core& c);
  void check_leader_completeness(size_t n, const raft_core& c);
  void check_applied(size_t n, const log_entry& e);
  void record_applied(const log_entry& e, uint64_t h);
  /// Extends ref_digest_ to every committed entry known.
  void extend_reference();
  void check_ack(uint64_t index);

  std::optional<violation> failure_;
  std::vector<node_view> nodes_;
  /// Election safety: the leader of each term.
  std::map<uint64_t, size_t> leaders_;
  /// Log matching: (index, term) -> chained hash, and who showed it first.
  std::unordered_map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, size_t>,
                     pair_hash>
    positions_;
  /// Entry i is committed_[i - 1]; always a prefix of every later log.
  std::vector<committed_entry> committed_;
  /// Leader completeness: per leader term, committed entries verified in
  /// its log (a leader's log only grows while it leads).
  std::map<uint64_t, uint64_t> leader_checked_;
  /// State machine safety: hash of what was applied at each index.
  std::vector<uint64_t> applied_;
  /// Reference state: the committed entries applied from the start, as a
  /// digest after each index (ref_digest_[i - 1] after entry i), and the
  /// state after the last of them.
  std::vector<uint64_t> ref_digest_;
  kv_pairs ref_state_;
  /// Applied puts by value (values are unique per client write).
  std::unordered_map<std::string, uint64_t> value_index_;
  /// Acknowledged writes by index.
  std::map<uint64_t, log_entry> acked_;
};

} // namespace raftd::sim

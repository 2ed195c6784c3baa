#include "tests/sim_cluster.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "daemon/logging.hpp"
#include "actors/persister.hpp"
#include "raft/core.hpp"
#include "actors/raft_role.hpp"
#include "actors/state_machine.hpp"
#include "messages/errors.hpp"
#include "raft/reconcile.hpp"
#include "storage/kv_store.hpp"
#include "storage/log_store.hpp"
#include "tests/sim_checker.hpp"
#include "tests/sim_history.hpp"
#include "tests/sim_network.hpp"

using namespace std::chrono_literals;

namespace raftd::sim {

namespace {

// -- the cluster's settings (virtual time) ------------------------------------

constexpr auto write_timeout = 1000ms;
/// What a client waits: main.cpp gives HTTP requests write_timeout + 1 s.
constexpr auto client_timeout = write_timeout + 1000ms;
constexpr size_t key_count = 5;
/// The history check's search per key: enough for all but a few keys of a
/// slow cluster's seeds (a dozen long concurrent writes); those count as
/// undecided (sim_result::history_undecided), not as failures.
constexpr uint64_t history_steps = 200'000;
constexpr int max_redirects = 3;
/// Virtual time that passes, now and then, while messages wait: a step
/// costs (1 - run_job) * work_quantum on average, so even the slowest
/// setting handles 100,000 messages per virtual second (a loaded cluster
/// needs about 10,000): time never stalls behind a backlog of the sim's own
/// making, and timers still fire between queued messages.
constexpr auto work_quantum = 100us;
/// After the faults stop, a node may apply this far behind the writes the
/// clients saw acknowledged (a healthy follower: about a heartbeat).
constexpr auto max_lag = 500ms;
/// A crash "at the next write" waits at most this long for one.
constexpr auto doom_wait = 300ms;
/// A joining server must catch up within this (role_config; short, so that
/// a join of a server that never catches up fails within the fault phase).
constexpr auto catch_up_timeout = 1000ms;
/// What the joiner or an operator waits for a join or leave: the catch-up,
/// then the configuration entry's commit (or its write timeout).
constexpr auto change_timeout = catch_up_timeout + write_timeout + 1000ms;

using fault_atom = caf::atom_constant<caf::atom("sim_fault")>;
using client_atom = caf::atom_constant<caf::atom("sim_client")>;
using restart_atom = caf::atom_constant<caf::atom("sim_start")>;
using rejoin_atom = caf::atom_constant<caf::atom("sim_rejoin")>;
using resume_atom = caf::atom_constant<caf::atom("sim_resume")>;
using change_atom = caf::atom_constant<caf::atom("sim_change")>;

using time_point = caf::actor_clock::time_point;

// -- storage that survives a crash --------------------------------------------

/// A kv store's whole state, and the applied index it is the state of.
std::pair<uint64_t, kv_pairs> dump_kv(kv_store& kv) {
  std::pair<uint64_t, kv_pairs> out;
  auto reader = kv.read_snapshot();
  if (!reader)
    return out;
  auto& r = **reader;
  out.first = r.meta().index;
  r.seek_after({}, true);
  for (bool end = false; !end;) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    auto res = r.read(1 << 20, keys, values);
    end = !res || *res;
    for (size_t i = 0; i < keys.size(); ++i)
      out.second.emplace(std::move(keys[i]), std::move(values[i]));
  }
  return out;
}

/// A copy of a kv store as it is now, durable as such (what a synced
/// write leaves on disk).
std::shared_ptr<kv_store> copy_kv(kv_store& kv) {
  auto [index, pairs] = dump_kv(kv);
  std::shared_ptr<kv_store> out;
  auto take = [&out](std::shared_ptr<kv_store> s) {
    out = std::move(s);
    return std::unique_ptr<kv_store>{};
  };
  auto meta = kv.meta();
  meta.index = index;
  auto inst = make_memory_kv_install(meta, take);
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (auto& [k, v] : pairs) {
    keys.push_back(k);
    values.push_back(v);
  }
  inst->write(keys, values);
  auto& d = inst->digest();
  inst->finish(d.count(), d.value());
  return out ? out : std::shared_ptr<kv_store>{make_memory_kv_store()};
}


/// A node's disk, kept across its crashes. Only the running incarnation may
/// write: a crash cuts the old one off, so whatever its persister had not
/// written yet is lost, as an unsynced write is.
struct sim_disk {
  std::shared_ptr<memory_log_disk> mem = std::make_shared<memory_log_disk>();
  uint64_t writer = 0;
  /// The next write fails: it is lost, or (`fail_after_write`) it reaches
  /// the disk and still reports failure, as a failed fsync may.
  bool fail_next = false;
  bool fail_after_write = false;
  /// The key/value state with its applied index (DATA/kv), kept across
  /// crashes whole, as LevelDB's write batches are.
  std::shared_ptr<kv_store> kv{make_memory_kv_store()};
  /// A copy of `kv` as of its last synced write (or install): what a
  /// machine crash leaves (storage/kv_store.hpp: unsynced batches may go).
  std::shared_ptr<kv_store> kv_synced{make_memory_kv_store()};
  /// The last crash was a machine's: the next start finds `kv_synced`.
  bool lose_unsynced = false;
};

/// The kv store of one incarnation: applies only while it runs, so a
/// crashed node's state machine cannot apply after its successor started.
class gated_kv_store final : public kv_store {
public:
  gated_kv_store(std::shared_ptr<sim_disk> disk, uint64_t inc) :
    disk_(std::move(disk)), inc_(inc) {
    // nop
  }

  uint64_t applied_index() const override {
    return disk_->kv->applied_index();
  }

  caf::expected<std::optional<std::string>>
  get(const std::string& key) override {
    return disk_->kv->get(key);
  }

  caf::expected<apply_result>
  apply(const std::vector<log_entry>& entries) override {
    if (disk_->writer != inc_)
      return make_error(errc::storage_failed, "this incarnation crashed");
    return disk_->kv->apply(entries);
  }

  snapshot_meta meta() const override {
    return disk_->kv->meta();
  }

  snapshot_meta durable() const override {
    return disk_->kv->durable();
  }

  caf::error sync() override {
    if (disk_->writer != inc_)
      return make_error(errc::storage_failed, "this incarnation crashed");
    auto err = disk_->kv->sync();
    if (!err)
      disk_->kv_synced = copy_kv(*disk_->kv);
    return err;
  }

  caf::expected<std::unique_ptr<snapshot_reader>> read_snapshot() override {
    return disk_->kv->read_snapshot();
  }

private:
  std::shared_ptr<sim_disk> disk_;
  uint64_t inc_;
};

/// The memory log store of one incarnation, writing only while it runs.
class gated_log_store final : public log_store {
public:
  gated_log_store(std::shared_ptr<sim_disk> disk, uint64_t inc) :
    disk_(std::move(disk)), inc_(inc),
    inner_(make_memory_log_store(disk_->mem)) {
    // nop
  }

  caf::error load(durable_log& out) override {
    return inner_->load(out);
  }

  caf::expected<bool> trim(size_t max_entries) override {
    return inner_->trim(max_entries);
  }

  uint64_t prefix_index() const override {
    return inner_->prefix_index();
  }

  caf::error write(const persist_batch& b) override {
    if (disk_->writer != inc_)
      return make_error(errc::storage_failed, "this incarnation crashed");
    if (failed_ || disk_->fail_next)
      return fail(b);
    return inner_->write(b);
  }

  uint64_t last_index() const override {
    return inner_->last_index();
  }

private:
  /// A failed store stays failed until reopened (storage/log_store.hpp).
  caf::error fail(const persist_batch& b) {
    if (!failed_ && disk_->fail_after_write)
      inner_->write(b);
    disk_->fail_next = false;
    failed_ = true;
    return make_error(errc::storage_failed, "injected disk failure");
  }

  std::shared_ptr<sim_disk> disk_;
  uint64_t inc_;
  std::unique_ptr<log_store> inner_;
  bool failed_ = false;
};

/// An install (storage/snapshot.hpp) into one incarnation's memory store,
/// that tells the cluster of each step (where it may crash the node) and
/// writes nothing once the node crashed: the switch is the atomic step.
class sim_kv_install final : public kv_install {
public:
  using step_fn = std::function<void(install_step)>;

  sim_kv_install(std::shared_ptr<sim_disk> disk, uint64_t inc,
                 std::unique_ptr<kv_install> inner, step_fn at) :
    disk_(std::move(disk)), inc_(inc), inner_(std::move(inner)),
    at_(std::move(at)) {
    // nop
  }

  const snapshot_meta& meta() const override {
    return inner_->meta();
  }

  const snapshot_digest& digest() const override {
    return inner_->digest();
  }

  caf::error write(const std::vector<std::string>& keys,
                   const std::vector<std::string>& values) override {
    if (auto err = gate())
      return err;
    auto err = inner_->write(keys, values);
    if (!err)
      at_(install_step::chunk);
    return err;
  }

  caf::expected<std::unique_ptr<kv_store>>
  finish(uint64_t count, uint64_t checksum) override {
    if (auto err = gate())
      return err;
    at_(install_step::before_switch);
    if (auto err = gate())
      return err;
    auto res = inner_->finish(count, checksum);
    if (res)
      at_(install_step::after_switch);
    return res;
  }

  void discard_old() override {
    inner_->discard_old();
  }

private:
  caf::error gate() const {
    if (disk_->writer != inc_)
      return make_error(errc::storage_failed, "this incarnation crashed");
    return {};
  }

  std::shared_ptr<sim_disk> disk_;
  uint64_t inc_;
  std::unique_ptr<kv_install> inner_;
  step_fn at_;
};

const char* to_string(install_step s) {
  switch (s) {
  case install_step::begin: return "before its first chunk";
  case install_step::chunk: return "after a chunk";
  case install_step::before_switch: return "after its last chunk, before "
                                           "the switch";
  case install_step::after_switch: return "right after the switch";
  case install_step::log_durable: return "once the log's reset is durable";
  }
  return "?";
}

// -- what one seed draws before anything runs ---------------------------------

struct scenario {
  size_t nodes = 3;
  link_faults faults;
  std::chrono::milliseconds fault_gap{300}; ///< Mean time between faults.
  std::chrono::milliseconds client_gap{20}; ///< Mean time between requests.
  std::chrono::milliseconds max_down{500};  ///< Longest downtime.
  /// Chance that a step runs a queued message rather than letting time
  /// pass (so a slow actor lets timers fire first).
  double run_job = 0.95;
  /// Faults aimed at the moments that matter (FoundationDB's "buggify"):
  /// crash a voter right after it granted a vote; crash or isolate a node
  /// that just became leader, or a leader whose commit index just moved
  /// for the first time in its term (taking earlier terms' entries along).
  double crash_voter = 0;
  double new_leader_fault = 0;
  double commit_fault = 0;
  /// Chance that an aimed fault crashes the node rather than isolating it.
  double aimed_crash = 0.5;
  /// Replication limits (role_config): small batches replicate a new
  /// leader's log in several appends.
  size_t max_batch_entries = 4096;
  size_t max_inflight = 8;
  /// Election timeouts are random in [1, 2) * election_ticks ticks; the
  /// leader's heartbeat is well below; an RPC times out after twice the
  /// longest election timeout.
  int election_ticks = 10;
  std::chrono::milliseconds heartbeat{50};
  /// Membership changes (thesis ch. 4): spare servers (empty disks, not in
  /// the founding configuration) that may join; the mean time between
  /// changes; how often a leave removes the leader itself (§4.2.2) and how
  /// often a join's server stays down or paused throughout (§4.2.1).
  bool membership = false;
  size_t spares = 0;
  std::chrono::milliseconds change_gap{300};
  double remove_leader = 0;
  double stuck_join = 0;
  /// Log compaction (§7): the state machine syncs every `snapshot_entries`
  /// applied entries (0: never, no compaction), the log keeps
  /// `snapshot_trailing` behind; snapshots go in chunks of `chunk_bytes`
  /// (a pair is about 6 bytes, five keys); an install crashes its node at
  /// a drawn step with probability `install_crash`.
  uint64_t snapshot_entries = 0;
  uint64_t snapshot_trailing = 0;
  size_t chunk_bytes = 64;
  double install_crash = 0;
  /// Chance that a crash is a machine's: the kv state loses what was
  /// applied since its last sync, and the log must still hold the rest.
  double power_loss = 0;
};

template <class T>
T pick(std::mt19937_64& rng, std::initializer_list<T> xs) {
  auto i = std::uniform_int_distribution<size_t>{0, xs.size() - 1}(rng);
  return *(xs.begin() + i);
}

/// Half of the seeds churn leaders hard: almost every new leader is cut off
/// at once or at its first commit (mostly isolated, so its log stays as it
/// was), comes back after a short or long while, and few other faults undo
/// that. One-entry appends leave a follower holding an old term's entries
/// without the new leader's no-op. This is how logs diverge the way the
/// paper's Figure 8 draws them.
void churn_leaders(scenario& s) {
  s.new_leader_fault = 0.9;
  s.commit_fault = 0.9;
  s.aimed_crash = 0.2;
  s.crash_voter = 0.3;
  s.max_batch_entries = 1;
  s.max_inflight = 1;
  s.fault_gap = 5000ms;
  s.max_down = 500ms;
  s.election_ticks = 5;
  s.heartbeat = 20ms;
}

scenario draw_scenario(std::mt19937_64& rng) {
  scenario s;
  s.nodes = pick<size_t>(rng, {3, 3, 5});
  s.faults.drop = pick(rng, {0.0, 0.01, 0.05, 0.2});
  s.faults.duplicate = pick(rng, {0.0, 0.02, 0.1});
  s.faults.delay = pick(rng, {0.0, 0.3, 1.0});
  s.faults.max_delay = pick(rng, {2ms, 20ms, 100ms, 300ms});
  s.fault_gap = pick(rng, {50ms, 100ms, 300ms, 1000ms});
  s.client_gap = pick(rng, {5ms, 20ms, 50ms});
  s.max_down = pick(rng, {10ms, 50ms, 300ms, 1000ms});
  s.run_job = pick(rng, {0.9, 0.99, 0.999});
  s.crash_voter = pick(rng, {0.0, 0.05, 0.3});
  s.new_leader_fault = pick(rng, {0.0, 0.2, 0.5});
  s.commit_fault = pick(rng, {0.0, 0.2, 0.5});
  s.max_batch_entries = pick<size_t>(rng, {1, 2, 4096});
  s.max_inflight = pick<size_t>(rng, {1, 2, 8});
  if (pick(rng, {false, true}))
    churn_leaders(s);
  return s;
}

/// Membership draws from a generator of its own: a seed without membership
/// changes draws the same scenario, faults and requests as before they
/// existed.
void draw_membership(scenario& s, uint64_t seed, membership_mode mode) {
  std::mt19937_64 g{seed ^ 0x6d656d6265727321ull};
  if (mode == membership_mode::off
      || (mode == membership_mode::half && pick(g, {false, true})))
    return;
  s.membership = true;
  s.spares = pick<size_t>(g, {1, 2});
  s.change_gap = pick(g, {100ms, 300ms, 800ms});
  s.remove_leader = pick(g, {0.2, 0.5});
  s.stuck_join = pick(g, {0.0, 0.2, 0.5});
}

/// Compaction draws from a generator of its own too (see draw_membership).
/// Thresholds are small, so that logs compact every few dozen entries and
/// a follower away for a while needs a snapshot.
void draw_snapshots(scenario& s, const sim_options& opts) {
  std::mt19937_64 g{opts.seed ^ 0x736e617073686f74ull};
  auto on = opts.snapshot_entries != 0 || opts.snapshots == snapshot_mode::all
            || (opts.snapshots == snapshot_mode::half && pick(g, {false, true}));
  if (!on)
    return;
  s.snapshot_entries = std::uniform_int_distribution<uint64_t>{5, 60}(g);
  s.snapshot_trailing = std::uniform_int_distribution<uint64_t>{0, 20}(g);
  if (opts.snapshot_entries != 0) {
    s.snapshot_entries = opts.snapshot_entries;
    s.snapshot_trailing = opts.snapshot_trailing;
  }
  s.chunk_bytes = pick<size_t>(g, {1, 8, 64});
  s.install_crash = pick(g, {0.0, 0.2, 0.5});
  s.power_loss = pick(g, {0.0, 0.5});
}

scenario draw_scenario(std::mt19937_64& rng, const sim_options& opts) {
  auto s = draw_scenario(rng);
  draw_membership(s, opts.seed, opts.membership);
  draw_snapshots(s, opts);
  return s;
}

std::string label(size_t n) {
  return "n" + std::to_string(n + 1);
}

// -- the cluster --------------------------------------------------------------

struct sim_node {
  std::string name;
  member self;
  std::shared_ptr<sim_disk> disk = std::make_shared<sim_disk>();
  /// Counts starts; observations from an older incarnation are ignored.
  uint64_t inc = 0;
  bool up = false;
  role_actor role;
  persister_actor persister;
  state_machine_actor sm;
  connector_actor connector;
  /// What its role last showed (this incarnation).
  role_kind role_now = role_kind::follower;
  uint64_t term = 0;
  node_name leader;
  uint64_t commit = 0;
  /// The last term in which it moved its commit index as leader.
  uint64_t commit_term = 0;
  /// Its disk was told to fail (the role stopping is then expected).
  bool disk_failed = false;
  /// Its clock: one tick of its role (clocks drift apart a little).
  std::chrono::milliseconds tick{10};
  /// Paused (as by SIGSTOP): its role, persister and state machine run
  /// nothing until it resumes; their mail waits.
  bool paused = false;
  time_point resumed_at;
  /// Its configuration as its core last showed it: the entry (index,
  /// term), the members (node numbers), and whether it is uncommitted here.
  std::pair<uint64_t, uint64_t> config{0, 0};
  std::vector<size_t> members;
  bool config_pending = false;
  /// Not restarted while a join of it must fail (it never catches up).
  bool held_down = false;
  /// Down or paused since a join of it began, and not run since: it cannot
  /// have caught up, so no leader may add it (thesis §4.2.1).
  bool stuck = false;
  /// Its log's compacted prefix as its core last showed it, and the index
  /// of the last snapshot it installed (that moved the prefix too).
  uint64_t prefix = 0;
  uint64_t installed = 0;
  /// The install step at which it crashes (drawn as an install begins),
  /// and for install_step::chunk, after how many chunks.
  std::optional<install_step> install_doom;
  uint64_t doom_chunks = 0;
};

enum class op_kind { put, del, get, join, leave };

/// One client request, followed through redirects.
struct client_op {
  op_kind kind = op_kind::put;
  /// Join and leave: the server added or removed; whether it was the
  /// leader (leave) or kept from catching up (join) when asked.
  size_t subject = 0;
  bool aimed_at_leader = false;
  bool stuck = false;
  read_mode mode = read_mode::linearizable;
  std::string key;
  std::string value;
  size_t target = 0;
  uint64_t target_inc = 0;
  int redirects = 0;
  bool done = false;
  bool ok = false;
  uint64_t index = 0;
  bool found = false;
  std::string read_value;
  /// Reads: the highest acknowledged write to `key` before it began.
  uint64_t min_index = 0;
  /// When the current attempt went out.
  time_point sent;
  /// For the history (tests/sim_history.hpp): when the first attempt went
  /// out, when the last was answered, and what that answer means.
  time_point invoked;
  time_point completed;
  history_op::outcome_t outcome = history_op::unknown;
};

bool is_change(const client_op& op) {
  return op.kind == op_kind::join || op.kind == op_kind::leave;
}

std::string describe_op(const client_op& op) {
  switch (op.kind) {
  case op_kind::put: return "put " + op.key + "=" + op.value;
  case op_kind::del: return "delete " + op.key;
  case op_kind::get: return "get " + op.key;
  case op_kind::join:
    return "join " + label(op.subject)
           + (op.stuck ? " (kept from catching up)" : "");
  case op_kind::leave:
    return "leave " + label(op.subject)
           + (op.aimed_at_leader ? " (the leader)" : "");
  }
  return "?";
}

/// The answers that say nothing was proposed (HTTP 503 and 4xx): the write
/// had no effect. Anything else (outcome_unknown, superseded, a timeout, a
/// crashed node) may or may not have taken effect.
bool refused(const caf::error& err) {
  for (auto code : {errc::no_leader, errc::not_leader, errc::busy,
                    errc::storage_failed, errc::shutting_down,
                    errc::bad_request, errc::value_too_large})
    if (is(err, code))
      return true;
  return false;
}

class cluster;

caf::behavior driver(caf::event_based_actor* self, cluster* c);

class cluster {
public:
  explicit cluster(const sim_options& opts);
  ~cluster();

  sim_result run();

  // -- the driver's timers ----------------------------------------------------

  void on_fault_timer(caf::event_based_actor* self);
  void on_client_timer(caf::event_based_actor* self);
  void on_restart_timer(size_t n, uint64_t inc);
  void on_rejoin_timer(size_t n);
  void on_resume_timer(size_t n, uint64_t inc);
  void on_change_timer(caf::event_based_actor* self);

private:
  // -- nodes ------------------------------------------------------------------
  void bootstrap_disks();
  void start_node(size_t n);
  role_config make_role_config(size_t n);
  std::unique_ptr<raft_core> make_core(size_t n, durable_log& dl,
                                       const snapshot_meta& applied);
  void own_node_actors(size_t n);
  void crash(size_t n, const char* why);
  void crash_if_doomed();
  bool has_mail(const caf::abstract_actor* a) const;

  // -- observations -----------------------------------------------------------
  void on_step(size_t n, uint64_t inc, const raft_core& c);
  void on_applied(size_t n, uint64_t inc, const std::vector<log_entry>& es);
  void on_installed(size_t n, uint64_t inc, const snapshot_meta& m,
                    bool log_durable);
  void on_install_step(size_t n, uint64_t inc, install_step s);
  void check_node_kv(size_t n, const char* when);
  void check_quiet_kv();
  void note_config(size_t n, const raft_core& c);
  void check_added(size_t n, const std::vector<size_t>& before);
  void count_change(const log_entry& e);
  void note_committed_config(size_t n);
  void check_change_reply(const client_op& op, const caf::error& err);
  void aimed_fault(size_t n, double p, const char* why);
  caf::timespan random_downtime();

  // -- faults -----------------------------------------------------------------
  void inject_fault();
  void partition_fault(int kind);
  void pause_random_node();
  void fail_random_disk();
  void resume(size_t n);
  void own(size_t n, const caf::actor_addr& a, const std::string& what);
  void adopt_children(caf::actor_id parent, caf::actor_id before);
  bool is_paused(caf::actor_id a) const;
  std::optional<size_t> random_up_node();

  // -- membership -------------------------------------------------------------
  std::optional<size_t> leader_now() const;
  std::optional<size_t> committed_leader() const;
  bool change_busy() const;
  void start_join(caf::event_based_actor* self, size_t x, size_t leader,
                  bool may_stick);
  std::vector<size_t> outsiders(size_t leader) const;
  bool established(size_t leader) const;
  bool followed(size_t leader) const;
  size_t leave_subject(size_t leader);
  void calm_change(caf::event_based_actor* self);
  void start_leave(caf::event_based_actor* self, size_t x, size_t leader);
  size_t change_target(size_t leader);
  void on_change_ok(size_t id);
  void release_stuck(client_op& op);

  // -- clients ----------------------------------------------------------------
  void issue(caf::event_based_actor* self, size_t id);
  void on_put_ok(size_t id, uint64_t index);
  void on_del_ok(size_t id, uint64_t index, bool found);
  void on_write_ok(size_t id, uint64_t index, entry_kind kind);
  void on_get_ok(size_t id, bool found, const std::string& value);
  void on_op_error(caf::event_based_actor* self, size_t id,
                   const caf::error& err);
  bool may_stay_silent(const client_op& op) const;
  void check_reads();
  std::vector<history_op> history() const;
  void check_history();

  // -- running ----------------------------------------------------------------
  std::string describe_scenario() const;
  void start_cluster();
  void run_faults();
  void run_until_live();
  void note_failure();
  bool step();
  std::vector<size_t> runnable_jobs() const;
  void calm_down();
  bool live(std::string* why);
  bool members_caught_up(size_t leader, std::string* why);
  bool calm_change_done(std::string* why) const;
  uint64_t acked_before(caf::timespan d);
  void shutdown();
  sim_result result();

  // -- helpers ----------------------------------------------------------------
  int64_t now_ms() const;
  caf::timespan random_gap(std::chrono::milliseconds mean);
  bool coin(double p);
  void trace(const std::string& line);
  void note_job(caf::resumable* job);
  void add_label(const caf::abstract_actor* a, std::string name);

  sim_options opts_;
  std::mt19937_64 rng_;
  /// Turns some puts into deletes; apart from rng_, so that the scenario,
  /// faults and requests a seed draws stay as they were before deletes.
  std::mt19937_64 del_rng_;
  scenario sc_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::unique_ptr<network> net_;
  safety_checker checker_;
  std::vector<sim_node> nodes_;
  caf::actor driver_;
  std::vector<client_op> ops_;
  /// Highest acknowledged write index per key.
  std::map<std::string, uint64_t> key_acked_;

  time_point start_;
  uint64_t step_ = 0;
  uint64_t fail_step_ = 0;
  int64_t fail_ms_ = 0;
  uint64_t fingerprint_ = 0;
  bool calm_ = false;
  /// Set once the run is over: timers still due start nothing new.
  bool stopping_ = false;
  size_t calm_first_op_ = 0;
  /// Liveness: every node must apply this far (set by the first write
  /// acknowledged after the faults stopped).
  uint64_t catch_up_target_ = 0;
  /// (time, highest acknowledged index then), at each acknowledgement.
  std::deque<std::pair<time_point, uint64_t>> acks_;
  std::optional<size_t> doomed_;
  time_point doom_deadline_;
  uint64_t crashes_ = 0;
  size_t undecided_ = 0;
  uint64_t max_term_ = 0;
  /// The membership change in flight (one at a time, as the role allows),
  /// and the one made after the faults stopped.
  std::optional<size_t> change_op_;
  std::optional<size_t> calm_change_op_;
  /// Committed changes, counted as the first state machine applies them:
  /// the members of the last one, the leader of each term (a leave whose
  /// entry the removed server wrote as leader removed the leader).
  uint64_t config_applied_ = 1;
  std::vector<node_name> config_applied_members_;
  std::map<uint64_t, node_name> term_leader_;
  /// The latest configuration some node knew committed, and its members.
  uint64_t committed_config_ = 1;
  std::vector<size_t> committed_members_;
  uint64_t joins_ = 0;
  uint64_t leaves_ = 0;
  uint64_t leader_removals_ = 0;
  uint64_t stuck_refused_ = 0;
  uint64_t compactions_ = 0;
  uint64_t installs_ = 0;
  uint64_t compacted_restarts_ = 0;
  uint64_t power_losses_ = 0;
  std::array<uint64_t, install_steps> install_crashes_{};
  time_point calm_since_;
  std::map<caf::actor_id, std::string> labels_;
  /// Which node (and incarnation) runs each actor: its role, persister,
  /// state machine, connector, and whatever its role spawned (replicators).
  /// A pause stops all of them, so a paused node neither sends nor reads.
  std::map<caf::actor_id, std::pair<size_t, uint64_t>> owner_;
};

cluster::cluster(const sim_options& opts) :
  opts_(opts), rng_(opts.seed), del_rng_(opts.seed ^ 0x64656c6574657321ull),
  sc_(draw_scenario(rng_, opts)),
  checker_(sc_.nodes + sc_.spares), nodes_(sc_.nodes + sc_.spares) {
  cfg_.set("scheduler.policy", caf::atom("testing"));
  cfg_.set("logger.file-verbosity", caf::atom("quiet"));
  sys_ = std::make_unique<caf::actor_system>(cfg_);
  sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
  start_ = sched_->clock().now();
  net_ = std::make_unique<network>(*sys_, rng_, nodes_.size());
  net_->faults = sc_.faults;
  net_->forward_changes = opts_.unguarded_changes;
  net_->on_vote_granted = [this](size_t voter) {
    if (!calm_ && !stopping_ && coin(sc_.crash_voter))
      crash(voter, "right after granting a vote");
  };
  net_->on_fail = [this](const char* check, std::string detail) {
    if (opts_.check_durable_replies)
      checker_.fail(check, std::move(detail));
  };
  for (size_t n = 0; n < nodes_.size(); ++n) {
    auto& nd = nodes_[n];
    nd.name = label(n);
    nd.self = member{nd.name, nd.name + ":80", nd.name + ":1"};
    nd.tick = pick(rng_, {9ms, 10ms, 11ms});
    net_->set_disk(n, nd.disk->mem);
  }
}

cluster::~cluster() {
  shutdown();
}

void cluster::shutdown() {
  if (!sys_)
    return;
  stopping_ = true;
  for (auto& nd : nodes_)
    if (nd.up)
      crash(static_cast<size_t>(&nd - nodes_.data()), "shutdown");
  if (driver_)
    caf::anon_send_exit(driver_, caf::exit_reason::kill);
  // Nothing re-arms a timer now: deliver what is left, into the void. The
  // network outlives its relays.
  do
    sched_->run();
  while (sched_->trigger_timeouts() > 0);
  sched_->run();
  sys_.reset();
  net_.reset();
}

// -- nodes --------------------------------------------------------------------

/// The founding configuration with every founding member, at index 1 of
/// their disks, so none needs to join. Spares start empty.
void cluster::bootstrap_disks() {
  std::vector<member> all;
  for (size_t n = 0; n < sc_.nodes; ++n) {
    all.push_back(nodes_[n].self);
    config_applied_members_.push_back(nodes_[n].name);
    committed_members_.push_back(n);
  }
  for (size_t n = 0; n < sc_.nodes; ++n) {
    auto& d = *nodes_[n].disk->mem;
    d.entries.push_back(
      log_entry{1, 1, entry_kind::config, {}, encode_members(all)});
    d.state.term = 1;
  }
}

role_config cluster::make_role_config(size_t n) {
  auto& nd = nodes_[n];
  auto inc = nd.inc;
  role_config rc;
  rc.self = nd.self;
  rc.tick_interval = nd.tick;
  rc.write_timeout = write_timeout;
  rc.connector = nd.connector;
  rc.heartbeat = sc_.heartbeat;
  rc.rpc_timeout = 4 * nd.tick * sc_.election_ticks;
  rc.max_batch_entries = sc_.max_batch_entries;
  rc.max_inflight = sc_.max_inflight;
  rc.catch_up_timeout = catch_up_timeout;
  rc.snapshot_entries = sc_.snapshot_entries;
  rc.snapshot_trailing = sc_.snapshot_trailing;
  rc.snapshot_chunk_bytes = sc_.chunk_bytes; // 1: a pair a chunk
  rc.detached_streams = false;
  rc.bug_vote_before_durable = opts_.bugs.vote_before_durable;
  rc.bug_local_reads = opts_.bugs.local_reads;
  rc.bug_delete_before_apply = opts_.bugs.delete_before_apply;
  rc.observer.on_step = [this, n, inc](const raft_core& c) {
    on_step(n, inc, c);
  };
  rc.observer.on_applied = [this, n, inc](const std::vector<log_entry>& es) {
    on_applied(n, inc, es);
  };
  rc.observer.on_installed = [this, n, inc](const snapshot_meta& m,
                                            bool log_durable) {
    on_installed(n, inc, m, log_durable);
  };
  // A node that cannot write its log stops (by design): a crash, unless
  // its disk was not told to fail.
  rc.on_fatal = [this, n, inc](const caf::error& err) {
    auto& nd = nodes_[n];
    if (!nd.up || nd.inc != inc)
      return;
    if (!nd.disk_failed)
      return checker_.fail(
        check::liveness,
        label(n) + " stopped: cannot write its log: " + raftd::describe(err));
    crash(n, "its disk failed");
  };
  return rc;
}

/// Starts node `n` from its disk alone: a fresh state machine re-applies
/// the log once the node learns what is committed.
void cluster::start_node(size_t n) {
  auto& nd = nodes_[n];
  ++nd.inc;
  nd.disk->writer = nd.inc;
  nd.disk->fail_next = false;
  nd.disk_failed = false;
  if (nd.disk->lose_unsynced) {
    nd.disk->lose_unsynced = false;
    nd.disk->kv = copy_kv(*nd.disk->kv_synced);
    trace(nd.name + "'s kv state went back to its last sync, index "
          + std::to_string(nd.disk->kv->applied_index()));
  }
  auto store = std::make_shared<gated_log_store>(nd.disk, nd.inc);
  durable_log dl;
  if (auto err = store->load(dl))
    return checker_.fail(check::liveness, label(n) + " cannot load its log");
  // As main.cpp: the kv state's snapshot, and the log made to continue it.
  // The memory store survives a crash whole (as LevelDB's batches do a
  // process crash): all it applied is what a restart finds.
  auto applied = nd.disk->kv->meta();
  auto fix = reconcile_log(dl, applied);
  if (!fix)
    return checker_.fail(check::liveness, label(n) + " cannot start: "
                                            + raftd::describe(fix.error()));
  if (*fix)
    if (auto err = store->write(**fix))
      return checker_.fail(check::liveness, label(n) + " cannot reset its log");
  auto& hs = dl.state;
  checker_.restarted(n, applied.index);
  nd.role_now = role_kind::follower;
  nd.term = hs.term;
  nd.leader.clear();
  nd.commit = 0;
  nd.config = {0, 0};
  nd.members.clear();
  nd.stuck = false;
  nd.persister = spawn_persister(*sys_, store, false);
  state_machine_config smc;
  smc.sync_every = sc_.snapshot_entries;
  smc.bug_switch_partial = opts_.bugs.partial_snapshot;
  smc.installer = [this, n, disk = nd.disk, inc = nd.inc](
                    const snapshot_meta& m)
    -> caf::expected<std::unique_ptr<kv_install>> {
    // The switch: the disk's kv state is the new one from now on, whole.
    auto sw = [disk, inc](std::shared_ptr<kv_store> fresh)
      -> std::unique_ptr<kv_store> {
      disk->kv = std::move(fresh);
      disk->kv_synced = copy_kv(*disk->kv); // an install syncs
      return std::make_unique<gated_kv_store>(disk, inc);
    };
    auto at = [this, n, inc](install_step s) { on_install_step(n, inc, s); };
    auto inst = std::make_unique<sim_kv_install>(
      disk, inc, make_memory_kv_install(m, sw), at);
    at(install_step::begin);
    return std::unique_ptr<kv_install>{std::move(inst)};
  };
  nd.sm = spawn_state_machine(
    *sys_, std::make_shared<gated_kv_store>(nd.disk, nd.inc), false,
    std::move(smc));
  nd.connector = net_->spawn_connector(n, nd.inc);
  auto log_size = dl.entries.size();
  auto prefix = dl.prefix_index;
  if (prefix > 0)
    ++compacted_restarts_;
  nd.prefix = prefix;
  nd.installed = 0;
  nd.install_doom.reset();
  nd.role = spawn_raft_role(*sys_, make_role_config(n),
                            make_core(n, dl, applied), nd.persister,
                            nd.sm, applied, false);
  nd.up = true;
  net_->node_up(n, nd.inc, nd.role);
  own_node_actors(n);
  trace("start " + nd.name + "." + std::to_string(nd.inc) + " from disk: term "
        + std::to_string(hs.term) + ", vote '" + hs.voted_for + "', "
        + std::to_string(log_size) + " entries after "
        + std::to_string(prefix) + ", applied "
        + std::to_string(applied.index));
}

/// The core as main.cpp builds it, from the disk: its log, and the kv
/// state's applied index (entries up to it are not applied again).
std::unique_ptr<raft_core>
cluster::make_core(size_t n, durable_log& dl, const snapshot_meta& applied) {
  core_config cc;
  cc.id = nodes_[n].name;
  cc.seed = rng_();
  cc.election_ticks = sc_.election_ticks;
  cc.bugs.commit_old_terms = opts_.bugs.commit_old_terms;
  cc.bugs.skip_log_check = opts_.bugs.skip_log_check;
  return std::make_unique<raft_core>(
    cc, dl.state,
    raft_log{dl.prefix_index, dl.prefix_term, std::move(dl.entries)}, applied);
}

/// Its role, persister, state machine, connector, and the replicators the
/// role spawned already (ids after the role's).
void cluster::own_node_actors(size_t n) {
  auto& nd = nodes_[n];
  own(n, nd.role.address(), "role");
  own(n, nd.persister.address(), "persister");
  own(n, nd.sm.address(), "sm");
  own(n, nd.connector.address(), "connector");
  adopt_children(nd.role.id(), nd.role.id());
}

/// Crashes node `n` now: its disk keeps only what its persister wrote, its
/// connections break, and its actors stop (what they still do is ignored).
void cluster::crash(size_t n, const char* why) {
  auto& nd = nodes_[n];
  if (!nd.up)
    return;
  resume(n);
  nd.up = false;
  nd.disk->writer = 0;
  net_->node_down(n);
  for (auto a : {caf::actor_cast<caf::actor>(nd.role),
                 caf::actor_cast<caf::actor>(nd.persister),
                 caf::actor_cast<caf::actor>(nd.sm),
                 caf::actor_cast<caf::actor>(nd.connector)})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  if (doomed_ == n)
    doomed_.reset();
  trace("crash " + nd.name + "." + std::to_string(nd.inc) + " (" + why + ")");
  if (stopping_)
    return;
  // (No draw in seeds without compaction: they run as they did before.)
  // The restart finds the loss: the crashed incarnation's actors, which
  // still read their mail, must not see it (a dead process reads nothing).
  if (sc_.power_loss > 0 && coin(sc_.power_loss)) {
    nd.disk->lose_unsynced = true;
    ++power_losses_;
  }
  ++crashes_;
  // A disk failure may stop a node just after the faults stopped: it
  // restarts all the same.
  caf::delayed_anon_send(driver_, random_downtime(), restart_atom::value,
                         static_cast<uint64_t>(n), nd.inc);
}

bool cluster::has_mail(const caf::abstract_actor* a) const {
  for (auto* job : sched_->jobs)
    if (dynamic_cast<caf::abstract_actor*>(job) == a)
      return true;
  return false;
}

/// A crash aimed at a write: it strikes once the node's persister has a
/// write queued (or after doom_wait), so that write is lost.
void cluster::crash_if_doomed() {
  if (!doomed_)
    return;
  auto n = *doomed_;
  auto p = caf::actor_cast<caf::abstract_actor*>(nodes_[n].persister);
  if (has_mail(p))
    crash(n, "a write was queued");
  else if (sched_->clock().now() >= doom_deadline_)
    crash(n, "no write came");
}

// -- observations -------------------------------------------------------------

void cluster::on_step(size_t n, uint64_t inc, const raft_core& c) {
  auto& nd = nodes_[n];
  if (!nd.up || nd.inc != inc)
    return; // a crashed incarnation's last moments
  checker_.on_step(n, c);
  note_config(n, c);
  if (auto p = c.log().prefix_index(); p > nd.prefix) {
    compactions_ += p != nd.installed ? 1 : 0;
    nd.prefix = p;
  }
  if (sc_.membership && c.role() == role_kind::leader)
    term_leader_[c.term()] = nd.name;
  max_term_ = std::max(max_term_, c.term());
  bool changed
    = c.role() != nd.role_now || c.term() != nd.term || c.leader() != nd.leader;
  bool committed = c.commit_index() != nd.commit;
  bool new_leader
    = c.role() == role_kind::leader
      && (nd.role_now != role_kind::leader || nd.term != c.term());
  bool first_commit
    = c.role() == role_kind::leader && committed && nd.commit_term != c.term();
  if (first_commit)
    nd.commit_term = c.term();
  nd.role_now = c.role();
  nd.term = c.term();
  nd.leader = c.leader();
  nd.commit = c.commit_index();
  if (opts_.trace && (changed || (committed && c.role() == role_kind::leader)))
    trace(nd.name + " is " + to_string(c.role()) + " in term "
          + std::to_string(c.term()) + " (leader '" + c.leader() + "', log "
          + std::to_string(c.last_index()) + ", commit "
          + std::to_string(c.commit_index()) + ")");
  if (new_leader)
    aimed_fault(n, sc_.new_leader_fault, "it just became leader");
  else if (first_commit)
    aimed_fault(n, sc_.commit_fault, "its first commit in this term");
}

/// With probability `p`, crashes or isolates node `n` at this moment.
void cluster::aimed_fault(size_t n, double p, const char* why) {
  if (calm_ || stopping_ || !coin(p))
    return;
  if (coin(sc_.aimed_crash))
    return crash(n, why);
  bool reset = coin(0.5);
  for (size_t m = 0; m < nodes_.size(); ++m)
    if (m != n) {
      net_->block(n, m, reset);
      net_->block(m, n, reset);
    }
  trace("isolate " + label(n) + " (" + why
        + "):" + net_->describe_partitions());
  caf::delayed_anon_send(driver_, random_downtime(), rejoin_atom::value,
                         static_cast<uint64_t>(n));
}

void cluster::on_rejoin_timer(size_t n) {
  if (calm_ || stopping_)
    return;
  net_->unblock(n);
  trace("rejoin " + label(n) + ":" + net_->describe_partitions());
}

/// How long a crashed or isolated node stays away.
caf::timespan cluster::random_downtime() {
  // Log-uniform from 1 ms: short and long outages in one run.
  auto lo = std::log(1000.0);
  auto hi = std::log(static_cast<double>(
    std::chrono::duration_cast<std::chrono::microseconds>(sc_.max_down)
      .count()));
  auto x = std::uniform_real_distribution<double>{lo, std::max(lo, hi)}(rng_);
  return std::chrono::microseconds{static_cast<int64_t>(std::exp(x))};
}

void cluster::on_applied(size_t n, uint64_t inc,
                         const std::vector<log_entry>& es) {
  auto& nd = nodes_[n];
  if (!nd.up || nd.inc != inc)
    return;
  checker_.on_applied(n, es);
  check_node_kv(n, "after an apply");
  if (sc_.membership)
    for (auto& e : es)
      count_change(e);
}

/// Node `n`'s state machine installed snapshot `m` (§7). The checker hears
/// of it before any later batch, as the store skips what it covers.
void cluster::on_installed(size_t n, uint64_t inc, const snapshot_meta& m,
                           bool log_durable) {
  auto& nd = nodes_[n];
  if (!nd.up || nd.inc != inc)
    return;
  if (log_durable)
    return on_install_step(n, inc, install_step::log_durable);
  if (m.index > checker_.applied_upto(n)) {
    ++installs_;
    nd.installed = m.index;
    trace(nd.name + " installed the snapshot at index "
          + std::to_string(m.index) + " term " + std::to_string(m.term));
  }
  checker_.on_installed(n, m);
  check_node_kv(n, "after an install");
}

/// An install on node `n` reached step `s`: it crashes there if the
/// install drew that step as it began.
void cluster::on_install_step(size_t n, uint64_t inc, install_step s) {
  auto& nd = nodes_[n];
  if (!nd.up || nd.inc != inc || calm_ || stopping_)
    return;
  if (s == install_step::begin) {
    nd.install_doom.reset();
    if (!coin(sc_.install_crash))
      return;
    nd.install_doom = static_cast<install_step>(
      std::uniform_int_distribution<size_t>{0, install_steps - 1}(rng_));
    nd.doom_chunks = std::uniform_int_distribution<uint64_t>{1, 3}(rng_);
  }
  if (nd.install_doom != s)
    return;
  if (s == install_step::chunk && --nd.doom_chunks > 0)
    return;
  nd.install_doom.reset();
  ++install_crashes_[static_cast<size_t>(s)];
  crash(n, (std::string{"installing a snapshot, "} + to_string(s)).c_str());
}

/// Node `n`'s kv state, whatever it applied or installed by now, against
/// the committed log (check::kv_state).
void cluster::check_node_kv(size_t n, const char* when) {
  auto [index, pairs] = dump_kv(*nodes_[n].disk->kv);
  checker_.check_kv(n, index, pairs, when);
}

/// Once the cluster is quiet (live): every member's whole kv state is the
/// committed log's at its applied index, and members at one index hold
/// the same pairs.
void cluster::check_quiet_kv() {
  auto l = committed_leader();
  if (!l)
    return;
  std::map<uint64_t, std::pair<size_t, kv_pairs>> seen;
  for (auto n : nodes_[*l].members) {
    auto [index, pairs] = dump_kv(*nodes_[n].disk->kv);
    checker_.check_kv(n, index, pairs, "once quiet");
    auto [i, added] = seen.emplace(index, std::make_pair(n, pairs));
    if (!added && i->second.second != pairs)
      checker_.fail(check::kv_state,
                    label(n) + " and " + label(i->second.first)
                      + " hold different kv states at applied index "
                      + std::to_string(index));
  }
}

/// Counts a configuration entry the first time any node applies it (all
/// apply the same entry at an index: state machine safety).
void cluster::count_change(const log_entry& e) {
  if (e.kind != entry_kind::config || e.index <= config_applied_)
    return;
  config_applied_ = e.index;
  auto ms = decode_members(e.value).value_or(std::vector<member>{});
  std::vector<node_name> now;
  for (auto& m : ms)
    now.push_back(m.name);
  auto& before = config_applied_members_;
  auto has = [](const std::vector<node_name>& xs, const node_name& x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  for (auto& x : now)
    joins_ += has(before, x) ? 0 : 1;
  for (auto& x : before)
    if (!has(now, x)) {
      ++leaves_;
      leader_removals_ += term_leader_[e.term] == x ? 1 : 0;
    }
  before = std::move(now);
}

/// Keeps node `n`'s view of its configuration; a leader that just added a
/// server is checked (check_added).
void cluster::note_config(size_t n, const raft_core& c) {
  auto& nd = nodes_[n];
  nd.config_pending = c.config_pending();
  std::pair<uint64_t, uint64_t> now{c.config_index(),
                                    c.term_at(c.config_index())};
  if (now == nd.config) {
    if (!nd.config_pending && now.first > committed_config_)
      note_committed_config(n);
    return; // most steps change no configuration
  }
  // Still leading the term it led at the last step: the new configuration
  // is one it proposed (a leader never truncates its log).
  bool proposed = c.role() == role_kind::leader
                  && nd.role_now == role_kind::leader && nd.term == c.term();
  auto before = std::move(nd.members);
  nd.config = now;
  nd.members.clear();
  for (auto& m : c.members())
    if (auto x = parse_node(m.name, nodes_.size()))
      nd.members.push_back(*x);
  if (proposed)
    check_added(n, before);
  if (!nd.config_pending && now.first > committed_config_)
    note_committed_config(n);
}

/// Node `n` knows its configuration committed: the latest one so far.
void cluster::note_committed_config(size_t n) {
  committed_config_ = nodes_[n].config.first;
  committed_members_ = nodes_[n].members;
}

// Thesis §4.2.1: a new server joins only once it has caught up, else the
// cluster may be unable to commit until it does. A server that has been
// down or paused since its join began answered nothing: adding it is wrong.
void cluster::check_added(size_t n, const std::vector<size_t>& before) {
  for (auto x : nodes_[n].members)
    if (nodes_[x].stuck
        && std::find(before.begin(), before.end(), x) == before.end())
      checker_.fail(check::catch_up,
                    label(n) + " added " + label(x)
                      + ", which has been down or paused since its join "
                        "began: it never caught up");
}

// -- membership (thesis ch. 4) ------------------------------------------------

/// The running leader of the highest term, if any.
std::optional<size_t> cluster::leader_now() const {
  std::optional<size_t> best;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    auto& nd = nodes_[n];
    if (nd.up && nd.role_now == role_kind::leader
        && (!best || nd.term > nodes_[*best].term))
      best = n;
  }
  return best;
}

/// The leader that liveness expects the others to follow: it leads the
/// highest term, its configuration is committed, and it is a member of it
/// (a removed leader steps down once its removal commits, §4.2.2).
std::optional<size_t> cluster::committed_leader() const {
  auto l = leader_now();
  if (!l)
    return l;
  auto& nd = nodes_[*l];
  bool in = std::find(nd.members.begin(), nd.members.end(), *l)
            != nd.members.end();
  if (nd.config_pending || !in)
    return std::nullopt;
  return l;
}

bool cluster::change_busy() const {
  return change_op_ && !ops_[*change_op_].done;
}

/// Starts one membership change now and then, one at a time (thesis §4.1):
/// a join of a server outside the leader's configuration, or a leave of a
/// member (leave_subject). At least two members stay. Once the faults
/// stop, one more change follows (calm_change).
void cluster::on_change_timer(caf::event_based_actor* self) {
  if (stopping_)
    return;
  if (calm_)
    return calm_change(self);
  self->delayed_send(self, random_gap(sc_.change_gap), change_atom::value);
  auto l = leader_now();
  if (change_busy() || !l || nodes_[*l].config_pending || nodes_[*l].paused
      || !(opts_.unguarded_changes || established(*l)))
    return;
  auto& ms = nodes_[*l].members;
  auto out = outsiders(*l);
  if (!out.empty() && (ms.size() <= 2 || coin(0.5)))
    return start_join(self, out[rng_() % out.size()], *l, true);
  if (ms.size() > 2)
    start_leave(self, leave_subject(*l), *l);
}

/// The leader has committed an entry of its own term. Only then may it
/// start a change (the fix to single-server changes, Ongaro, raft-dev,
/// 2015): else two leaders' changes to one configuration can have disjoint
/// majorities. raftd's role does not wait for it (see sim_options::
/// unguarded_changes), so the sim asks only such a leader.
bool cluster::established(size_t leader) const {
  auto& nd = nodes_[leader];
  return nd.commit_term == nd.term;
}

/// Every member of `leader`'s configuration follows it in its term.
bool cluster::followed(size_t leader) const {
  auto& lead = nodes_[leader];
  for (auto m : lead.members)
    if (nodes_[m].term != lead.term || nodes_[m].leader != lead.name)
      return false;
  return true;
}

/// Servers outside `leader`'s configuration.
std::vector<size_t> cluster::outsiders(size_t leader) const {
  auto& ms = nodes_[leader].members;
  std::vector<size_t> out;
  for (size_t n = 0; n < nodes_.size(); ++n)
    if (std::find(ms.begin(), ms.end(), n) == ms.end())
      out.push_back(n);
  return out;
}

/// Whom a leave removes: the leader itself now and then (§4.2.2), else
/// another member. With unguarded changes, never the leader while faults
/// strike (the run that found their bug did not; the bug needs no help).
size_t cluster::leave_subject(size_t leader) {
  if (!opts_.unguarded_changes && coin(sc_.remove_leader))
    return leader;
  std::vector<size_t> others;
  for (auto m : nodes_[leader].members)
    if (m != leader)
      others.push_back(m);
  return others[rng_() % others.size()];
}

/// After the faults stop: the leader removes itself (thesis §4.2.2), or,
/// with two members left, a server joins. Liveness waits for its answer
/// and for the cluster it leaves (live()). It waits for a settled leader
/// (its configuration and an entry of its term committed, every member
/// following) and for any change in flight.
void cluster::calm_change(caf::event_based_actor* self) {
  if (calm_change_op_)
    return;
  auto l = committed_leader();
  if (!l || !established(*l) || !followed(*l) || change_busy()) {
    self->delayed_send(self, 10ms, change_atom::value);
    return;
  }
  auto out = outsiders(*l);
  if (nodes_[*l].members.size() > 2 || out.empty())
    start_leave(self, *l, *l);
  else
    start_join(self, out[rng_() % out.size()], *l, false);
  calm_change_op_ = ops_.size() - 1;
}

/// Where a change is asked: the leader; with `unguarded_changes` also any
/// running member (it forwards the request to the leader it knows).
size_t cluster::change_target(size_t leader) {
  if (!opts_.unguarded_changes)
    return leader;
  std::vector<size_t> up;
  for (auto m : nodes_[leader].members)
    if (nodes_[m].up)
      up.push_back(m);
  return up.empty() || coin(0.5) ? leader : up[rng_() % up.size()];
}

/// Asks to add server `x`. Its process starts first (a spare with an empty
/// disk, or a removed server with its old one); or, for a join that must
/// fail, it stays down (or is paused) until the answer comes.
void cluster::start_join(caf::event_based_actor* self, size_t x,
                         size_t leader, bool may_stick) {
  auto& nd = nodes_[x];
  client_op op;
  op.kind = op_kind::join;
  op.subject = x;
  op.target = change_target(leader);
  op.stuck = may_stick && coin(sc_.stuck_join);
  if (op.stuck && nd.up) {
    nd.paused = true;
    trace("pause " + nd.name + " until its join is answered");
  } else if (op.stuck) {
    nd.held_down = true;
    trace("keep " + nd.name + " down until its join is answered");
  } else if (!nd.up) {
    start_node(x);
  }
  nd.stuck = op.stuck;
  ops_.push_back(std::move(op));
  change_op_ = ops_.size() - 1;
  issue(self, ops_.size() - 1);
}

void cluster::start_leave(caf::event_based_actor* self, size_t x,
                          size_t leader) {
  client_op op;
  op.kind = op_kind::leave;
  op.subject = x;
  op.aimed_at_leader = x == leader;
  op.target = change_target(leader);
  ops_.push_back(std::move(op));
  change_op_ = ops_.size() - 1;
  issue(self, ops_.size() - 1);
}

void cluster::on_change_ok(size_t id) {
  auto& op = ops_[id];
  op.done = op.ok = true;
  trace("client " + std::to_string(id) + ": "
        + (op.kind == op_kind::join ? "joined " : "removed ")
        + label(op.subject));
  release_stuck(op);
}

/// The answer to a join that had to fail came: its server runs again.
void cluster::release_stuck(client_op& op) {
  if (!op.stuck)
    return;
  auto x = op.subject;
  auto& nd = nodes_[x];
  nd.stuck = false;
  op.stuck = false;
  if (nd.held_down) {
    nd.held_down = false;
    if (!nd.up && !calm_ && !stopping_)
      start_node(x);
  } else if (nd.paused) {
    resume(x);
  }
}

// -- faults -------------------------------------------------------------------

std::optional<size_t> cluster::random_up_node() {
  std::vector<size_t> up;
  for (size_t n = 0; n < nodes_.size(); ++n)
    if (nodes_[n].up)
      up.push_back(n);
  if (up.empty())
    return std::nullopt;
  return up[std::uniform_int_distribution<size_t>{0, up.size() - 1}(rng_)];
}

void cluster::inject_fault() {
  auto kind = std::uniform_int_distribution<int>{0, 8}(rng_);
  if (kind == 7)
    return pause_random_node();
  if (kind == 8)
    return fail_random_disk();
  if (kind <= 1) {
    auto n = random_up_node();
    if (!n)
      return;
    if (kind == 0)
      return crash(*n, "at random");
    doomed_ = *n;
    doom_deadline_ = sched_->clock().now() + doom_wait;
    return trace("crash " + label(*n) + " at its next write");
  }
  if (kind <= 4)
    return partition_fault(kind);
  net_->heal();
  trace("heal all partitions");
}

/// Makes a node's next log write fail (lost, or written but reported
/// failed): the node must stop without acknowledging it, and recover from
/// whatever its disk holds when it restarts.
void cluster::fail_random_disk() {
  auto n = random_up_node();
  if (!n)
    return;
  auto& nd = nodes_[*n];
  nd.disk_failed = true;
  nd.disk->fail_next = true;
  nd.disk->fail_after_write = coin(0.5);
  trace("disk of " + nd.name + " fails at its next write"
        + (nd.disk->fail_after_write ? " (after writing)" : ""));
}

/// Pauses a node (SIGSTOP) for a while: its mail piles up, its peers time
/// out, and it carries on where it was when it resumes.
void cluster::pause_random_node() {
  auto n = random_up_node();
  if (!n || nodes_[*n].paused)
    return;
  auto& nd = nodes_[*n];
  nd.paused = true;
  trace("pause " + nd.name);
  caf::delayed_anon_send(driver_, random_downtime(), resume_atom::value,
                         static_cast<uint64_t>(*n), nd.inc);
}

void cluster::resume(size_t n) {
  auto& nd = nodes_[n];
  if (!nd.paused)
    return;
  nd.paused = false;
  nd.resumed_at = sched_->clock().now();
  trace("resume " + nd.name);
}

void cluster::on_resume_timer(size_t n, uint64_t inc) {
  if (nodes_[n].inc != inc || !nodes_[n].paused)
    return;
  resume(n);
  nodes_[n].stuck = false; // it runs again: it may catch up now
}

/// Records that node `n`'s current incarnation runs actor `a`.
void cluster::own(size_t n, const caf::actor_addr& a, const std::string& what) {
  auto& nd = nodes_[n];
  owner_[a.id()] = {n, nd.inc};
  add_label(caf::actor_cast<caf::abstract_actor*>(a),
            nd.name + "." + std::to_string(nd.inc) + "." + what);
}

/// Actors spawned while `parent` ran (ids after `before`) belong to its
/// node if `parent` is a node's role: its replicators. A pause must stop
/// them too, or a paused leader's replicators would keep heartbeating and
/// its followers would never notice the pause (a SIGSTOP stops every
/// thread of the process). The connector's relays are the network, not
/// the node: what the node sent before the pause still arrives.
void cluster::adopt_children(caf::actor_id parent, caf::actor_id before) {
  auto i = owner_.find(parent);
  if (i == owner_.end())
    return;
  auto [n, inc] = i->second;
  auto& nd = nodes_[n];
  if (nd.inc != inc || nd.role.id() != parent)
    return;
  for (auto id = before + 1; id <= sys_->latest_actor_id(); ++id) {
    owner_[id] = {n, inc};
    labels_[id] = nd.name + "." + std::to_string(inc) + ".replicator#"
                  + std::to_string(id);
  }
}

bool cluster::is_paused(caf::actor_id a) const {
  auto i = owner_.find(a);
  if (i == owner_.end())
    return false;
  auto& nd = nodes_[i->second.first];
  return nd.paused && nd.inc == i->second.second;
}

void cluster::partition_fault(int kind) {
  auto n = nodes_.size();
  std::uniform_int_distribution<size_t> any{0, n - 1};
  bool reset = coin(0.5);
  if (kind == 2) { // isolate one node
    auto x = any(rng_);
    for (size_t y = 0; y < n; ++y)
      if (y != x) {
        net_->block(x, y, reset);
        net_->block(y, x, reset);
      }
  } else if (kind == 3) { // split in two random groups
    std::vector<bool> side(n);
    for (auto&& s : side)
      s = coin(0.5);
    for (size_t a = 0; a < n; ++a)
      for (size_t b = 0; b < n; ++b)
        if (side[a] != side[b])
          net_->block(a, b, reset);
  } else { // one way
    auto a = any(rng_);
    auto b = (a + 1 + any(rng_) % (n - 1)) % n;
    net_->block(a, b, reset);
  }
  trace("partition:" + net_->describe_partitions()
        + (reset ? " (connections reset)" : ""));
}

void cluster::on_fault_timer(caf::event_based_actor* self) {
  if (calm_ || stopping_)
    return;
  inject_fault();
  self->delayed_send(self, random_gap(sc_.fault_gap), fault_atom::value);
}

void cluster::on_restart_timer(size_t n, uint64_t inc) {
  auto& nd = nodes_[n];
  if (!stopping_ && !nd.up && nd.inc == inc && !nd.held_down)
    start_node(n);
}

// -- clients ------------------------------------------------------------------

void cluster::on_client_timer(caf::event_based_actor* self) {
  if (stopping_)
    return;
  self->delayed_send(self, random_gap(sc_.client_gap), client_atom::value);
  auto n = random_up_node();
  if (!n)
    return;
  client_op op;
  op.target = *n;
  op.key = "k" + std::to_string(rng_() % key_count);
  op.kind = coin(0.6) ? op_kind::put : op_kind::get;
  if (op.kind == op_kind::put
      && std::uniform_real_distribution<double>{0, 1}(del_rng_) < 0.2) {
    op.kind = op_kind::del;
  } else if (op.kind == op_kind::put) {
    op.value = "v" + std::to_string(ops_.size());
  } else {
    op.mode = coin(0.9) ? read_mode::linearizable : read_mode::stale;
    op.min_index = key_acked_[op.key];
  }
  ops_.push_back(std::move(op));
  issue(self, ops_.size() - 1);
}

void cluster::issue(caf::event_based_actor* self, size_t id) {
  auto& op = ops_[id];
  auto& nd = nodes_[op.target];
  op.target_inc = nd.inc;
  op.sent = sched_->clock().now();
  if (op.redirects == 0)
    op.invoked = op.sent;
  trace("client " + std::to_string(id) + ": " + describe_op(op) + " at "
        + nd.name);
  auto on_err = [=](caf::error& err) {
    on_op_error(self, id, err);
  };
  switch (op.kind) {
  case op_kind::put:
    self->request(nd.role, client_timeout, atom::put::value, op.key, op.value)
      .then([=](uint64_t index) { on_put_ok(id, index); }, on_err);
    break;
  case op_kind::del:
    self->request(nd.role, client_timeout, atom::del::value, op.key)
      .then(
        [=](uint64_t index, bool found) { on_del_ok(id, index, found); },
        on_err);
    break;
  case op_kind::get:
    self->request(nd.role, client_timeout, atom::get::value, op.key, op.mode)
      .then([=](bool found, std::string& v) { on_get_ok(id, found, v); },
            on_err);
    break;
  case op_kind::join:
    self->request(nd.role, change_timeout, atom::join::value,
                  nodes_[op.subject].self)
      .then([=](uint64_t) { on_change_ok(id); }, on_err);
    break;
  case op_kind::leave:
    self->request(nd.role, change_timeout, atom::leave::value,
                  nodes_[op.subject].name)
      .then([=](uint64_t) { on_change_ok(id); }, on_err);
    break;
  }
}

void cluster::on_put_ok(size_t id, uint64_t index) {
  trace("client " + std::to_string(id) + ": acknowledged at "
        + std::to_string(index));
  on_write_ok(id, index, entry_kind::put);
}

void cluster::on_del_ok(size_t id, uint64_t index, bool found) {
  ops_[id].found = found;
  trace("client " + std::to_string(id) + ": acknowledged at "
        + std::to_string(index) + (found ? ", existed" : ", was absent"));
  on_write_ok(id, index, entry_kind::del);
}

void cluster::on_write_ok(size_t id, uint64_t index, entry_kind kind) {
  auto& op = ops_[id];
  op.done = op.ok = true;
  op.outcome = history_op::ok;
  op.completed = sched_->clock().now();
  op.index = index;
  auto& best = key_acked_[op.key];
  best = std::max(best, index);
  checker_.on_acked_write(index, op.key, op.value, kind);
  acks_.emplace_back(sched_->clock().now(), checker_.acked_max());
  if (calm_ && id >= calm_first_op_ && catch_up_target_ == 0)
    catch_up_target_ = std::max(index, checker_.acked_max());
}

void cluster::on_get_ok(size_t id, bool found, const std::string& value) {
  auto& op = ops_[id];
  op.done = op.ok = true;
  op.outcome = history_op::ok;
  op.completed = sched_->clock().now();
  op.found = found;
  op.read_value = value;
  trace("client " + std::to_string(id) + ": read "
        + (found ? "'" + value + "'" : "nothing"));
}

void cluster::on_op_error(caf::event_based_actor* self, size_t id,
                          const caf::error& err) {
  auto& op = ops_[id];
  auto& nd = nodes_[op.target];
  trace("client " + std::to_string(id) + ": " + raftd::describe(err));
  if (is(err, errc::not_leader) && op.redirects < max_redirects) {
    auto ctx = context_of(err);
    auto to = parse_node(ctx.substr(0, ctx.find(':')), nodes_.size());
    if (to && nodes_[*to].up) {
      ++op.redirects;
      op.target = *to;
      return issue(self, id);
    }
  }
  op.done = true;
  op.completed = sched_->clock().now();
  op.outcome = refused(err) ? history_op::failed : history_op::unknown;
  check_change_reply(op, err);
  if (op.kind == op_kind::join && nodes_[op.subject].stuck
      && err != caf::sec::request_timeout)
    ++stuck_refused_;
  release_stuck(op);
  // A running node answers within write_timeout (504 "outcome unknown",
  // 503 "no leader"); only a crash or a pause excuses silence.
  if (err == caf::sec::request_timeout && nd.up && nd.inc == op.target_inc
      && !may_stay_silent(op))
    checker_.fail(check::liveness,
                  nd.name + " did not answer client request "
                    + std::to_string(id) + " (" + describe_op(op) + ") within "
                    + std::to_string((is_change(op) ? change_timeout
                                                    : client_timeout)
                                       .count())
                    + " ms");
}

/// With `strict_change_replies`: a leave whose removal has committed is
/// answered as a success, not "outcome unknown". Off by default: a leader
/// that removes itself steps down in the step that commits its removal
/// (§4.2.2) and fails every write it still holds as "leadership lost",
/// that configuration entry included (see tests/actors_role_test.cpp).
void cluster::check_change_reply(const client_op& op, const caf::error& err) {
  if (!opts_.strict_change_replies || op.kind != op_kind::leave
      || !is(err, errc::outcome_unknown))
    return;
  auto& ms = committed_members_;
  if (std::find(ms.begin(), ms.end(), op.subject) == ms.end())
    checker_.fail(check::change_replies,
                  "the removal of " + label(op.subject)
                    + " committed, yet its client was told: "
                    + raftd::describe(err));
}

/// A request that may go unanswered: its node was paused meanwhile; or it
/// is a join or leave that a follower forwarded to the leader over a lossy
/// network (as an HTTP request forwarded to a peer may be lost: the client
/// times out). Once the faults stop, every link is lossless.
bool cluster::may_stay_silent(const client_op& op) const {
  auto& nd = nodes_[op.target];
  if (nd.paused || nd.resumed_at > op.sent)
    return true;
  return is_change(op) && (!calm_ || op.sent < calm_since_);
}

/// Linearizable reads, checked once everything is applied: a read sees the
/// latest write acknowledged before it began, or a later one, never less.
void cluster::check_reads() {
  for (size_t id = 0; id < ops_.size() && !checker_.failure(); ++id) {
    auto& op = ops_[id];
    if (op.kind != op_kind::get || !op.ok
        || op.mode != read_mode::linearizable)
      continue;
    auto what = "read " + std::to_string(id) + " of " + op.key;
    if (!op.found) {
      if (op.min_index > 0 && !checker_.deleted_since(op.key, op.min_index))
        checker_.fail(check::linearizable_reads,
                      what + " found nothing after a write at "
                        + std::to_string(op.min_index) + " was acknowledged");
      continue;
    }
    auto at = checker_.index_of_value(op.read_value);
    if (!at || checker_.key_at(*at) != op.key)
      checker_.fail(check::linearizable_reads,
                    what + " returned '" + op.read_value
                      + "', which no applied write of that key wrote");
    else if (*at < op.min_index)
      checker_.fail(check::linearizable_reads,
                    what + " returned the write at " + std::to_string(*at)
                      + " after the one at " + std::to_string(op.min_index)
                      + " was acknowledged");
  }
}

/// The client requests on keys as the history checker sees them; times in
/// virtual microseconds. A request still unanswered at the end is unknown.
std::vector<history_op> cluster::history() const {
  std::vector<history_op> out;
  auto us = [&](time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t - start_)
      .count();
  };
  for (size_t id = 0; id < ops_.size(); ++id) {
    auto& op = ops_[id];
    if (is_change(op))
      continue;
    history_op h;
    h.id = id;
    h.key = op.key;
    h.kind = op.kind == op_kind::put   ? history_op::put
             : op.kind == op_kind::del ? history_op::del
             : op.mode == read_mode::stale ? history_op::stale_read
                                           : history_op::read;
    h.value = op.kind == op_kind::get ? op.read_value : op.value;
    h.found = op.found;
    h.outcome = op.done ? op.outcome : history_op::unknown;
    h.invoke = us(op.invoked);
    h.complete = us(op.completed);
    out.push_back(std::move(h));
  }
  return out;
}

/// Every key's history is linearizable, and stale reads return nothing
/// from the future (tests/sim_history.hpp).
void cluster::check_history() {
  if (!opts_.check_history)
    return;
  auto h = history();
  if (opts_.history_out)
    write_history(*opts_.history_out, h);
  if (auto f = raftd::sim::check_history(h, history_steps, undecided_))
    checker_.fail(check::history, "key " + f->key + ": " + f->detail);
}

// -- running ------------------------------------------------------------------

/// Positions in the job queue of actors that may run (not paused).
std::vector<size_t> cluster::runnable_jobs() const {
  std::vector<size_t> out;
  auto& jobs = sched_->jobs;
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto* a = dynamic_cast<caf::abstract_actor*>(jobs[i]);
    if (!a || !is_paused(a->id()))
      out.push_back(i);
  }
  return out;
}

/// One step: a message to one actor, chosen at random among those that
/// have mail; or a little time passes while they work (timers due by then
/// fire first); or, when nothing is queued, time jumps to the next timer.
bool cluster::step() {
  ++step_;
  crash_if_doomed();
  auto& jobs = sched_->jobs;
  auto ready = runnable_jobs();
  if (!ready.empty() && coin(sc_.run_job)) {
    std::uniform_int_distribution<size_t> any{0, ready.size() - 1};
    auto k = ready[any(rng_)];
    std::rotate(jobs.begin(), jobs.begin() + k, jobs.begin() + k + 1);
    note_job(jobs.front());
    auto* a = dynamic_cast<caf::abstract_actor*>(jobs.front());
    auto id = a != nullptr ? a->id() : caf::invalid_actor_id;
    auto before = sys_->latest_actor_id();
    sched_->run_once(); // may end the actor: only its id is used after
    if (sys_->latest_actor_id() != before)
      adopt_children(id, before);
  } else if (!ready.empty()) {
    sched_->advance_time(work_quantum);
  } else if (sched_->has_pending_timeout()) {
    sched_->trigger_timeout();
  } else {
    return false;
  }
  fingerprint_ = fingerprint_ * 31 + static_cast<uint64_t>(now_ms());
  note_failure();
  return true;
}

void cluster::calm_down() {
  calm_ = true;
  net_->calm = true;
  net_->heal();
  doomed_.reset();
  calm_since_ = sched_->clock().now();
  trace("faults stop: heal, restart every node, lossless links");
  for (size_t n = 0; n < nodes_.size(); ++n) {
    auto& nd = nodes_[n];
    resume(n);
    nd.disk->fail_next = false;
    nd.held_down = nd.stuck = false;
    if (!nd.up)
      start_node(n);
  }
  calm_first_op_ = ops_.size();
}

/// Liveness after the faults stop: one leader, with a committed
/// configuration, that every member of it follows; a write made since then
/// acknowledged; every member applied at least that far and past every
/// write acknowledged by then or more than max_lag ago (so a follower must
/// keep up with the clients, not just crawl); every earlier request
/// answered. A server outside the configuration (removed, or a spare that
/// never joined) is expected to do nothing.
bool cluster::live(std::string* why) {
  auto l = committed_leader();
  if (!l) {
    if (why)
      *why = "no leader that every member follows";
    return false;
  }
  if (!followed(*l)) {
    if (why)
      *why = "no leader that every member follows (" + nodes_[*l].name
             + " leads)";
    return false;
  }
  if (catch_up_target_ == 0) {
    if (why)
      *why = "no write since the faults stopped was acknowledged";
    return false;
  }
  if (!members_caught_up(*l, why) || !calm_change_done(why))
    return false;
  for (size_t id = 0; id < calm_first_op_; ++id)
    if (!ops_[id].done) {
      if (why)
        *why = "client request " + std::to_string(id) + " is unanswered";
      return false;
    }
  return true;
}

/// The change made after the faults stopped (membership seeds) has been
/// answered.
bool cluster::calm_change_done(std::string* why) const {
  if (!sc_.membership || (calm_change_op_ && ops_[*calm_change_op_].done))
    return true;
  if (why)
    *why = "the membership change after the faults is "
           + std::string{calm_change_op_ ? "unanswered" : "not made"};
  return false;
}

/// Every member of `leader`'s configuration applied far enough (live()),
/// and some node every write a client saw acknowledged: a put is answered
/// at its commit, before its apply (the role's choice), so the last ones
/// may still be on their way to the state machines.
bool cluster::members_caught_up(size_t leader, std::string* why) {
  auto target = std::max(catch_up_target_, acked_before(max_lag));
  for (auto n : nodes_[leader].members)
    if (checker_.applied_upto(n) < target) {
      if (why)
        *why = label(n) + " applied only "
               + std::to_string(checker_.applied_upto(n)) + " of "
               + std::to_string(target) + " entries";
      return false;
    }
  if (checker_.applied_max() < checker_.acked_max()) {
    if (why)
      *why = "the write acknowledged at "
             + std::to_string(checker_.acked_max()) + " is applied nowhere";
    return false;
  }
  return true;
}

/// The highest index acknowledged at least `d` ago (0 if none).
uint64_t cluster::acked_before(caf::timespan d) {
  auto cut = sched_->clock().now() - d;
  uint64_t best = 0;
  while (!acks_.empty() && acks_.front().first <= cut) {
    best = acks_.front().second;
    acks_.pop_front();
  }
  if (best > 0)
    acks_.emplace_front(cut, best); // keep it for the next call
  return best;
}

std::string cluster::describe_scenario() const {
  std::ostringstream os;
  os << "seed " << opts_.seed << ": " << sc_.nodes << " nodes, drop "
     << sc_.faults.drop << ", duplicate " << sc_.faults.duplicate << ", delay "
     << sc_.faults.delay << " up to " << sc_.faults.max_delay.count()
     << " ms, faults every ~" << sc_.fault_gap.count()
     << " ms, requests every ~" << sc_.client_gap.count()
     << " ms, aimed faults " << sc_.crash_voter << "/" << sc_.new_leader_fault
     << "/" << sc_.commit_fault << ", appends of " << sc_.max_batch_entries
     << " x " << sc_.max_inflight << ", election " << sc_.election_ticks
     << " ticks";
  if (sc_.membership)
    os << "; membership changes every ~" << sc_.change_gap.count() << " ms, "
       << sc_.spares << " spare(s), leader removed " << sc_.remove_leader
       << ", stuck joins " << sc_.stuck_join;
  if (sc_.snapshot_entries > 0)
    os << "; snapshots every " << sc_.snapshot_entries << " entries, "
       << sc_.snapshot_trailing << " kept behind, chunks of "
       << sc_.chunk_bytes << " bytes, installs crash "
       << sc_.install_crash << ", machine crashes " << sc_.power_loss;
  return os.str();
}

void cluster::start_cluster() {
  trace(describe_scenario());
  bootstrap_disks();
  driver_ = sys_->spawn(driver, this);
  add_label(caf::actor_cast<caf::abstract_actor*>(driver_), "driver");
  caf::delayed_anon_send(driver_, random_gap(sc_.fault_gap), fault_atom::value);
  caf::delayed_anon_send(driver_, random_gap(sc_.client_gap),
                         client_atom::value);
  if (sc_.membership)
    caf::delayed_anon_send(driver_, random_gap(sc_.change_gap),
                           change_atom::value);
  for (size_t n = 0; n < sc_.nodes; ++n)
    start_node(n); // spares start when they join
}

/// Records where a check failed (the first failure only).
void cluster::note_failure() {
  if (checker_.failure() && fail_step_ == 0) {
    fail_step_ = step_;
    fail_ms_ = now_ms();
  }
}

void cluster::run_faults() {
  auto end = start_ + opts_.fault_time;
  while (!checker_.failure() && sched_->clock().now() < end
         && step_ < opts_.max_steps && step())
    ; // every step checks
}

void cluster::run_until_live() {
  auto bound = sched_->clock().now() + opts_.liveness_bound;
  while (!checker_.failure() && !live(nullptr)) {
    if (sched_->clock().now() > bound || step_ >= opts_.max_steps || !step()) {
      std::string why;
      live(&why);
      checker_.fail(check::liveness,
                    why + " " + std::to_string(opts_.liveness_bound.count())
                      + " ms after the faults stopped");
    }
  }
  note_failure();
}

sim_result cluster::run() {
  start_cluster();
  run_faults();
  if (!checker_.failure()) {
    calm_down();
    run_until_live();
  }
  if (!checker_.failure()) {
    check_quiet_kv();
    checker_.finish();
    if (opts_.check_reads)
      check_reads();
    if (!checker_.failure())
      check_history();
    note_failure();
  }
  auto r = result();
  shutdown();
  return r;
}

sim_result cluster::result() {
  sim_result r;
  r.seed = opts_.seed;
  r.nodes = nodes_.size();
  if (auto& f = checker_.failure()) {
    r.ok = false;
    r.check = f->check;
    r.detail = f->detail;
    r.step = fail_step_;
    r.virtual_ms = fail_ms_;
  } else {
    r.step = step_;
    r.virtual_ms = now_ms();
  }
  for (auto& nd : nodes_) {
    auto& d = *nd.disk->mem;
    fingerprint_ = fingerprint_ * 31 + d.state.term;
    for (auto& e : d.entries)
      fingerprint_ = fingerprint_ * 31 + entry_hash(e);
  }
  r.fingerprint = fingerprint_ ^ step_;
  r.crashes = crashes_;
  r.history_undecided = undecided_;
  r.acked_writes = checker_.acked_count();
  r.reads = static_cast<uint64_t>(
    std::count_if(ops_.begin(), ops_.end(),
                  [](const client_op& op) {
                    return op.kind == op_kind::get && op.ok;
                  }));
  r.joins = joins_;
  r.leaves = leaves_;
  r.leader_removals = leader_removals_;
  r.stuck_joins_refused = stuck_refused_;
  r.compactions = compactions_;
  r.snapshots_installed = installs_;
  r.compacted_restarts = compacted_restarts_;
  r.power_losses = power_losses_;
  r.install_crashes = install_crashes_;
  r.max_term = max_term_;
  r.messages_dropped = net_ ? net_->stats.dropped : 0;
  return r;
}

// -- helpers ------------------------------------------------------------------

int64_t cluster::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           sched_->clock().now() - start_)
    .count();
}

caf::timespan cluster::random_gap(std::chrono::milliseconds mean) {
  std::exponential_distribution<double> d{1.0
                                          / static_cast<double>(mean.count())};
  auto us = static_cast<int64_t>(d(rng_) * 1000.0);
  return std::chrono::microseconds{std::max<int64_t>(1, us)};
}

bool cluster::coin(double p) {
  return std::uniform_real_distribution<double>{0, 1}(rng_) < p;
}

void cluster::trace(const std::string& line) {
  if (opts_.trace)
    *opts_.trace << "[" << step_ << " " << now_ms() << "ms] " << line
                 << std::endl;
}

void cluster::add_label(const caf::abstract_actor* a, std::string name) {
  if (a)
    labels_[a->id()] = std::move(name);
}

void cluster::note_job(caf::resumable* job) {
  auto* a = dynamic_cast<caf::scheduled_actor*>(job);
  if (!a)
    return;
  fingerprint_ = fingerprint_ * 31 + a->id();
  if (!opts_.trace)
    return;
  auto i = labels_.find(a->id());
  auto who = i != labels_.end()
               ? i->second
               : std::string{a->name()} + "#" + std::to_string(a->id());
  auto* m = a->mailbox().peek();
  auto what = m ? caf::to_string(m->content()) : std::string{"(system)"};
  if (what.size() > 240)
    what = what.substr(0, 240) + "...";
  trace(who + " <- " + what);
}

caf::behavior driver(caf::event_based_actor* self, cluster* c) {
  return {
    [=](fault_atom) { c->on_fault_timer(self); },
    [=](client_atom) { c->on_client_timer(self); },
    [=](restart_atom, uint64_t n, uint64_t inc) {
      c->on_restart_timer(static_cast<size_t>(n), inc);
    },
    [=](rejoin_atom, uint64_t n) {
      c->on_rejoin_timer(static_cast<size_t>(n));
    },
    [=](resume_atom, uint64_t n, uint64_t inc) {
      c->on_resume_timer(static_cast<size_t>(n), inc);
    },
    [=](change_atom) { c->on_change_timer(self); },
  };
}

} // namespace

bool parse_membership(const std::string& name, membership_mode& out) {
  if (name == "off")
    out = membership_mode::off;
  else if (name == "half" || name.empty())
    out = membership_mode::half;
  else if (name == "all")
    out = membership_mode::all;
  else
    return false;
  return true;
}

bool parse_snapshots(const std::string& name, snapshot_mode& out) {
  if (name == "off")
    out = snapshot_mode::off;
  else if (name == "half" || name.empty())
    out = snapshot_mode::half;
  else if (name == "all")
    out = snapshot_mode::all;
  else
    return false;
  return true;
}

bool parse_bugs(const std::string& names, bug_switches& out) {
  std::istringstream in{names};
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name == "vote_before_durable")
      out.vote_before_durable = true;
    else if (name == "commit_old_terms")
      out.commit_old_terms = true;
    else if (name == "skip_log_check")
      out.skip_log_check = true;
    else if (name == "local_reads")
      out.local_reads = true;
    else if (name == "delete_before_apply")
      out.delete_before_apply = true;
    else if (name == "partial_snapshot")
      out.partial_snapshot = true;
    else if (!name.empty() && name != "none")
      return false;
  }
  return true;
}

sim_result run_simulation(const sim_options& opts) {
  auto level = g_log_level.load();
  g_log_level = static_cast<int>(log_level::error) - 1; // the sim reports
  sim_result r;
  {
    cluster c{opts};
    r = c.run();
  }
  g_log_level = level;
  return r;
}

std::string describe(const sim_result& r) {
  std::ostringstream os;
  os << "seed " << r.seed << " step " << r.step << " (t=" << r.virtual_ms
     << "ms, " << r.nodes << " nodes)";
  if (r.ok)
    os << ": ok";
  else
    os << ": " << r.check << ": " << r.detail;
  return os.str();
}

} // namespace raftd::sim

// raftd: the daemon. Parses the seed-compatible command line, opens the data
// directory (refusing anything it cannot read), wires the actors together,
// publishes the role on the peer port and serves HTTP until SIGINT/SIGTERM.

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/connector.hpp"
#include "actors/persister.hpp"
#include "actors/raft_role.hpp"
#include "actors/state_machine.hpp"
#include "daemon/bench_knobs.hpp"
#include "daemon/joiner.hpp"
#include "daemon/logging.hpp"
#include "daemon/node_config.hpp"
#include "daemon/restore.hpp"
#include "http/acceptor.hpp"
#include "messages/errors.hpp"
#include "messages/register.hpp"
#include "raft/core.hpp"
#include "raft/reconcile.hpp"
#include "storage/data_dir.hpp"
#include "storage/kv_store.hpp"
#include "storage/log_store.hpp"

using namespace raftd;

namespace {

/// Set by a fatal error inside an actor; main returns it after shutdown.
std::atomic<int> g_exit_code{0};

constexpr auto max_tick = std::chrono::milliseconds{10};
constexpr int min_election_ticks = 10;

/// What the node loaded from disk before any actor starts.
struct loaded_state {
  durable_log log;
  /// The state machine's snapshot: what it applied, durably.
  snapshot_meta applied;

  bool empty() const {
    return log.entries.empty() && log.prefix_index == 0 && applied.index == 0;
  }
};

/// Reads the log and the kv state's snapshot, and makes the log continue
/// the snapshot if an install was cut short (raft/reconcile.hpp). Reads
/// only the log after its compacted prefix: restart time does not grow with
/// history (§7).
caf::error load_state(data_dir& dd, loaded_state& out) {
  if (auto err = dd.log->load(out.log))
    return err;
  out.applied = dd.kv->durable();
  auto fix = reconcile_log(out.log, out.applied);
  if (!fix)
    return fix.error();
  if (*fix) {
    RAFTD_LOG(notice, "the log restarts after the snapshot at index "
                        << out.applied.index << " (an install was cut short)");
    if (auto err = dd.log->write(**fix))
      return err;
  }
  return {};
}

/// The latest configuration (thesis §4.1): in the log, else the snapshot's.
std::vector<member> latest_members(const loaded_state& ls) {
  auto& es = ls.log.entries;
  for (auto i = es.rbegin(); i != es.rend(); ++i)
    if (i->kind == entry_kind::config)
      return decode_members(i->value).value_or(std::vector<member>{});
  if (ls.applied.config_index != 0)
    return decode_members(ls.applied.config).value_or(std::vector<member>{});
  return {};
}

bool has_member(const std::vector<member>& ms, const std::string& name) {
  return std::any_of(ms.begin(), ms.end(),
                     [&](const member& m) { return m.name == name; });
}

/// A member restarted with -join: fine if the target belongs to its own
/// cluster; an error if the target's cluster shares no member with it.
caf::error check_join_target(const node_config& cfg,
                             const std::vector<member>& ms) {
  for (auto& m : ms)
    if (m.http_addr == cfg.join)
      return {};
  std::string err;
  auto theirs = fetch_member_names(cfg.join, std::chrono::seconds{2}, err);
  if (!theirs) {
    RAFTD_LOG(warn, "cannot check -join " << cfg.join << " (" << err
                                          << "); keeping this node's own "
                                             "membership");
    return {};
  }
  for (auto& name : *theirs)
    if (has_member(ms, name))
      return {};
  std::string ours;
  for (auto& m : ms)
    ours += (ours.empty() ? "" : ", ") + m.name;
  return make_error(errc::conflict,
                    "this data directory belongs to another cluster (members "
                      + ours + "); join with an empty data directory");
}

/// Whether to ask `cfg.join` to add this node. A node that already has a
/// log must already be a member of the target's cluster: a log from
/// elsewhere cannot join.
caf::error need_join(const node_config& cfg, const std::string& name,
                     const loaded_state& ls, bool& out) {
  out = false;
  if (cfg.join.empty())
    return {};
  auto ms = latest_members(ls);
  if (has_member(ms, name)) {
    if (auto err = check_join_target(cfg, ms))
      return err;
    RAFTD_LOG(notice, "already a member of the cluster; -join "
                        << cfg.join << " is not needed");
    return {};
  }
  if (!ls.empty())
    return make_error(errc::conflict,
                      "the data directory already holds a Raft log this node "
                      "is not a member of (another cluster?); join with an "
                      "empty data directory");
  out = true;
  return {};
}

/// Waits up to `d` for SIGINT/SIGTERM; false (and `sig` set) if one came.
bool wait_signal(sigset_t& sigs, std::chrono::milliseconds d, int& sig) {
  timespec ts{static_cast<time_t>(d.count() / 1000),
              static_cast<long>((d.count() % 1000) * 1000000)};
  auto got = sigtimedwait(&sigs, nullptr, &ts);
  if (got <= 0)
    return true;
  sig = got;
  return false;
}

std::chrono::milliseconds tick_interval(const node_config& cfg) {
  auto t = cfg.election_timeout / min_election_ticks;
  return std::max(std::chrono::milliseconds{1}, std::min(max_tick, t));
}

std::unique_ptr<raft_core> make_core(const node_config& cfg,
                                     const std::string& name,
                                     loaded_state& ls) {
  core_config cc;
  cc.id = name;
  cc.seed = std::random_device{}();
  cc.election_ticks = static_cast<int>(cfg.election_timeout
                                       / tick_interval(cfg));
  auto& dl = ls.log;
  return std::make_unique<raft_core>(
    cc, std::move(dl.state),
    raft_log{dl.prefix_index, dl.prefix_term, std::move(dl.entries)},
    ls.applied);
}

struct node_actors {
  connector_actor connector;
  persister_actor persister;
  state_machine_actor sm;
  role_actor role;
  caf::actor http;
};

void stop_all(node_actors& a) {
  auto reason = caf::exit_reason::user_shutdown;
  if (a.http)
    caf::anon_send_exit(a.http, reason);
  caf::anon_send_exit(a.role, reason);
  caf::anon_send_exit(a.persister, reason);
  caf::anon_send_exit(a.sm, reason);
  caf::anon_send_exit(a.connector, reason);
}

/// Ends the process if shutting down takes longer than `grace`. A peer
/// whose packets vanish (cut off, not closed) holds CAF's middleman in a
/// blocking connect() for minutes of TCP SYN retries, and the actor system
/// waits for it on the way out. Nothing is lost by exiting then: every
/// answer and every vote went out only after its write was synced.
void arm_shutdown_watchdog(std::chrono::milliseconds grace) {
  std::thread([grace] {
    std::this_thread::sleep_for(grace);
    RAFTD_LOG(warn, "shutdown still waiting after " << grace.count()
                      << " ms (a peer connection hangs); exiting now");
    std::_Exit(g_exit_code.load());
  }).detach();
}

/// The one-line error of a failed start (stderr, like the usage errors).
int fail_start(const std::string& what) {
  std::cerr << "raftd: " << what << "\n";
  return 1;
}

int run_node(const node_config& cfg, const bench_knobs& knobs, data_dir& dd,
             loaded_state& ls, bool join, sigset_t& sigs) {
  caf::actor_system_config acfg;
  acfg.load<caf::io::middleman>();
  register_types(acfg);
  // One scheduler worker: the blocking work (fsync, LevelDB) runs on the
  // persister's and state machine's own threads, and the broker and BASP on
  // the multiplexer's; a second worker only adds hand-offs between cores
  // and with them context switches and leader CPU per write (measured in
  // bench/RESULTS.md). RAFTD_SCHEDULER_THREADS overrides it for benchmarking.
  acfg.set("scheduler.max-threads", knobs.scheduler_threads);
  // Work sharing wakes a sleeping worker at once; work stealing polls and
  // sleeps, and a remote round trip is many thread hand-offs, each of which
  // may then wait for a poll (bench/RESULTS.md). The environment
  // variable is for benchmarking the other policy.
  acfg.set("scheduler.policy", caf::atom_from_string(knobs.scheduler_policy));
  // Deserialize peer messages on the multiplexer thread, where they arrive,
  // rather than hand each to a middleman worker thread first (one hand-off
  // less per AppendEntries and per ack; bench/RESULTS.md).
  acfg.set("middleman.workers", knobs.middleman_workers);
  // CAF notices neither a hung peer nor a hung connect without heartbeats
  // (caf-0.17-guide §4): a silent connection is dropped after the timeout.
  acfg.set("middleman.heartbeat-interval",
           caf::timespan{std::chrono::milliseconds{100}});
  acfg.set("middleman.connection-timeout",
           caf::timespan{std::chrono::milliseconds{1000}});
  caf::actor_system sys{acfg};
  member self{dd.name, cfg.host + ":" + std::to_string(cfg.http_port),
              cfg.host + ":" + std::to_string(cfg.raft_port)};
  node_actors a;
  a.persister = spawn_persister(sys, std::move(dd.log), true,
                                [path = dd.path] { return reopen_log(path); });
  // The state machine keeps a thread of its own. On the scheduler worker it
  // saves a hand-off per apply, but a LevelDB write stall (compaction behind
  // under a load of new keys) then blocks the role too: no heartbeats, and
  // the leader is lost (seen in a 1M-key load, bench/RESULTS.md).
  // RAFTD_SM_DETACHED=0 runs it on the worker, for benchmarking.
  state_machine_config smc;
  smc.reopen = [path = dd.path] { return reopen_kv(path); };
  smc.installer = [path = dd.path](const snapshot_meta& m) {
    return begin_kv_install(path, m);
  };
  smc.sync_every = cfg.snapshot_entries;
  a.sm = spawn_state_machine(sys, std::move(dd.kv), knobs.sm_detached,
                             std::move(smc));
  role_config rc;
  rc.self = self;
  rc.tick_interval = tick_interval(cfg);
  rc.write_timeout = cfg.write_timeout;
  rc.max_value_size = cfg.max_value_size;
  a.connector = spawn_middleman_connector(sys);
  rc.connector = a.connector;
  rc.heartbeat = cfg.heartbeat;
  rc.rpc_timeout = std::max(cfg.election_timeout * 2,
                            std::chrono::milliseconds{500});
  rc.storage_retry = std::chrono::seconds{1};
  rc.snapshot_entries = cfg.snapshot_entries;
  rc.snapshot_trailing = cfg.snapshot_trailing;
  rc.on_fatal = [](const caf::error&) {
    g_exit_code = 1;
    ::kill(::getpid(), SIGTERM); // wakes sigwait below
  };
  auto applied = ls.applied;
  a.role = spawn_raft_role(sys, rc, make_core(cfg, dd.name, ls), a.persister,
                           a.sm, applied, cfg.join.empty());
  auto published = sys.middleman().publish(
    caf::actor_cast<node_actor>(a.role), cfg.raft_port, cfg.host.c_str(), true);
  if (!published) {
    stop_all(a);
    return fail_start("cannot listen on peer port " + cfg.host + ":"
                      + std::to_string(cfg.raft_port) + ": "
                      + sys.render(published.error()));
  }
  http_config hc;
  hc.host = cfg.host;
  hc.port = cfg.http_port;
  hc.max_conns = cfg.max_conns;
  hc.idle_timeout = cfg.idle_timeout;
  hc.max_value_size = cfg.max_value_size;
  hc.request_timeout = cfg.write_timeout + std::chrono::seconds{1};
  // RAFTD_DIRECT_WRITES=0 sends every answer through CAF, for benchmarking.
  hc.direct_writes = knobs.direct_writes;
  auto http = spawn_http_acceptor(sys, caf::actor_cast<node_actor>(a.role), hc);
  if (!http) {
    stop_all(a);
    return fail_start("cannot listen on HTTP port " + cfg.host + ":"
                      + std::to_string(cfg.http_port) + ": "
                      + sys.render(http.error()));
  }
  a.http = *http;
  RAFTD_LOG(notice, "node " << dd.name << " listening at http://" << cfg.host
                            << ":" << cfg.http_port << ", peers at "
                            << cfg.host << ":" << cfg.raft_port);
  int sig = 0;
  if (join) {
    join_config jc;
    jc.target = cfg.join;
    std::string why;
    auto outcome = join_cluster(
      jc, self, [&](std::chrono::milliseconds d) { return wait_signal(sigs, d, sig); },
      why);
    if (outcome == join_outcome::refused || outcome == join_outcome::gave_up) {
      stop_all(a);
      sys.await_all_actors_done();
      return fail_start("cannot join the cluster at " + cfg.join + ": " + why);
    }
  }
  if (sig == 0)
    sigwait(&sigs, &sig);
  RAFTD_LOG(notice, "got signal " << sig << ", shutting down");
  arm_shutdown_watchdog(std::chrono::seconds{3});
  stop_all(a);
  sys.await_all_actors_done();
  return g_exit_code.load();
}

/// `raftd -restore FILE DIR` (daemon/restore.hpp): makes DIR and exits.
int restore(const node_config& cfg) {
  auto rep = restore_backup(cfg);
  if (!rep)
    return fail_start("cannot restore " + cfg.restore + " into "
                      + cfg.data_path + ": " + describe(rep.error()));
  std::cout << "restored " << rep->count << " keys at index "
            << rep->meta.index << " (term " << rep->meta.term << ") into "
            << cfg.data_path << " as node " << rep->name
            << ", a one-member cluster at http://" << cfg.host << ":"
            << cfg.http_port << "; start it with: raftd -h " << cfg.host
            << " -p " << cfg.http_port << " -raft-port " << cfg.raft_port
            << " " << cfg.data_path << "\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string prog = "raftd";
  auto parsed = parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed.cfg.help) {
    std::cout << usage(prog);
    return 0;
  }
  if (!parsed.error.empty()) {
    std::cerr << prog << ": " << parsed.error << "\n" << usage(prog);
    return 2;
  }
  auto& cfg = parsed.cfg;
  std::string knob_error;
  auto knobs = read_bench_knobs([](const char* name) { return std::getenv(name); },
                                knob_error);
  if (!knob_error.empty()) {
    std::cerr << prog << ": " << knob_error << "\n";
    return 2;
  }
  g_log_level = cfg.log_level;
  if (!cfg.restore.empty())
    return restore(cfg);
  RAFTD_LOG(notice, "initializing raft server: " << cfg.data_path);
  auto dd = open_data_dir(cfg.data_path);
  if (!dd)
    return fail_start("cannot open data directory " + cfg.data_path + ": "
                      + describe(dd.error()));
  loaded_state ls;
  if (auto err = load_state(*dd, ls))
    return fail_start("cannot read data directory " + cfg.data_path + ": "
                      + describe(err));
  bool join = false;
  if (auto err = need_join(cfg, dd->name, ls, join))
    return fail_start("cannot join the cluster at " + cfg.join + ": "
                      + describe(err));
  RAFTD_LOG(notice, (!ls.empty() ? "recovered from log"
                     : join       ? "joining a cluster"
                                  : "initializing new cluster")
                      << ": term " << ls.log.state.term << ", "
                      << ls.log.entries.size() << " entries after "
                      << ls.log.prefix_index << ", snapshot at "
                      << ls.applied.index);
  // Block the signals before CAF starts its threads; main waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  auto rc = run_node(cfg, knobs, *dd, ls, join, sigs);
  RAFTD_LOG(notice, "bye");
  return rc;
}

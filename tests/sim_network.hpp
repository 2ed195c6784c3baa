#pragma once
// The simulation's network. Each node's replicators reach a peer through the
// role_config::connector seam (messages/actors.hpp): the simulated connector
// hands out a RELAY for the connection from this node's incarnation to the
// peer's current incarnation. The relay is a node_actor: it forwards each
// request to the peer's role and relays the reply back, and may drop, delay,
// duplicate or reorder either (a random delay per message reorders). A
// partition blocks directed links; a crash kills every connection of the
// node (the peers' replicators see the relay go down and reconnect, as they
// do when a TCP connection breaks).
//
// Everything random draws from the simulation's one generator.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "messages/actors.hpp"
#include "storage/log_store.hpp"

namespace raftd::sim {

/// How a link mistreats messages while faults are on.
struct link_faults {
  double drop = 0;      ///< Probability a message is lost.
  double duplicate = 0; ///< Probability a request is delivered twice.
  double delay = 0;     ///< Probability a message is held back...
  std::chrono::milliseconds max_delay{0}; ///< ...for up to this long.
};

/// What the network counted.
struct net_stats {
  uint64_t requests = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t delayed = 0;
  uint64_t connections = 0;
};

/// The network: nodes' reachability, partitions and connections.
class network {
public:
  using fail_fn = std::function<void(const char* check, std::string detail)>;

  network(caf::actor_system& sys, std::mt19937_64& rng, size_t nodes);
  ~network();

  /// Link faults while `calm` is false.
  link_faults faults;
  /// No link faults and no partitions (the liveness phase).
  bool calm = false;
  /// Whether a join or leave a node forwards to its leader arrives. Off,
  /// such requests are lost (the client times out): the simulation then
  /// decides which leader gets a change (sim_options::unguarded_changes).
  bool forward_changes = true;
  net_stats stats;
  /// Reports a broken check (durable before reply).
  fail_fn on_fail;
  /// Sees every granted (real) vote as it leaves the voter.
  std::function<void(size_t voter)> on_vote_granted;

  // -- nodes ------------------------------------------------------------------

  /// Node `n`'s disk, read to check that replies follow durability.
  void set_disk(size_t n, std::shared_ptr<memory_log_disk> disk);
  /// Node `n` runs as incarnation `inc` with this role.
  void node_up(size_t n, uint64_t inc, node_actor role);
  /// Node `n` crashed: all its connections close.
  void node_down(size_t n);
  bool is_up(size_t n) const {
    return nodes_[n].up;
  }

  /// Spawns the connector of node `n`'s incarnation `inc`.
  connector_actor spawn_connector(size_t n, uint64_t inc);

  // -- partitions -------------------------------------------------------------

  /// Blocks messages from `from` to `to`; with `reset`, their connections
  /// break too (a connection timeout), else messages just vanish.
  void block(size_t from, size_t to, bool reset);
  /// Lifts all partitions.
  void heal();
  /// Lifts the partitions of node `n` (others stay).
  void unblock(size_t n);
  bool blocked(size_t from, size_t to) const {
    return !calm && blocked_[from][to];
  }
  std::string describe_partitions() const;

  // -- used by relays and connectors ------------------------------------------

  /// Resolves `host` ("n2") for node `from`'s incarnation `inc`.
  caf::expected<node_actor> connect(size_t from, uint64_t inc,
                                    const std::string& host);
  /// How many copies of a message go out (0: dropped), with their delays.
  std::vector<caf::timespan> fate(bool request);
  /// True while a message from `from` can reach `to`'s incarnation
  /// `to_inc` (the sender may have crashed since it sent it).
  bool passes(size_t from, size_t to, uint64_t to_inc) const;
  /// Checks a vote reply against the voter's disk.
  void saw_vote(size_t voter, const vote_request& req,
                const vote_response& resp);
  /// Checks an append acknowledgement against the follower's disk.
  void saw_append(size_t follower, const append_request& req,
                  const append_response& resp);

private:
  struct endpoint {
    bool up = false;
    uint64_t inc = 0;
    node_actor role;
    std::shared_ptr<memory_log_disk> disk;
  };

  void kill_connection(size_t from, size_t to);

  caf::actor_system& sys_;
  std::mt19937_64& rng_;
  std::vector<endpoint> nodes_;
  std::vector<std::vector<char>> blocked_;
  /// Open connections: (from, to) -> relay (from's and to's current runs).
  std::map<std::pair<size_t, size_t>, caf::actor> relays_;
};

/// Parses "n2" into node index 1; nothing if malformed.
std::optional<size_t> parse_node(const std::string& host, size_t nodes);

} // namespace raftd::sim

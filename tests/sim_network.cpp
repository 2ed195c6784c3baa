#include "tests/sim_network.hpp"

#include <sstream>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/errors.hpp"
#include "tests/sim_checker.hpp"

namespace raftd::sim {

namespace {

using release_atom = caf::atom_constant<caf::atom("sim_rel")>;
using close_atom = caf::atom_constant<caf::atom("sim_close")>;

/// A connection from one node's incarnation to a peer's: a node_actor to
/// the replicator, plus its own delay timer and a graceful close.
using relay_actor = node_actor::extend<caf::reacts_to<release_atom, uint64_t>,
                                       caf::reacts_to<close_atom>>;

struct relay_state {
  static inline const char* name = "sim_relay";
  network* net = nullptr;
  size_t from = 0;
  uint64_t from_inc = 0;
  size_t to = 0;
  uint64_t to_inc = 0;
  node_actor dest;
  uint64_t next_id = 0;
  /// Messages held back by a delay, by timer id.
  std::map<uint64_t, std::function<void()>> held;
};

using relay_ptr = relay_actor::stateful_pointer<relay_state>;

/// Runs `f` after `d` of virtual time (at once if zero).
void later(relay_ptr self, caf::timespan d, std::function<void()> f) {
  if (d.count() == 0)
    return f();
  auto id = ++self->state.next_id;
  self->state.held.emplace(id, std::move(f));
  self->delayed_send(self, d, release_atom::value, id);
}

template <class... Rs>
void send_reply(relay_ptr self, caf::typed_response_promise<Rs...> rp,
                const Rs&... ys) {
  auto& st = self->state;
  for (auto d : st.net->fate(false))
    later(self, d, [=]() mutable {
      auto& st = self->state;
      if (st.net->passes(st.to, st.from, st.from_inc))
        rp.deliver(ys...);
      else
        ++st.net->stats.dropped;
    });
}

template <class... Rs>
void send_error(relay_ptr self, caf::typed_response_promise<Rs...> rp,
                caf::error err) {
  auto& st = self->state;
  for (auto d : st.net->fate(false))
    later(self, d, [=]() mutable {
      auto& st = self->state;
      if (st.net->passes(st.to, st.from, st.from_inc))
        rp.deliver(err);
    });
}

/// Hands one copy of a request to the peer's role, and its reply back.
template <class... Rs, class Watch, class... Ts>
void pass_on(relay_ptr self, caf::typed_response_promise<Rs...> rp, Watch watch,
             const Ts&... xs) {
  auto& st = self->state;
  if (!st.net->passes(st.from, st.to, st.to_inc)) {
    ++st.net->stats.dropped;
    return;
  }
  self->request(st.dest, caf::infinite, xs...)
    .then(
      [=](Rs&... ys) mutable {
        watch(ys...);
        send_reply(self, rp, ys...);
      },
      [=](caf::error& err) mutable {
        // A dead peer answers nothing: the requester times out.
        if (err != caf::sec::request_receiver_down)
          send_error(self, rp, std::move(err));
      });
}

/// Sends a request on with the link's faults; `watch` sees the reply.
template <class... Rs, class Watch, class... Ts>
caf::typed_response_promise<Rs...> forward(relay_ptr self, Watch watch,
                                           Ts... xs) {
  auto rp = self->template make_response_promise<Rs...>();
  ++self->state.net->stats.requests;
  for (auto d : self->state.net->fate(true))
    later(self, d, [=]() mutable { pass_on<Rs...>(self, rp, watch, xs...); });
  return rp;
}

/// A request that never arrives: its requester times out.
template <class... Rs>
caf::typed_response_promise<Rs...> lose(relay_ptr self) {
  ++self->state.net->stats.dropped;
  return self->template make_response_promise<Rs...>();
}

relay_actor::behavior_type relay(relay_ptr self, network* net, size_t from,
                                 uint64_t from_inc, size_t to, uint64_t to_inc,
                                 node_actor dest) {
  auto& st = self->state;
  st.net = net;
  st.from = from;
  st.from_inc = from_inc;
  st.to = to;
  st.to_inc = to_inc;
  st.dest = std::move(dest);
  auto none = [](const auto&...) {
  };
  return {
    [=](atom::put, std::string& k, std::string& v) {
      return forward<uint64_t>(self, none, atom::put::value, k, v);
    },
    [=](atom::del, std::string& k) {
      return forward<uint64_t, bool>(self, none, atom::del::value, k);
    },
    [=](atom::get, std::string& k, read_mode m) {
      return forward<bool, std::string>(self, none, atom::get::value, k, m);
    },
    [=](atom::status) {
      return forward<node_status>(self, none, atom::status::value);
    },
    [=](atom::join, member& m) {
      if (!net->forward_changes)
        return lose<uint64_t>(self);
      return forward<uint64_t>(self, none, atom::join::value, m);
    },
    [=](atom::leave, node_name& n) {
      if (!net->forward_changes)
        return lose<uint64_t>(self);
      return forward<uint64_t>(self, none, atom::leave::value, n);
    },
    [=](atom::vote, vote_request& r) {
      auto watch = [=](const vote_response& x) {
        net->saw_vote(to, r, x);
      };
      return forward<vote_response>(self, watch, atom::vote::value, r);
    },
    [=](atom::append, append_request& r) {
      auto watch = [=](const append_response& x) {
        net->saw_append(to, r, x);
      };
      return forward<append_response>(self, watch, atom::append::value, r);
    },
    [=](atom::read_index) {
      return forward<uint64_t>(self, none, atom::read_index::value);
    },
    [=](atom::install, snapshot_chunk& c) {
      return forward<install_response>(self, none, atom::install::value, c);
    },
    [=](atom::snapshot) {
      return forward<uint64_t>(self, none, atom::snapshot::value);
    },
    [=](atom::snapshot, uint64_t id, uint64_t seq) {
      return forward<snapshot_chunk>(self, none, atom::snapshot::value, id,
                                     seq);
    },
    [=](atom::close, uint64_t id) {
      if (self->state.net->passes(self->state.from, self->state.to,
                                  self->state.to_inc))
        self->send(self->state.dest, atom::close::value, id);
    },
    [=](close_atom) { self->quit(); },
    [=](release_atom, uint64_t id) {
      auto i = self->state.held.find(id);
      if (i == self->state.held.end())
        return;
      auto f = std::move(i->second);
      self->state.held.erase(i);
      f();
    },
  };
}

connector_actor::behavior_type connector(connector_actor::pointer, network* net,
                                         size_t n, uint64_t inc) {
  return {
    [=](atom::connect, const std::string& host,
        uint16_t) -> caf::result<node_actor> {
      auto peer = net->connect(n, inc, host);
      if (!peer)
        return peer.error();
      return *peer;
    },
  };
}

std::string label(size_t n) {
  return "n" + std::to_string(n + 1);
}

} // namespace

std::optional<size_t> parse_node(const std::string& host, size_t nodes) {
  if (host.size() != 2 || host[0] != 'n' || host[1] < '1'
      || static_cast<size_t>(host[1] - '1') >= nodes)
    return std::nullopt;
  return static_cast<size_t>(host[1] - '1');
}

network::network(caf::actor_system& sys, std::mt19937_64& rng, size_t nodes) :
  sys_(sys), rng_(rng), nodes_(nodes),
  blocked_(nodes, std::vector<char>(nodes, 0)) {
  // nop
}

network::~network() {
  // nop: node_down() closed every connection before the actor system went
}

void network::set_disk(size_t n, std::shared_ptr<memory_log_disk> disk) {
  nodes_[n].disk = std::move(disk);
}

void network::node_up(size_t n, uint64_t inc, node_actor role) {
  auto& e = nodes_[n];
  e.up = true;
  e.inc = inc;
  e.role = std::move(role);
}

// A crashed process's kernel still sends what the process had written:
// each connection closes once it has passed on what it already holds (a
// reply or request the node sent before the crash); what the crashed
// node's actors do afterwards arrives after the close and is lost. Messages
// held back by a delay are lost with the connection.
void network::node_down(size_t n) {
  auto& e = nodes_[n];
  e.up = false;
  e.role = nullptr;
  for (auto i = relays_.begin(); i != relays_.end();) {
    if (i->first.first != n && i->first.second != n) {
      ++i;
      continue;
    }
    caf::anon_send(caf::actor_cast<relay_actor>(i->second), close_atom::value);
    i = relays_.erase(i);
  }
}

connector_actor network::spawn_connector(size_t n, uint64_t inc) {
  return sys_.spawn(connector, this, n, inc);
}

void network::kill_connection(size_t from, size_t to) {
  auto i = relays_.find({from, to});
  if (i == relays_.end())
    return;
  caf::anon_send_exit(i->second, caf::exit_reason::kill);
  relays_.erase(i);
}

void network::block(size_t from, size_t to, bool reset) {
  blocked_[from][to] = 1;
  if (!reset)
    return;
  kill_connection(from, to);
  kill_connection(to, from);
}

void network::heal() {
  for (auto& row : blocked_)
    std::fill(row.begin(), row.end(), 0);
}

void network::unblock(size_t n) {
  for (size_t m = 0; m < nodes_.size(); ++m)
    blocked_[n][m] = blocked_[m][n] = 0;
}

std::string network::describe_partitions() const {
  std::ostringstream os;
  for (size_t a = 0; a < nodes_.size(); ++a)
    for (size_t b = 0; b < nodes_.size(); ++b)
      if (blocked_[a][b])
        os << " " << label(a) << "-/->" << label(b);
  auto s = os.str();
  return s.empty() ? " none" : s;
}

caf::expected<node_actor> network::connect(size_t from, uint64_t inc,
                                           const std::string& host) {
  auto to = parse_node(host, nodes_.size());
  if (!to)
    return make_error(errc::unreachable, "no such node: " + host);
  auto& src = nodes_[from];
  auto& dst = nodes_[*to];
  if (!src.up || src.inc != inc)
    return make_error(errc::shutting_down, "this node crashed");
  if (!dst.up || blocked(from, *to) || blocked(*to, from))
    return caf::make_error(caf::sec::cannot_connect_to_node, host);
  kill_connection(from, *to);
  auto r = sys_.spawn(relay, this, from, inc, *to, dst.inc, dst.role);
  relays_.emplace(std::make_pair(from, *to), caf::actor_cast<caf::actor>(r));
  ++stats.connections;
  return node_actor{r};
}

std::vector<caf::timespan> network::fate(bool request) {
  std::vector<caf::timespan> out;
  if (calm) {
    out.emplace_back(0);
    return out;
  }
  auto coin = [&](double p) {
    return p > 0 && std::uniform_real_distribution<double>{0, 1}(rng_) < p;
  };
  if (coin(faults.drop)) {
    ++stats.dropped;
    return out;
  }
  size_t copies = request && coin(faults.duplicate) ? 2 : 1;
  if (copies == 2)
    ++stats.duplicated;
  for (size_t i = 0; i < copies; ++i) {
    caf::timespan d{0};
    if (coin(faults.delay)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  faults.max_delay)
                  .count();
      d = std::chrono::microseconds{std::uniform_int_distribution<int64_t>{
        1, std::max<int64_t>(1, us)}(rng_)};
      ++stats.delayed;
    }
    out.push_back(d);
  }
  return out;
}

bool network::passes(size_t from, size_t to, uint64_t to_inc) const {
  auto& dst = nodes_[to];
  return dst.up && dst.inc == to_inc && !blocked(from, to);
}

// Figure 2: a server makes currentTerm and votedFor durable before it
// answers. The voter's disk must show the vote (or a later term).
void network::saw_vote(size_t voter, const vote_request& req,
                       const vote_response& resp) {
  if (!resp.granted || resp.pre_vote)
    return;
  if (on_vote_granted)
    on_vote_granted(voter);
  if (!on_fail)
    return;
  auto& hs = nodes_[voter].disk->state;
  if (hs.term > req.term
      || (hs.term == req.term && hs.voted_for == req.candidate))
    return;
  on_fail(check::durable_replies,
          label(voter) + " granted its vote in term " + std::to_string(req.term)
            + " to " + req.candidate + " while its disk held term "
            + std::to_string(hs.term) + ", vote '" + hs.voted_for + "'");
}

// Figure 2 / §5.3: a follower acknowledges entries only once they are
// durable. Unless a later term has truncated it since, the follower's disk
// must hold the log up to the acknowledged index (in its compacted prefix,
// §7, or after it).
void network::saw_append(size_t follower, const append_request& req,
                         const append_response& resp) {
  if (!resp.success || !on_fail)
    return;
  auto& disk = *nodes_[follower].disk;
  if (disk.state.term > resp.term)
    return;
  auto last = disk.prefix_index + disk.entries.size();
  bool ok = disk.state.term == resp.term && last >= resp.match_index;
  auto m = resp.match_index;
  if (ok && !req.entries.empty() && m == req.entries.back().index
      && m >= disk.prefix_index) {
    auto term = m == disk.prefix_index
                  ? disk.prefix_term
                  : disk.entries[m - disk.prefix_index - 1].term;
    ok = term == req.entries.back().term;
  }
  if (ok)
    return;
  on_fail(check::durable_replies,
          label(follower) + " acknowledged index "
            + std::to_string(resp.match_index) + " in term "
            + std::to_string(resp.term) + " while its disk held term "
            + std::to_string(disk.state.term) + " and "
            + std::to_string(disk.entries.size()) + " entries after "
            + std::to_string(disk.prefix_index));
}

} // namespace raftd::sim

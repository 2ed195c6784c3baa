// raftctl: a command-line client that reaches a node as a typed CAF remote
// actor, exactly as any other CAF program would (messages/actors.hpp).
//
//   raftctl [-c host:port] [-timeout d] get KEY [-stale] | set KEY VALUE|- |
//           del KEY | status | snapshot save FILE
//
// Exit codes: 0 success, 1 key absent or the node refused, 2 usage error or
// the node cannot be reached.

#include <chrono>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "daemon/node_config.hpp"
#include "http/status_json.hpp"
#include "messages/actors.hpp"
#include "messages/address.hpp"
#include "messages/errors.hpp"
#include "messages/register.hpp"
#include "storage/file_output.hpp"
#include "storage/snapshot_file.hpp"

using namespace raftd;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_refused = 1;
constexpr int exit_usage = 2;

struct options {
  host_port node{"localhost", 5001}; ///< -c: the node's peer port
  std::chrono::milliseconds timeout{10000};
  std::vector<std::string> words; ///< command and its arguments
  bool stale = false;
};

const char* usage_text =
  "Usage: raftctl [-c host:port] [-timeout d] <command>\n"
  "  get KEY [-stale]   print the value (raw bytes)\n"
  "  set KEY VALUE      set a value; VALUE '-' reads it from stdin\n"
  "  del KEY            delete a key\n"
  "  status             print the node's status as JSON\n"
  "  snapshot save FILE write a consistent snapshot of the node's state to\n"
  "                     FILE (a backup for raftd -restore)\n"
  "  -c host:port       the node's peer port (default localhost:5001)\n"
  "  -timeout d         give up after d (default 10s)\n";

int usage_error(const std::string& msg) {
  std::cerr << "raftctl: " << msg << "\n" << usage_text;
  return exit_usage;
}

/// Parses -c's value into `o`; returns why it is no address, or "".
std::string parse_target(const std::string& s, options& o) {
  auto r = parse_host_port(s);
  if (r)
    o.node = std::move(*r.value);
  return r.error;
}

/// Parses -timeout's value into `o`; returns an error message or "".
std::string parse_timeout(const std::string& s, options& o) {
  return parse_duration(s, o.timeout) ? "" : "want a duration (500ms, 2s)";
}

/// Parses argv into `o`; returns an error message or "".
std::string parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c" || a == "--c" || a == "-timeout" || a == "--timeout") {
      if (i + 1 >= argc)
        return "flag needs an argument: " + a;
      std::string v = argv[++i];
      auto why = a.find('c') != std::string::npos && a.size() <= 3
                   ? parse_target(v, o)
                   : parse_timeout(v, o);
      if (!why.empty())
        return "invalid value \"" + v + "\" for flag " + a + ": " + why;
    } else if (a == "-stale" || a == "--stale") {
      o.stale = true;
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      return "flag provided but not defined: " + a;
    } else {
      o.words.push_back(a);
    }
  }
  if (o.words.empty())
    return "a command is required";
  static const std::vector<std::pair<std::string, size_t>> arity{
    {"get", 2}, {"set", 3}, {"del", 2}, {"status", 1}, {"snapshot", 3}};
  for (auto& [cmd, n] : arity)
    if (o.words[0] == cmd) {
      if (o.words.size() != n)
        return "wrong number of arguments for " + cmd;
      if (cmd == "snapshot" && o.words[1] != "save")
        return "unknown snapshot command: " + o.words[1] + " (want save)";
      return "";
    }
  return "unknown command: " + o.words[0];
}

int refused(const caf::error& err) {
  if (is(err, errc::not_leader))
    std::cerr << "raftctl: not the leader; the leader is at "
              << context_of(err) << "\n";
  else
    std::cerr << "raftctl: " << describe(err) << "\n";
  return exit_refused;
}

/// Reads open snapshot `id` chunk by chunk into `writer` and `out`; the
/// stream's running totals must match what was written (a chunk lost or
/// repeated on the way is caught before the file is whole).
caf::error copy_snapshot(caf::scoped_actor& self, const options& o,
                         const node_actor& node, uint64_t id,
                         snapshot_file_writer& writer, file_output& out,
                         snapshot_meta& meta) {
  caf::error err;
  bool last = false;
  for (uint64_t seq = 0; !last && !err; ++seq) {
    self->request(node, o.timeout, atom::snapshot::value, id, seq)
      .receive(
        [&](snapshot_chunk& c) {
          std::string bytes;
          if (seq == 0) {
            meta = c.meta;
            bytes = writer.begin(meta);
          } else if (!(c.meta == meta)) {
            err = make_error(errc::corrupt_data, "the snapshot changed while "
                                                 "it was read");
            return;
          }
          writer.append(c.keys, c.values, bytes);
          last = c.last;
          if (last && (c.count != writer.digest().count()
                       || c.checksum != writer.digest().value())) {
            err = make_error(errc::corrupt_data, "the chunks read do not add "
                                                 "up to the snapshot sent");
            return;
          }
          if (last)
            bytes += writer.finish();
          err = out.write(bytes);
        },
        [&](caf::error& e) { err = std::move(e); });
  }
  return err;
}

/// `snapshot save FILE`: a consistent snapshot of the node's state, written
/// whole to FILE or not at all (storage/file_output.hpp).
int save_snapshot(caf::scoped_actor& self, const options& o,
                  const node_actor& node, const std::string& path) {
  file_output out;
  if (auto err = out.open(path))
    return refused(err);
  uint64_t id = 0;
  caf::error err;
  self->request(node, o.timeout, atom::snapshot::value)
    .receive([&](uint64_t x) { id = x; },
             [&](caf::error& e) { err = std::move(e); });
  if (err)
    return refused(err);
  snapshot_file_writer writer;
  snapshot_meta meta;
  err = copy_snapshot(self, o, node, id, writer, out, meta);
  if (!err)
    err = out.commit();
  if (err) {
    self->send(node, atom::close::value, id);
    return refused(err);
  }
  std::cout << "saved the snapshot at index " << meta.index << " (term "
            << meta.term << "): " << writer.digest().count() << " keys, "
            << out.size() << " bytes, to " << path << "\n";
  return exit_ok;
}

int run(caf::actor_system& sys, const options& o, node_actor node) {
  caf::scoped_actor self{sys};
  auto& w = o.words;
  int rc = exit_ok;
  auto on_error = [&](caf::error& err) { rc = refused(err); };
  if (w[0] == "get") {
    auto mode = o.stale ? read_mode::stale : read_mode::linearizable;
    self->request(node, o.timeout, atom::get::value, w[1], mode)
      .receive(
        [&](bool found, const std::string& value) {
          if (found)
            std::cout << value << std::flush;
          else {
            std::cerr << "raftctl: key not found: " << w[1] << "\n";
            rc = exit_refused;
          }
        },
        on_error);
  } else if (w[0] == "set") {
    auto value = w[2];
    if (value == "-")
      value.assign(std::istreambuf_iterator<char>{std::cin}, {});
    self->request(node, o.timeout, atom::put::value, w[1], value)
      .receive([](uint64_t) {}, on_error);
  } else if (w[0] == "del") {
    self->request(node, o.timeout, atom::del::value, w[1])
      .receive(
        [&](uint64_t, bool existed) {
          if (!existed) {
            std::cerr << "raftctl: key not found: " << w[1] << "\n";
            rc = exit_refused;
          }
        },
        on_error);
  } else if (w[0] == "snapshot") {
    rc = save_snapshot(self, o, node, w[2]);
  } else {
    self->request(node, o.timeout, atom::status::value)
      .receive([](const node_status& s) { std::cout << http::status_json(s) << "\n"; },
               on_error);
  }
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  auto err = parse(argc, argv, o);
  if (!err.empty())
    return usage_error(err);
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  register_types(cfg);
  // Without heartbeats a connect to a hung host would block forever.
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds{200}});
  cfg.set("middleman.connection-timeout", caf::timespan{o.timeout});
  caf::actor_system sys{cfg};
  auto node = sys.middleman().remote_actor<node_actor>(o.node.host,
                                                       o.node.port);
  if (!node) {
    std::cerr << "raftctl: cannot reach " << to_string(o.node) << ": "
              << sys.render(node.error()) << "\n";
    return exit_usage;
  }
  return run(sys, o, *node);
}

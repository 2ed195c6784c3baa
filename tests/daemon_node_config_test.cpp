// The daemon's command line: the seed's forms, defaults and bad input.
#define CAF_SUITE daemon.node_config
#include <caf/test/unit_test.hpp>

#include "daemon/node_config.hpp"

using namespace raftd;
using namespace std::chrono_literals;

namespace {

parse_result parse(std::vector<std::string> args) {
  return parse_args(args);
}

} // namespace

CAF_TEST(the seed command lines parse with its defaults) {
  auto r = parse({"-p", "4002", "-join", "localhost:4001", "/tmp/node.2"});
  CAF_REQUIRE(r.error.empty());
  CAF_CHECK_EQUAL(r.cfg.http_port, 4002);
  CAF_CHECK_EQUAL(r.cfg.raft_port, 5002); // HTTP port + 1000
  CAF_CHECK_EQUAL(r.cfg.join, "localhost:4001");
  CAF_CHECK_EQUAL(r.cfg.data_path, "/tmp/node.2");
  CAF_CHECK_EQUAL(r.cfg.host, "localhost");
  auto d = parse({"dir"});
  CAF_REQUIRE(d.error.empty());
  CAF_CHECK_EQUAL(d.cfg.http_port, 4001);
  CAF_CHECK_EQUAL(d.cfg.max_value_size, 1u << 20);
  CAF_CHECK(d.cfg.election_timeout == 150ms);
  CAF_CHECK(d.cfg.heartbeat == 50ms);
}

CAF_TEST(go flag forms are accepted) {
  auto r = parse({"--p", "4100", "-raft-port=6000", "-h=127.0.0.1", "-v",
                  "-debug=true", "d"});
  CAF_REQUIRE(r.error.empty());
  CAF_CHECK_EQUAL(r.cfg.http_port, 4100);
  CAF_CHECK_EQUAL(r.cfg.raft_port, 6000);
  CAF_CHECK_EQUAL(r.cfg.host, "127.0.0.1");
  CAF_CHECK_EQUAL(r.cfg.log_level, 4);
  CAF_CHECK_EQUAL(parse({"-trace", "-v", "d"}).cfg.log_level, 5);
}

CAF_TEST(bad input gives a one line error) {
  CAF_CHECK_EQUAL(parse({}).error, "data path argument required");
  CAF_CHECK_EQUAL(parse({"-bogus", "d"}).error,
                  "flag provided but not defined: -bogus");
  CAF_CHECK_EQUAL(parse({"-p", "notaport", "d"}).error,
                  "invalid value \"notaport\" for flag -p");
  CAF_CHECK(!parse({"-p", "70000", "d"}).error.empty());
  CAF_CHECK(!parse({"-p", "0", "d"}).error.empty());
  CAF_CHECK(!parse({"-p", "65000", "d"}).error.empty()); // no room for +1000
  CAF_CHECK(!parse({"-election-timeout", "xyz", "d"}).error.empty());
  CAF_CHECK(!parse({"-join", "nohostport", "d"}).error.empty());
  CAF_CHECK(!parse({"-max-value-size", "0", "d"}).error.empty());
  CAF_CHECK(!parse({"d", "extra"}).error.empty());
  CAF_CHECK_EQUAL(parse({"-p"}).error, "flag needs an argument: -p");
  CAF_CHECK(!parse({"-p", "4001", "-raft-port", "4001", "d"}).error.empty());
  CAF_CHECK(!parse({"-v=maybe", "d"}).error.empty());
}

CAF_TEST(join addresses go through the shared parser) {
  // Normalized, so it compares equal to the member's http_addr.
  CAF_CHECK_EQUAL(parse({"-join", "h:080", "d"}).cfg.join, "h:80");
  CAF_CHECK_EQUAL(parse({"-join", "[::1]:4001", "d"}).cfg.join, "[::1]:4001");
  CAF_CHECK_EQUAL(parse({"-join", "::1:4001", "d"}).cfg.join, "[::1]:4001");
  CAF_CHECK_EQUAL(parse({"-join", "nohostport", "d"}).error,
                  "invalid value \"nohostport\" for flag -join: "
                  "missing \":port\" after \"nohostport\"");
  CAF_CHECK_EQUAL(parse({"-join", "h:99999", "d"}).error,
                  "invalid value \"h:99999\" for flag -join: "
                  "port \"99999\" is not in 1-65535");
  CAF_CHECK(!parse({"-join", ":4001", "d"}).error.empty());
  CAF_CHECK(!parse({"-join", "h:0", "d"}).error.empty());
  CAF_CHECK(!parse({"-join", "h:", "d"}).error.empty());
}

CAF_TEST(help needs no data path) {
  auto r = parse({"-help"});
  CAF_CHECK(r.cfg.help);
  CAF_CHECK(r.error.empty());
  CAF_CHECK_NOT_EQUAL(usage("raftd").find("Usage: raftd"), std::string::npos);
}

CAF_TEST(durations take units) {
  std::chrono::milliseconds d{0};
  CAF_CHECK(parse_duration("150ms", d) && d == 150ms);
  CAF_CHECK(parse_duration("2s", d) && d == 2000ms);
  CAF_CHECK(parse_duration("1m", d) && d == 60000ms);
  CAF_CHECK(parse_duration("75", d) && d == 75ms);
  CAF_CHECK(!parse_duration("", d));
  CAF_CHECK(!parse_duration("5h", d));
  CAF_CHECK(!parse_duration("-5s", d));
}

CAF_TEST(restore takes a file and the data path and refuses join) {
  auto r = parse_args({"-restore", "backup.snap", "-p", "4005", "dir"});
  CAF_REQUIRE_EQUAL(r.error, "");
  CAF_CHECK_EQUAL(r.cfg.restore, "backup.snap");
  CAF_CHECK_EQUAL(r.cfg.data_path, "dir");
  CAF_CHECK_EQUAL(r.cfg.raft_port, 5005);
  CAF_CHECK_EQUAL(parse_args({"-restore", "dir"}).error,
                  "data path argument required");
  CAF_CHECK_EQUAL(parse_args({"-restore=", "dir"}).error,
                  "invalid value \"\" for flag -restore");
  CAF_CHECK_EQUAL(
    parse_args({"-restore", "f", "-join", "localhost:4001", "dir"}).error,
    "-restore makes a new cluster; start the node, then -join others to it");
  CAF_CHECK(usage("raftd").find("-restore FILE") != std::string::npos);
}

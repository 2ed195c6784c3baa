#pragma once
// The body of `POST /join`: the seed's JSON (seed-behaviour §1.5) plus our
// optional peer address. Pure functions; the JSON library stays in join.cpp.
//
//   {"name": "<name>",                       1-64 of [0-9A-Za-z_-]
//    "connectionString": "http://host:port", the member's HTTP API
//    "raftAddress": "host:port"}             optional: its CAF peer port,
//                                            default host:(port + 1000)
//
// host:port is parsed by parse_host_port (messages/address.hpp); the host must
// then be a name or an IPv4 address ([0-9A-Za-z._-]; no IPv6 literals). The
// connection string may end in one '/', nothing else.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "messages/types.hpp"

namespace raftd::http {

/// Longest member name a join may carry.
inline constexpr size_t max_member_name = 64;

/// The peer port of a member that names none: its HTTP port plus this (as
/// raftd's -raft-port default).
inline constexpr uint16_t default_raft_port_offset = 1000;

/// Parses a join request body into `out` (http_addr and raft_addr as
/// "host:port"). On failure returns false, leaves `out` unspecified and sets
/// `error` to one line without '\n' (e.g. `unknown field "x"`).
bool parse_join_request(std::string_view body, member& out,
                        std::string& error);

/// The body a joining raftd sends for itself: name, "http://" + http_addr as
/// connectionString, and raft_addr as raftAddress.
std::string join_request_json(const member& m);

} // namespace raftd::http

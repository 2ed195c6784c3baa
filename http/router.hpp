#pragma once
// Routing: a pure function from (method, path, query) to what the request
// asks of the node, or the error answer. No I/O, no CAF actors.
//
//   GET            /db/{key}[?consistency=stale|linearizable]  -> db_get
//   POST or PUT    /db/{key}                                   -> db_put
//   DELETE         /db/{key}                                   -> db_delete
//   GET            /status                                     -> status
//   GET            /snapshot                                   -> snapshot
//   POST           /join             (JSON body, http/join.hpp)  -> join
//   DELETE         /members/{name}                             -> leave
//
// {key} and {name} are percent-decoded, non-empty and may not contain '/'.
// A wrong method gives 405 with the path's Allow header; the method is
// checked before the key or name.

#include <cstdint>
#include <string>
#include <string_view>

#include "messages/types.hpp"

namespace raftd::http {

/// What a request asks for.
enum class route_kind : uint8_t {
  db_get,    ///< Read `key` with `mode`.
  db_put,    ///< Set `key` to the request body.
  db_delete, ///< Remove `key`.
  status,    ///< Describe the node.
  snapshot,  ///< Stream a backup of the node's state (storage/snapshot_file).
  join,      ///< Add the member the request body describes.
  leave,     ///< Remove the member named `key`.
  error,     ///< Answer at once with `status`, `body` (and `allow`).
};

/// The outcome of routing one request.
struct route {
  route_kind kind = route_kind::error;
  std::string key;                          ///< Decoded: db_* key, leave name.
  read_mode mode = read_mode::linearizable; ///< For db_get.
  int status = 0;                           ///< 400, 404 or 405 for error.
  std::string body;                         ///< Error text, ending in '\n'.
  std::string allow;                        ///< The Allow header for 405.
};

/// The `Allow` header of `/db/{key}`.
inline constexpr std::string_view db_allow = "GET, PUT, POST, DELETE";

/// The `Allow` header of `/status`.
inline constexpr std::string_view status_allow = "GET";

/// The `Allow` header of `/snapshot`.
inline constexpr std::string_view snapshot_allow = "GET";
/// The `Allow` header of `/join`.
inline constexpr std::string_view join_allow = "POST";

/// The `Allow` header of `/members/{name}`.
inline constexpr std::string_view members_allow = "DELETE";

/// The body of every 404 for an unknown route (Go's, as the seed sent it).
inline constexpr std::string_view not_found_body = "404 page not found\n";

/// Routes a request. `method` is an `enum http_method` value; `path` and
/// `query` are raw, as split by the parser.
route route_request(int method, std::string_view path, std::string_view query);

/// Percent-decodes `in` ("%41" -> "A"). With `plus_is_space` ('+' -> ' ',
/// for query strings). Returns false on a bad escape ("%zz", "%4").
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out);

} // namespace raftd::http

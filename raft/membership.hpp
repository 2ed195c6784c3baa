#pragma once
// The value of a configuration entry (thesis §4.1): the members in force
// once the entry is in the log. Pure: the core decodes it, the role and the
// daemon encode it.
//
// Version 2 (written now):
//   config  := 0x02 member*
//   member  := field '\t' field '\t' field '\n'        name, http, raft
//   field   := ( byte other than '\\' '\t' '\n'
//              | '\\' '\\' | '\\' 't' | '\\' 'n' )*
// Version 1 (written before; still read): no version byte and no escaping,
//   config  := ( name '\t' http '\t' raft '\n' )*
// A value whose first byte is below 0x20 carries a version; any other value
// (a name never starts with a control byte) is version 1.

#include <optional>
#include <string>
#include <vector>

#include "messages/types.hpp"

namespace raftd {

/// Version byte in front of a configuration entry's value.
constexpr char members_version = 0x02;

/// Encodes `ms` in version 2.
std::string encode_members(const std::vector<member>& ms);

/// Reads version 2 or version 1; nothing if `text` is malformed or of an
/// unknown version.
std::optional<std::vector<member>> decode_members(const std::string& text);

} // namespace raftd

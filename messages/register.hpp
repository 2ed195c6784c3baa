#pragma once
// One place that registers every type crossing a node boundary and raftd's
// error renderer. The daemon, raftctl and the tests all call it, so both ends
// of a connection agree on type names (caf-0.17-guide §3).

namespace caf {
class actor_system_config;
} // namespace caf

namespace raftd {

/// Adds raftd's message types and error category to `cfg`.
void register_types(caf::actor_system_config& cfg);

} // namespace raftd

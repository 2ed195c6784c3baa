#pragma once
// Invariants that stop a broken node loudly, in every build, as LogCabin's
// PANIC does: unlike assert, never compiled out (RelWithDebInfo defines
// NDEBUG). A node that carries on after one breaks can acknowledge writes it
// will lose or answer reads with data that never committed; stopping is the
// only safe answer, and the message says what broke.

#include <string>

namespace raftd {

/// What panic() calls. The default writes "file:line: check `cond` failed:
/// msg" to stderr and aborts. Tests install one that throws, to see a check
/// fire; a handler that returns still ends in abort().
using panic_handler = void (*)(const char* file, int line, const char* cond,
                               const std::string& msg);

/// Installs `h` (nullptr: the default); returns the one before.
panic_handler set_panic_handler(panic_handler h);

[[noreturn]] void panic(const char* file, int line, const char* cond,
                        const std::string& msg);

} // namespace raftd

/// Stops the node unless `cond` holds; `msg` is evaluated only then.
#define RAFTD_CHECK(cond, msg)                                                 \
  ((cond) ? void() : ::raftd::panic(__FILE__, __LINE__, #cond, (msg)))

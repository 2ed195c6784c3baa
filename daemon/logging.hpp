#pragma once
// raftd's own logger (Debian's CAF compiles its logging out): one line per
// event on stderr, "<unix s>.<ms> [LEVEL] message", written with a single
// write(2) so lines from different threads never interleave.

#include <atomic>
#include <sstream>
#include <string>

namespace raftd {

enum class log_level : int { error, warn, notice, info, debug, trace };

/// Lines above this level are dropped. `notice` by default; -v: info,
/// -debug: debug, -trace: trace.
extern std::atomic<int> g_log_level;

void log_line(log_level lvl, const std::string& msg);

inline bool log_enabled(log_level lvl) {
  return static_cast<int>(lvl) <= g_log_level.load(std::memory_order_relaxed);
}

} // namespace raftd

#define RAFTD_LOG(level, expr)                                                 \
  do {                                                                         \
    if (::raftd::log_enabled(::raftd::log_level::level)) {                     \
      std::ostringstream raftd_os_;                                            \
      raftd_os_ << expr;                                                       \
      ::raftd::log_line(::raftd::log_level::level, raftd_os_.str());           \
    }                                                                          \
  } while (false)

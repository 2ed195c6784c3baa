#include "daemon/logging.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace raftd {

std::atomic<int> g_log_level{static_cast<int>(log_level::notice)};

namespace {

const char* level_name(log_level lvl) {
  switch (lvl) {
    case log_level::error: return "ERROR";
    case log_level::warn: return "WARN";
    case log_level::notice: return "NOTICE";
    case log_level::info: return "INFO";
    case log_level::debug: return "DEBUG";
    case log_level::trace: return "TRACE";
  }
  return "?";
}

} // namespace

void log_line(log_level lvl, const std::string& msg) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
  char prefix[64];
  auto n = std::snprintf(prefix, sizeof(prefix), "%lld.%03lld [%s] ",
                         static_cast<long long>(ms.count() / 1000),
                         static_cast<long long>(ms.count() % 1000),
                         level_name(lvl));
  std::string line{prefix, static_cast<size_t>(n)};
  line += msg;
  line += '\n';
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void) rc; // nothing sensible to do if stderr is gone
}

} // namespace raftd

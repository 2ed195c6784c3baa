#include "raft/check.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace raftd {

namespace {

std::atomic<panic_handler> handler{nullptr};

} // namespace

panic_handler set_panic_handler(panic_handler h) {
  return handler.exchange(h);
}

void panic(const char* file, int line, const char* cond,
           const std::string& msg) {
  if (auto h = handler.load())
    h(file, line, cond, msg);
  std::fprintf(stderr, "%s:%d: check `%s` failed: %s; stopping\n", file, line,
               cond, msg.c_str());
  std::fflush(stderr);
  std::abort();
}

} // namespace raftd

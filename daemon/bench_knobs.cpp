#include "daemon/bench_knobs.hpp"

#include <charconv>
#include <string_view>

namespace raftd {

namespace {

bool read_count(const env_lookup& get, const char* name, size_t lo, size_t hi,
                size_t& out, std::string& error) {
  auto v = get(name);
  if (v == nullptr)
    return true;
  std::string_view s{v};
  size_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || n < lo
      || n > hi) {
    error = std::string{name} + ": want a number from " + std::to_string(lo)
            + " to " + std::to_string(hi) + ", got \"" + v + "\"";
    return false;
  }
  out = n;
  return true;
}

bool read_switch(const env_lookup& get, const char* name, bool& out,
                 std::string& error) {
  auto v = get(name);
  if (v == nullptr)
    return true;
  std::string_view s{v};
  if (s != "0" && s != "1") {
    error = std::string{name} + ": want 0 or 1, got \"" + v + "\"";
    return false;
  }
  out = s == "1";
  return true;
}

bool read_policy(const env_lookup& get, std::string& out,
                 std::string& error) {
  auto v = get("RAFTD_SCHEDULER_POLICY");
  if (v == nullptr)
    return true;
  std::string_view s{v};
  if (s != "sharing" && s != "stealing") {
    error = std::string{"RAFTD_SCHEDULER_POLICY: want sharing or stealing, "
                        "got \""}
            + v + "\"";
    return false;
  }
  out = std::string{s};
  return true;
}

} // namespace

bench_knobs read_bench_knobs(const env_lookup& get, std::string& error) {
  bench_knobs k;
  bool ok = read_count(get, "RAFTD_SCHEDULER_THREADS", 1, 64,
                       k.scheduler_threads, error)
            && read_policy(get, k.scheduler_policy, error)
            && read_count(get, "RAFTD_MIDDLEMAN_WORKERS", 0, 64,
                          k.middleman_workers, error)
            && read_switch(get, "RAFTD_SM_DETACHED", k.sm_detached, error)
            && read_switch(get, "RAFTD_DIRECT_WRITES", k.direct_writes, error);
  return ok ? k : bench_knobs{};
}

} // namespace raftd

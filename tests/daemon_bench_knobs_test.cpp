// The RAFTD_* benchmark knobs (daemon/bench_knobs.hpp): checked, never
// taken half-read.
#define CAF_SUITE daemon.bench_knobs
#include <caf/test/unit_test.hpp>

#include <map>

#include "daemon/bench_knobs.hpp"

using namespace raftd;

namespace {

env_lookup env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(
    std::move(vars));
  return [shared](const char* name) -> const char* {
    auto i = shared->find(name);
    return i == shared->end() ? nullptr : i->second.c_str();
  };
}

} // namespace

CAF_TEST(unset knobs keep the defaults) {
  std::string err;
  auto k = read_bench_knobs(env_of({}), err);
  CAF_CHECK(err.empty());
  CAF_CHECK_EQUAL(k.scheduler_threads, 1u);
  CAF_CHECK_EQUAL(k.scheduler_policy, "sharing");
  CAF_CHECK_EQUAL(k.middleman_workers, 0u);
  CAF_CHECK(k.sm_detached && k.direct_writes);
}

CAF_TEST(good values are taken) {
  std::string err;
  auto k = read_bench_knobs(env_of({{"RAFTD_SCHEDULER_THREADS", "2"},
                                    {"RAFTD_SCHEDULER_POLICY", "stealing"},
                                    {"RAFTD_MIDDLEMAN_WORKERS", "0"},
                                    {"RAFTD_SM_DETACHED", "0"},
                                    {"RAFTD_DIRECT_WRITES", "0"}}),
                            err);
  CAF_CHECK(err.empty());
  CAF_CHECK_EQUAL(k.scheduler_threads, 2u);
  CAF_CHECK_EQUAL(k.scheduler_policy, "stealing");
  CAF_CHECK(!k.sm_detached && !k.direct_writes);
}

CAF_TEST(bad values are refused with the variable named) {
  std::map<std::string, std::string> bad[] = {
    {{"RAFTD_SCHEDULER_THREADS", "abc"}},
    {{"RAFTD_SCHEDULER_THREADS", "0"}},
    {{"RAFTD_SCHEDULER_THREADS", ""}},
    {{"RAFTD_SCHEDULER_THREADS", "2x"}},
    {{"RAFTD_SCHEDULER_THREADS", "99999999999999999999999"}},
    {{"RAFTD_MIDDLEMAN_WORKERS", "-1"}},
    {{"RAFTD_SCHEDULER_POLICY", "fifo"}},
    {{"RAFTD_SM_DETACHED", "yes"}},
    {{"RAFTD_DIRECT_WRITES", "2"}},
  };
  for (auto& vars : bad) {
    std::string err;
    auto k = read_bench_knobs(env_of(vars), err);
    CAF_CHECK(err.find(vars.begin()->first) == 0);
    CAF_CHECK_EQUAL(k.scheduler_threads, 1u); // defaults, not half-read
  }
}

// The PERSISTER on real LevelDB whose write-ahead log fails on demand: a
// failed write latches the store; `recover` reopens it, and succeeds only
// once the disk takes writes again, reading back exactly what was durable.
#define CAF_SUITE actors.persister
#include <caf/test/dsl.hpp>

#include <caf/event_based_actor.hpp>

#include "actors/persister.hpp"
#include "messages/errors.hpp"
#include "storage/log_store.hpp"
#include "tests/faulty_env.hpp"
#include "tests/storage_test_util.hpp"

using namespace raftd;
using namespace raftd::test;

namespace {

struct fixture : test_coordinator_fixture<> {
  temp_dir dir;
  faulty_env env;
  persister_actor persister;

  fixture() {
    auto path = dir.sub("log");
    auto reopen = [path, this] {
      return open_leveldb_log_store(path, false, &env);
    };
    auto store = open_leveldb_log_store(path, true, &env);
    CAF_REQUIRE(store);
    persister = spawn_persister(sys, std::shared_ptr<log_store>{
                                       std::move(*store)},
                                false, reopen);
  }

  ~fixture() override {
    caf::anon_send_exit(persister, caf::exit_reason::user_shutdown);
    run();
  }

  /// Asks `whom` and runs the scheduler until it answers.
  template <class T, class Handle, class... Xs>
  caf::expected<T> ask_of(Handle whom, Xs... xs) {
    auto out = std::make_shared<caf::expected<T>>(caf::error{});
    auto done = std::make_shared<bool>(false);
    sys.spawn([=](caf::event_based_actor* client) {
      client->request(whom, caf::infinite, xs...)
        .then(
          [=](T& x) {
            *out = std::move(x);
            *done = true;
          },
          [=](caf::error& e) {
            *out = std::move(e);
            *done = true;
          });
    });
    sched.run();
    CAF_REQUIRE(*done);
    return std::move(*out);
  }

  template <class T, class... Xs>
  caf::expected<T> ask(Xs... xs) {
    return ask_of<T>(persister, xs...);
  }

  caf::expected<uint64_t> write(uint64_t index) {
    persist_batch b;
    b.has_state = index == 1;
    b.state = hard_state{1, "a"};
    b.entries.push_back(log_entry{1, index, entry_kind::put, "k",
                                  "v" + std::to_string(index)});
    return ask<uint64_t>(atom::write::value, b);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(persister_tests, fixture)

CAF_TEST(a failed disk is reopened once it takes writes again) {
  CAF_CHECK_EQUAL(write(1), uint64_t{1});
  CAF_CHECK_EQUAL(write(2), uint64_t{2});
  env.sw.mode = fault::append; // the disk is full
  auto failed = write(3);
  CAF_REQUIRE(!failed);
  CAF_CHECK(is(failed.error(), errc::storage_failed));
  // Still full: the reopen works, its probe write does not.
  auto early = ask<durable_log>(atom::recover::value);
  CAF_REQUIRE(!early);
  CAF_CHECK(is(early.error(), errc::storage_failed));
  env.sw.mode = fault::none; // space again
  auto back = ask<durable_log>(atom::recover::value);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->state, (hard_state{1, "a"}));
  CAF_REQUIRE_EQUAL(back->entries.size(), 2u); // what was acknowledged
  CAF_CHECK_EQUAL(back->entries[1].value, "v2");
  CAF_CHECK_EQUAL(write(3), uint64_t{3});
}

CAF_TEST(without a way to reopen the store recover fails) {
  temp_dir other;
  auto store = open_leveldb_log_store(other.sub("log"), true, nullptr);
  CAF_REQUIRE(store);
  auto p = spawn_persister(sys, std::shared_ptr<log_store>{std::move(*store)},
                           false);
  auto got = ask_of<durable_log>(p, atom::recover::value);
  CAF_REQUIRE(!got);
  CAF_CHECK(is(got.error(), errc::storage_failed));
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

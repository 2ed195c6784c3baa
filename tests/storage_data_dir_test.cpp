#define CAF_SUITE storage.data_dir
#include <caf/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/data_dir.hpp"
#include "tests/storage_test_util.hpp"

using namespace raftd;
using namespace raftd::test;

namespace fs = std::filesystem;

namespace {

/// Every file under `dir` with its contents: to show nothing changed.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> result;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    auto rel = fs::relative(e.path(), dir).string();
    result[rel] = e.is_regular_file() ? read_file(e.path()) : "<dir>";
  }
  return result;
}

bool has(const caf::error& err, errc code, const std::string& text) {
  if (!is(err, code)) {
    CAF_MESSAGE("unexpected error: " << to_string(code) << " wanted, got "
                                     << context_of(err));
    return false;
  }
  if (context_of(err).find(text) == std::string::npos) {
    CAF_MESSAGE("\"" << text << "\" not in: " << context_of(err));
    return false;
  }
  return true;
}

caf::error open_error(const std::string& path) {
  auto d = open_data_dir(path);
  return d ? caf::error{} : d.error();
}

/// Makes a complete data directory at `path` and closes it.
std::string make_dir(const std::string& path) {
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  return d->name;
}

} // namespace

CAF_TEST(a fresh directory gets a name and log and kv) {
  temp_dir tmp;
  auto path = tmp.sub("node.1");
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  CAF_CHECK(d->fresh);
  CAF_CHECK_EQUAL(d->path, path);
  CAF_CHECK_EQUAL(d->name.size(), 7u);
  CAF_CHECK_EQUAL(d->name.find_first_not_of("0123456789abcdef"),
                  std::string::npos);
  CAF_CHECK_EQUAL(read_file(path + "/name"), d->name); // no newline
  struct stat st;
  CAF_REQUIRE(::stat((path + "/name").c_str(), &st) == 0);
  CAF_CHECK_EQUAL(st.st_mode & 07777, 0644u);
  CAF_CHECK(fs::is_directory(path + "/log"));
  CAF_CHECK(fs::is_directory(path + "/kv"));
  CAF_CHECK(!fs::exists(path + "/name.tmp"));
  CAF_REQUIRE(d->log && d->kv);
  CAF_CHECK_EQUAL(d->log->last_index(), 0u);
  CAF_CHECK_EQUAL(d->kv->applied_index(), 0u);
}

CAF_TEST(missing parents are created and an empty directory is fresh) {
  temp_dir tmp;
  auto d = open_data_dir(tmp.sub("a/b/c"));
  CAF_REQUIRE(d);
  CAF_CHECK(d->fresh);
  auto e = open_data_dir(tmp.sub("empty")); // does not exist yet
  CAF_REQUIRE(e);
  std::string name;
  {
    auto slash = open_data_dir(tmp.sub("x/y/"));
    CAF_REQUIRE(slash);
    name = slash->name;
  }
  auto again = open_data_dir(tmp.sub("x/y"));
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->name, name);
  fs::create_directory(tmp.sub("made"));
  auto f = open_data_dir(tmp.sub("made"));
  CAF_REQUIRE(f);
  CAF_CHECK(f->fresh);
}

CAF_TEST(reopening keeps the name and the data) {
  temp_dir tmp;
  auto path = tmp.sub("node");
  std::string name;
  {
    auto d = open_data_dir(path);
    CAF_REQUIRE(d);
    name = d->name;
    CAF_REQUIRE(!d->log->write(append(entries(1, 2))));
    CAF_REQUIRE(d->kv->apply(entries(1, 2)));
  }
  auto before = snapshot(path).at("name");
  auto d = open_data_dir(path);
  CAF_REQUIRE(d);
  CAF_CHECK(!d->fresh);
  CAF_CHECK_EQUAL(d->name, name);
  CAF_CHECK_EQUAL(read_file(path + "/name"), before);
  CAF_CHECK_EQUAL(d->log->last_index(), 2u);
  CAF_CHECK_EQUAL(d->kv->applied_index(), 2u);
  // Two new nodes get different names (28 random bits: a clash is ~4e-9).
  CAF_CHECK_NOT_EQUAL(make_dir(tmp.sub("other")), name);
}

CAF_TEST(a bad name file is corrupt_data and stays as it was) {
  std::vector<std::string> bad_names{"abc1234\n", "ABC1234", "abc12345",
                                     "abc123",    "",        "abc12g4",
                                     std::string("abc\0" "123", 7)};
  for (auto& bad : bad_names) {
    temp_dir tmp;
    auto path = tmp.sub("node");
    make_dir(path);
    write_file(path + "/name", bad);
    auto before = snapshot(path);
    CAF_CHECK(has(open_error(path), errc::corrupt_data,
                  "must hold exactly 7 lowercase hex characters"));
    CAF_CHECK(snapshot(path) == before);
  }
}

CAF_TEST(a foreign non-empty directory is refused and left untouched) {
  temp_dir tmp;
  auto path = tmp.sub("photos");
  fs::create_directories(path + "/2019");
  write_file(path + "/cat.jpg", "meow");
  write_file(path + "/2019/dog.jpg", "woof");
  auto before = snapshot(path);
  CAF_CHECK(has(open_error(path), errc::corrupt_data,
                "not a raftd data directory"));
  CAF_CHECK(snapshot(path) == before);
}

CAF_TEST(an interrupted first start is refused with a hint) {
  temp_dir tmp;
  auto path = tmp.sub("node");
  make_dir(path);
  fs::remove(path + "/name");
  auto before = snapshot(path);
  CAF_CHECK(has(open_error(path), errc::corrupt_data, "first start"));
  CAF_CHECK(snapshot(path) == before);
}

CAF_TEST(a name without log or kv is corrupt_data) {
  for (auto sub : {"log", "kv"}) {
    temp_dir tmp;
    auto path = tmp.sub("node");
    make_dir(path);
    fs::remove_all(path + "/" + sub);
    auto before = snapshot(path);
    CAF_CHECK(has(open_error(path), errc::corrupt_data,
                  std::string("no ") + sub + "/"));
    CAF_CHECK(snapshot(path) == before); // not recreated
  }
  // A file where log/ should be.
  temp_dir tmp;
  auto path = tmp.sub("node");
  make_dir(path);
  fs::remove_all(path + "/log");
  write_file(path + "/log", "x");
  CAF_CHECK(has(open_error(path), errc::corrupt_data, "not a directory"));
  // An empty log/ directory (its database gone) is refused as well.
  fs::remove(path + "/log");
  fs::create_directory(path + "/log");
  CAF_CHECK(has(open_error(path), errc::corrupt_data, "missing log database"));
  CAF_CHECK(fs::is_empty(path + "/log"));
}

CAF_TEST(a path that is a file or cannot be read gives a clear error) {
  temp_dir tmp;
  write_file(tmp.sub("file"), "x");
  CAF_CHECK(has(open_error(tmp.sub("file")), errc::corrupt_data,
                "not a directory"));
  CAF_CHECK(is(open_error(tmp.sub("file/sub")), errc::storage_failed));
  CAF_CHECK(is(open_error(""), errc::bad_request));
  if (::geteuid() == 0) {
    CAF_MESSAGE("running as root: permission checks do not apply, skipped");
    return;
  }
  auto path = tmp.sub("locked");
  make_dir(path);
  fs::permissions(path, fs::perms::none);
  CAF_CHECK(has(open_error(path), errc::corrupt_data, "cannot read"));
}

CAF_TEST(a directory open in this process cannot be opened again) {
  temp_dir tmp;
  auto path = tmp.sub("node");
  auto first = open_data_dir(path);
  CAF_REQUIRE(first);
  CAF_CHECK(has(open_error(path), errc::storage_failed, "already open"));
  // The first one still works; after closing it the directory opens again.
  CAF_CHECK(!first->log->write(append(entries(1, 1))));
  auto name = first->name;
  first = caf::error{};
  auto again = open_data_dir(path);
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->name, name);
}

CAF_TEST(a directory open in another process is in use) {
  temp_dir tmp;
  auto path = tmp.sub("node");
  // Fork first, so the child does not inherit this process's record of
  // open databases; it waits until the parent holds the directory.
  int go[2];
  CAF_REQUIRE(::pipe(go) == 0);
  auto pid = ::fork();
  CAF_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: no CAF checks here, the exit code says what happened.
    char byte = 0;
    if (::read(go[0], &byte, 1) != 1)
      ::_exit(2);
    auto d = open_data_dir(path);
    auto ok = !d && is(d.error(), errc::storage_failed)
              && context_of(d.error()).find(
                   "data directory is in use by another process")
                   != std::string::npos;
    ::_exit(ok ? 0 : 1);
  }
  auto first = open_data_dir(path);
  CAF_REQUIRE(first);
  CAF_REQUIRE(::write(go[1], "x", 1) == 1);
  int status = 0;
  CAF_REQUIRE(::waitpid(pid, &status, 0) == pid);
  ::close(go[0]);
  ::close(go[1]);
  CAF_CHECK(WIFEXITED(status));
  CAF_CHECK_EQUAL(WEXITSTATUS(status), 0);
}

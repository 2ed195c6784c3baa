#include "storage/data_dir.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "messages/errors.hpp"

namespace raftd {

namespace {

namespace fs = std::filesystem;

constexpr size_t name_length = 7;
/// Reading more than this from DATA/name is pointless: it is invalid anyway.
constexpr size_t name_read_limit = 64;
constexpr const char* name_file = "name";
constexpr const char* name_tmp_file = "name.tmp";
constexpr const char* log_dir = "log";
constexpr const char* kv_dir = "kv";

std::string errno_text(int code) {
  return std::strerror(code);
}

/// Owns a file descriptor.
class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {
    // nop
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const {
    return fd_;
  }
  /// Closes now, reporting the result (close can report a failed write).
  int close() {
    auto fd = fd_;
    fd_ = -1;
    return ::close(fd);
  }

private:
  int fd_;
};

/// Lists the names in `dir`, without "." and "..".
caf::expected<std::set<std::string>> list_dir(const std::string& dir) {
  auto* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return make_error(errc::corrupt_data, "cannot read data directory " + dir
                                            + ": " + errno_text(errno));
  std::set<std::string> names;
  errno = 0;
  while (auto* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..")
      names.insert(std::move(n));
  }
  auto err = errno;
  ::closedir(d);
  if (err != 0)
    return make_error(errc::corrupt_data, "cannot read data directory " + dir
                                            + ": " + errno_text(err));
  return names;
}

caf::error sync_dir(const std::string& dir) {
  fd_guard fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (fd.get() < 0 || ::fsync(fd.get()) != 0)
    return make_error(errc::storage_failed,
                      "cannot sync directory " + dir + ": "
                        + errno_text(errno));
  return {};
}

std::string make_name() {
  std::random_device rd;
  std::uniform_int_distribution<uint32_t> dist{0, 0x0fffffff};
  char buf[name_length + 1];
  std::snprintf(buf, sizeof(buf), "%07x", static_cast<unsigned>(dist(rd)));
  return std::string(buf, name_length);
}

bool valid_name(const std::string& s) {
  if (s.size() != name_length)
    return false;
  for (auto c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

/// Shows file contents in an error message: printable ASCII as is, the rest
/// as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (auto c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

/// Writes all of `data`; returns 0 or the errno of the failure.
int write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

/// Writes DATA/name atomically and never over an existing one: the bytes go
/// to name.tmp (created exclusively), are synced, then linked to `name`
/// (link fails if it exists, where rename would replace it) and the
/// directory is synced.
caf::error write_name(const std::string& dir, const std::string& name) {
  auto tmp = dir + "/" + name_tmp_file;
  auto final_path = dir + "/" + name_file;
  auto fail = [&](const std::string& step, int code) {
    ::unlink(tmp.c_str());
    return make_error(errc::storage_failed, "cannot write " + final_path
                                              + " (" + step
                                              + "): " + errno_text(code));
  };
  fd_guard fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     0644)};
  if (fd.get() < 0)
    return make_error(errc::storage_failed,
                      "cannot create " + tmp + ": " + errno_text(errno));
  if (::fchmod(fd.get(), 0644) != 0)
    return fail("chmod", errno);
  if (auto code = write_all(fd.get(), name))
    return fail("write", code);
  if (::fsync(fd.get()) != 0)
    return fail("fsync", errno);
  if (fd.close() != 0)
    return fail("close", errno);
  if (::link(tmp.c_str(), final_path.c_str()) != 0)
    return fail("link", errno);
  ::unlink(tmp.c_str());
  return sync_dir(dir);
}

caf::expected<std::string> read_name(const std::string& dir) {
  auto path = dir + "/" + name_file;
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return make_error(errc::corrupt_data,
                      "cannot read " + path + ": " + errno_text(errno));
  std::string data;
  char buf[name_read_limit];
  while (data.size() < name_read_limit) {
    auto n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_error(errc::corrupt_data,
                        "cannot read " + path + ": " + errno_text(errno));
    if (n == 0)
      break;
    data.append(buf, static_cast<size_t>(n));
  }
  if (!valid_name(data))
    return make_error(errc::corrupt_data,
                      path + " must hold exactly 7 lowercase hex characters "
                             "and no newline, but holds \""
                        + printable(data.substr(0, name_read_limit)) + "\"");
  return data;
}

caf::error open_stores(data_dir& d, bool create) {
  auto log = open_leveldb_log_store(d.path + "/" + log_dir, create);
  if (!log)
    return log.error();
  auto kv = open_leveldb_kv_store(d.path + "/" + kv_dir, create);
  if (!kv)
    return kv.error();
  d.log = std::move(*log);
  d.kv = std::move(*kv);
  return {};
}

caf::error check_subdir(const std::string& dir, const char* sub) {
  auto path = dir + "/" + sub;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return make_error(errc::corrupt_data,
                      "data directory " + dir + " has a name but no " + sub
                        + "/ (" + errno_text(errno)
                        + "): it is damaged, refusing to start");
  if (!S_ISDIR(st.st_mode))
    return make_error(errc::corrupt_data,
                      path + " is not a directory: the data directory is "
                             "damaged, refusing to start");
  return {};
}

caf::expected<data_dir> open_existing(data_dir d) {
  auto name = read_name(d.path);
  if (!name)
    return name.error();
  d.name = std::move(*name);
  for (auto sub : {log_dir, kv_dir})
    if (auto err = check_subdir(d.path, sub))
      return err;
  if (auto err = open_stores(d, false))
    return err;
  return d;
}

caf::expected<data_dir> create_fresh(data_dir d) {
  // The name goes last: its presence says log/ and kv/ are complete.
  if (auto err = open_stores(d, true))
    return err;
  if (auto err = sync_dir(d.path))
    return err;
  d.name = make_name();
  if (auto err = write_name(d.path, d.name))
    return err;
  d.fresh = true;
  return d;
}

caf::error not_raftd(const std::string& dir,
                     const std::set<std::string>& names) {
  auto msg = dir + " is not a raftd data directory: it is not empty and "
                   "has no name file; refusing to write into it";
  std::set<std::string> first_start{log_dir, kv_dir, name_tmp_file};
  bool interrupted = true;
  for (auto& n : names)
    interrupted = interrupted && first_start.count(n) > 0;
  if (interrupted)
    msg += " (it looks like a first start that did not finish; if so, "
           "remove the directory and start again)";
  return make_error(errc::corrupt_data, std::move(msg));
}

/// Makes sure `path` is a directory, creating it and its parents if missing.
/// New directories are made durable: each one's parent is synced, so a
/// crash cannot lose the data directory around a synced log.
caf::error ensure_dir(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st))
      return make_error(errc::corrupt_data,
                        "data path " + path + " is not a directory");
    return {};
  }
  std::vector<fs::path> created; // outermost first
  auto target = fs::absolute(path, ec).lexically_normal();
  if (!target.has_filename()) // "a/b/"
    target = target.parent_path();
  for (auto p = target; !p.empty() && !fs::exists(p, ec);
       p = p.parent_path()) {
    created.insert(created.begin(), p);
    if (p == p.parent_path())
      break;
  }
  fs::create_directories(path, ec);
  if (ec)
    return make_error(errc::storage_failed, "cannot create data directory "
                                              + path + ": " + ec.message());
  for (auto& dir : created)
    if (auto err = sync_dir(dir.parent_path().string()))
      return err;
  return {};
}

} // namespace

caf::expected<data_dir> open_data_dir(const std::string& path) {
  if (path.empty())
    return make_error(errc::bad_request, "empty data directory path");
  if (auto err = ensure_dir(path))
    return err;
  auto names = list_dir(path);
  if (!names)
    return names.error();
  data_dir d;
  d.path = path;
  if (names->count(name_file) > 0)
    return open_existing(std::move(d));
  if (names->empty())
    return create_fresh(std::move(d));
  return not_raftd(path, *names);
}

caf::expected<std::unique_ptr<log_store>> reopen_log(const std::string& path) {
  return open_leveldb_log_store(path + "/" + log_dir, false);
}

caf::expected<std::unique_ptr<kv_store>> reopen_kv(const std::string& path) {
  return open_leveldb_kv_store(path + "/" + kv_dir, false);
}

} // namespace raftd

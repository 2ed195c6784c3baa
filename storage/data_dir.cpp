#include "storage/data_dir.hpp"

#include <algorithm>
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
#include "storage/kv_dirs.hpp"

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
constexpr const char* kv_current_file = "kv-current";
constexpr const char* kv_current_tmp_file = "kv-current.tmp";
/// "kv." and at most this many digits: more is not a name we wrote.
constexpr size_t max_kv_digits = 19;

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

/// Writes `bytes` to the new file `tmp` (created with `flags`, mode 0644)
/// and syncs it, for a caller to link or rename into place. `final_path`
/// names the file in errors. On failure `tmp` is gone.
caf::error write_synced_tmp(const std::string& tmp,
                            const std::string& final_path,
                            const std::string& bytes, int flags) {
  auto fail = [&](const std::string& step, int code) {
    ::unlink(tmp.c_str());
    return make_error(errc::storage_failed, "cannot write " + final_path
                                              + " (" + step
                                              + "): " + errno_text(code));
  };
  fd_guard fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags,
                     0644)};
  if (fd.get() < 0)
    return make_error(errc::storage_failed,
                      "cannot create " + tmp + ": " + errno_text(errno));
  if (::fchmod(fd.get(), 0644) != 0)
    return fail("chmod", errno);
  if (auto code = write_all(fd.get(), bytes))
    return fail("write", code);
  if (::fsync(fd.get()) != 0)
    return fail("fsync", errno);
  if (fd.close() != 0)
    return fail("close", errno);
  return {};
}

/// Writes DATA/name atomically and never over an existing one: the bytes go
/// to name.tmp (created exclusively), are synced, then linked to `name`
/// (link fails if it exists, where rename would replace it) and the
/// directory is synced.
caf::error write_name(const std::string& dir, const std::string& name) {
  auto tmp = dir + "/" + name_tmp_file;
  auto final_path = dir + "/" + name_file;
  if (auto err = write_synced_tmp(tmp, final_path, name, O_EXCL))
    return err;
  if (::link(tmp.c_str(), final_path.c_str()) != 0) {
    auto code = errno;
    ::unlink(tmp.c_str());
    return make_error(errc::storage_failed, "cannot write " + final_path
                                              + " (link): "
                                              + errno_text(code));
  }
  ::unlink(tmp.c_str());
  return sync_dir(dir);
}

/// Reads up to name_read_limit bytes of the small file at `path`.
caf::expected<std::string> read_small_file(const std::string& path) {
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
  return data;
}

caf::expected<std::string> read_name(const std::string& dir) {
  auto path = dir + "/" + name_file;
  auto data = read_small_file(path);
  if (!data)
    return data.error();
  if (!valid_name(*data))
    return make_error(errc::corrupt_data,
                      path + " must hold exactly 7 lowercase hex characters "
                             "and no newline, but holds \""
                        + printable(data->substr(0, name_read_limit)) + "\"");
  return std::move(*data);
}

caf::error open_stores(data_dir& d, bool create, const std::string& kv_name) {
  auto log = open_leveldb_log_store(d.path + "/" + log_dir, create);
  if (!log)
    return log.error();
  auto kv = open_leveldb_kv_store(d.path + "/" + kv_name, create);
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
  auto kv_name = detail::live_kv_name(d.path);
  if (!kv_name)
    return kv_name.error();
  for (auto sub : {log_dir, kv_name->c_str()})
    if (auto err = check_subdir(d.path, sub))
      return err;
  // What an interrupted install, or a switch whose old directory was not
  // removed yet, left behind.
  if (auto err = detail::remove_other_kv_dirs(d.path, *kv_name))
    return err;
  if (auto err = open_stores(d, false, *kv_name))
    return err;
  return d;
}

caf::expected<data_dir> create_fresh(data_dir d) {
  // The name goes last: its presence says log/ and kv/ are complete.
  if (auto err = open_stores(d, true, kv_dir))
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
  auto kv_name = detail::live_kv_name(path);
  if (!kv_name)
    return kv_name.error();
  // Leftover directories stay until the next open_data_dir: an install
  // running beside this store may own one of them.
  return open_leveldb_kv_store(path + "/" + *kv_name, false);
}

namespace detail {

bool is_kv_dir_name(const std::string& name) {
  if (name == kv_dir)
    return true;
  std::string dot = std::string{kv_dir} + ".";
  if (name.size() <= dot.size() || name.size() > dot.size() + max_kv_digits
      || name.compare(0, dot.size(), dot) != 0)
    return false;
  return std::all_of(name.begin() + static_cast<ptrdiff_t>(dot.size()),
                     name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

caf::expected<std::string> live_kv_name(const std::string& path) {
  auto file = path + "/" + kv_current_file;
  struct stat st;
  if (::lstat(file.c_str(), &st) != 0 && errno == ENOENT)
    return std::string{kv_dir};
  auto name = read_small_file(file);
  if (!name)
    return name.error();
  if (!is_kv_dir_name(*name))
    return make_error(errc::corrupt_data,
                      file + " must name a kv directory (\"kv\" or "
                             "\"kv.<digits>\", no newline), but holds \""
                        + printable(*name) + "\": the data directory is "
                                             "damaged, refusing to start");
  auto dir = path + "/" + *name;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(errc::corrupt_data,
                      file + " names " + *name + ", but " + dir
                        + " is not a directory: the data directory is "
                          "damaged, refusing to start");
  return std::move(*name);
}

caf::expected<std::string> next_kv_name(const std::string& path) {
  auto names = list_dir(path);
  if (!names)
    return names.error();
  uint64_t highest = 0;
  for (auto& n : *names)
    if (n != kv_dir && is_kv_dir_name(n))
      highest = std::max<uint64_t>(highest, std::stoull(n.substr(3)));
  return std::string{kv_dir} + "." + std::to_string(highest + 1);
}

caf::error switch_live_kv(const std::string& path, const std::string& name,
                          bool& renamed) {
  renamed = false;
  auto tmp = path + "/" + kv_current_tmp_file;
  auto final_path = path + "/" + kv_current_file;
  if (auto err = write_synced_tmp(tmp, final_path, name, O_TRUNC))
    return err;
  // The one atomic step of an install: before it the old directory is
  // live, after it the new one.
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    auto code = errno;
    ::unlink(tmp.c_str());
    return make_error(errc::storage_failed, "cannot write " + final_path
                                              + " (rename): "
                                              + errno_text(code));
  }
  renamed = true;
  return sync_dir(path);
}

caf::error remove_other_kv_dirs(const std::string& path,
                                const std::string& live) {
  auto names = list_dir(path);
  if (!names)
    return names.error();
  bool removed = false;
  for (auto& n : *names) {
    if (n == live || !is_kv_dir_name(n))
      continue;
    removed = true;
    std::error_code ec;
    fs::remove_all(path + "/" + n, ec);
    if (ec)
      return make_error(errc::storage_failed,
                        "cannot remove the stale kv directory " + path + "/"
                          + n + ": " + ec.message());
  }
  if (::unlink((path + "/" + kv_current_tmp_file).c_str()) == 0)
    removed = true;
  return removed ? sync_dir(path) : caf::error{};
}

} // namespace detail

} // namespace raftd

#include "storage/file_output.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "messages/errors.hpp"

namespace raftd {

namespace {

caf::error failed(const std::string& what, const std::string& path, int err) {
  return make_error(errc::storage_failed,
                    what + " " + path + ": " + std::strerror(err));
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

file_output::~file_output() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!path_.empty() && !committed_)
    ::unlink((path_ + ".tmp").c_str());
}

caf::error file_output::open(const std::string& path) {
  path_ = path;
  auto tmp = path + ".tmp";
  fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    auto err = errno;
    path_.clear(); // nothing of ours to remove
    return failed("cannot create", tmp, err);
  }
  return {};
}

caf::error file_output::write(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return failed("cannot write", path_ + ".tmp", n < 0 ? errno : ENOSPC);
    bytes.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  return {};
}

caf::error file_output::commit() {
  auto tmp = path_ + ".tmp";
  if (::fsync(fd_) != 0)
    return failed("cannot sync", tmp, errno);
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp.c_str(), path_.c_str()) != 0)
    return failed("cannot rename to", path_, errno);
  committed_ = true;
  auto dir = dir_of(path_);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    auto err = errno;
    if (dfd >= 0)
      ::close(dfd);
    return failed("cannot sync directory", dir, err);
  }
  ::close(dfd);
  return {};
}

} // namespace raftd

#pragma once
// A file that appears whole or not at all: bytes go to PATH.tmp, and
// `commit` syncs it, renames it to PATH and syncs the directory. Dropped
// before `commit` (an error, a broken transfer), it removes PATH.tmp, so a
// failed save never leaves a file that looks whole. Used by `raftctl
// snapshot save`.

#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace raftd {

class file_output {
public:
  file_output() = default;
  file_output(const file_output&) = delete;
  file_output& operator=(const file_output&) = delete;
  ~file_output();

  /// Creates PATH.tmp (replacing a stale one). errc::storage_failed if it
  /// cannot.
  caf::error open(const std::string& path);

  /// Appends `bytes`; errc::storage_failed on a short write (disk full).
  caf::error write(std::string_view bytes);

  /// Makes the file durable under its final name.
  caf::error commit();

  /// Bytes written so far.
  uint64_t size() const { return size_; }

private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool committed_ = false;
};

} // namespace raftd

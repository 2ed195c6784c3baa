#pragma once
// Helpers shared by the storage test suites (tests/storage_*_test.cpp).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "messages/errors.hpp"
#include "messages/types.hpp"

namespace raftd::test {

/// A fresh directory under /tmp, removed with everything in it at the end
/// (permissions restored first, so a test may chmod it).
class temp_dir {
public:
  temp_dir() {
    char tmpl[] = "/tmp/raftd-storage-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(path_, ec))
      if (e.is_directory(ec))
        fs::permissions(e.path(), fs::perms::owner_all,
                        fs::perm_options::add, ec);
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const {
    return path_;
  }
  std::string sub(const std::string& name) const {
    return path_ + "/" + name;
  }

private:
  std::string path_;
};

/// The whole file at `path` ("" if unreadable).
inline std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Replaces the file at `path` with `data`.
inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << data;
}

inline log_entry entry(uint64_t index, uint64_t term,
                       entry_kind kind = entry_kind::put, std::string key = {},
                       std::string value = {}) {
  return log_entry{term, index, kind, std::move(key), std::move(value)};
}

inline log_entry put(uint64_t index, std::string key, std::string value,
                     uint64_t term = 1) {
  return entry(index, term, entry_kind::put, std::move(key), std::move(value));
}

inline log_entry del(uint64_t index, std::string key, uint64_t term = 1) {
  return entry(index, term, entry_kind::del, std::move(key));
}

/// Entries first..last, all in `term`, with keys and values that differ.
inline std::vector<log_entry> entries(uint64_t first, uint64_t last,
                                      uint64_t term = 1) {
  std::vector<log_entry> result;
  for (auto i = first; i <= last; ++i)
    result.push_back(entry(i, term, entry_kind::put, "k" + std::to_string(i),
                           std::string("v\0", 2) + std::to_string(i * term)));
  return result;
}

inline persist_batch append(std::vector<log_entry> es) {
  persist_batch b;
  b.entries = std::move(es);
  return b;
}

/// A string holding every byte value, NUL and 0xff included.
inline std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i)
    s.push_back(static_cast<char>(i));
  return s;
}

} // namespace raftd::test

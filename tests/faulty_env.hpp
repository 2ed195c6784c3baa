#pragma once
// A LevelDB Env whose write-ahead log files fail on demand, as a full or
// failing disk would (LevelDB's own db/fault_injection_test.cc does the
// same). Shared by the storage and actor tests.

#include <atomic>
#include <string>

#include <leveldb/env.h>

namespace raftd::test {

// -- a disk that fails on demand -------------------------------------------

/// How LevelDB's write-ahead log files (*.log) misbehave. Other files
/// (tables, MANIFEST) stay healthy, so background work does not interfere.
enum class fault {
  none,
  sync,        ///< Sync fails; the data reached the file (page cache).
  append,      ///< Append fails; nothing of it reaches the file.
  torn_append, ///< Append writes half its bytes, then fails (disk full).
};

struct fault_switch {
  std::atomic<fault> mode{fault::none};
  std::atomic<int> injected{0};
};

inline bool is_wal(const std::string& fname) {
  auto n = fname.size();
  return n >= 4 && fname.compare(n - 4, 4, ".log") == 0;
}

class faulty_file final : public leveldb::WritableFile {
public:
  faulty_file(leveldb::WritableFile* base, fault_switch& sw)
    : base_(base), sw_(sw) {
    // nop
  }

  leveldb::Status Append(const leveldb::Slice& data) override {
    switch (sw_.mode.load()) {
      case fault::append:
        return inject_fault("append");
      case fault::torn_append: {
        auto half = leveldb::Slice{data.data(), data.size() / 2};
        auto s = base_->Append(half);
        if (s.ok())
          s = base_->Flush(); // the torn bytes reach the file
        return s.ok() ? inject_fault("torn append") : s;
      }
      default:
        return base_->Append(data);
    }
  }

  leveldb::Status Close() override {
    return base_->Close();
  }

  leveldb::Status Flush() override {
    return base_->Flush();
  }

  leveldb::Status Sync() override {
    if (sw_.mode.load() == fault::sync) {
      // Like a real failed fsync: the bytes are in the file, durable or not.
      base_->Flush();
      return inject_fault("sync");
    }
    return base_->Sync();
  }

private:
  leveldb::Status inject_fault(const char* what) {
    ++sw_.injected;
    return leveldb::Status::IOError("injected fault", what);
  }

  std::unique_ptr<leveldb::WritableFile> base_;
  fault_switch& sw_;
};

/// A leveldb::Env whose write-ahead log files fail when told to.
class faulty_env final : public leveldb::EnvWrapper {
public:
  faulty_env() : leveldb::EnvWrapper(leveldb::Env::Default()) {
    // nop
  }

  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override {
    return wrap(fname, target()->NewWritableFile(fname, result), result);
  }

  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override {
    return wrap(fname, target()->NewAppendableFile(fname, result), result);
  }

  fault_switch sw;

private:
  leveldb::Status wrap(const std::string& fname, leveldb::Status s,
                       leveldb::WritableFile** result) {
    if (s.ok() && is_wal(fname))
      *result = new faulty_file(*result, sw);
    return s;
  }
};

} // namespace raftd::test

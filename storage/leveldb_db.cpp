#include "storage/leveldb_db.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include <leveldb/env.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/leveldb_error.hpp"

namespace raftd::detail {

namespace {

/// Databases this process has open, by absolute normalized path.
struct open_registry {
  std::mutex mtx;
  std::set<std::string> paths;
};

open_registry& registry() {
  static open_registry instance;
  return instance;
}

std::string registry_key(const std::string& dir) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(dir, ec);
  if (ec)
    p = std::filesystem::absolute(dir, ec).lexically_normal();
  return p.string();
}

bool register_path(const std::string& key) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  return r.paths.insert(key).second;
}

void unregister_path(const std::string& key) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  r.paths.erase(key);
}

// -- directory sync for new write-ahead log files -----------------------------

leveldb::Status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return leveldb::Status::IOError(dir, std::strerror(errno));
  auto rc = ::fsync(fd);
  auto code = errno;
  ::close(fd);
  if (rc != 0)
    return leveldb::Status::IOError(dir, std::strerror(code));
  return leveldb::Status::OK();
}

/// A write-ahead log file whose first Sync() also syncs its directory.
class dir_syncing_file final : public leveldb::WritableFile {
public:
  dir_syncing_file(leveldb::WritableFile* base, std::string dir)
    : base_(base), dir_(std::move(dir)) {
    // nop
  }

  leveldb::Status Append(const leveldb::Slice& data) override {
    return base_->Append(data);
  }

  leveldb::Status Close() override {
    return base_->Close();
  }

  leveldb::Status Flush() override {
    return base_->Flush();
  }

  leveldb::Status Sync() override {
    if (!dir_synced_) {
      auto s = sync_directory(dir_);
      if (!s.ok())
        return s;
      dir_synced_ = true;
    }
    return base_->Sync();
  }

private:
  std::unique_ptr<leveldb::WritableFile> base_;
  std::string dir_;
  bool dir_synced_ = false;
};

class dir_syncing_env final : public leveldb::EnvWrapper {
public:
  using leveldb::EnvWrapper::EnvWrapper;

  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override {
    return wrap(fname, target()->NewWritableFile(fname, result), result);
  }

  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override {
    return wrap(fname, target()->NewAppendableFile(fname, result), result);
  }

private:
  static leveldb::Status wrap(const std::string& fname, leveldb::Status s,
                              leveldb::WritableFile** result) {
    std::filesystem::path p{fname};
    if (s.ok() && p.extension() == ".log")
      *result = new dir_syncing_file(*result, p.parent_path().string());
    return s;
  }
};

// -- opening ------------------------------------------------------------------

/// Checks the 'v' key, or stamps it into an empty database.
caf::error check_or_stamp_version(leveldb::DB& db, const std::string& what) {
  std::string value;
  auto s = db.Get(checked_reads(), codec::format_version_key(), &value);
  if (s.ok()) {
    if (auto err = codec::check_format_version(value))
      return make_error(errc::corrupt_data, what + ": " + context_of(err));
    return {};
  }
  if (!s.IsNotFound())
    return leveldb_error(s, "read format version of " + what);
  std::unique_ptr<leveldb::Iterator> it{db.NewIterator(checked_reads())};
  it->SeekToFirst();
  if (it->Valid())
    return make_error(errc::corrupt_data,
                      what + ": holds data but no format version");
  if (!it->status().ok())
    return leveldb_error(it->status(), "scan " + what);
  leveldb::WriteOptions wo;
  wo.sync = true;
  s = db.Put(wo, codec::format_version_key(), codec::encode_format_version());
  return leveldb_error(s, "stamp format version into " + what);
}

} // namespace

leveldb::ReadOptions checked_reads() {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  return ro;
}

void db_closer::operator()(leveldb::DB* db) const {
  delete db;
  unregister_path(registered_path);
}

caf::expected<db_ptr> open_db(const std::string& dir, bool create,
                              leveldb::Env* env, const std::string& what,
                              size_t write_buffer_size) {
  auto full_what = what + " " + dir;
  if (env == nullptr)
    env = leveldb::Env::Default();
  if (!create && !env->FileExists(dir + "/CURRENT"))
    return make_error(errc::corrupt_data, "missing " + full_what);
  auto key = registry_key(dir);
  if (!register_path(key))
    return make_error(errc::storage_failed,
                      full_what + ": already open in this process");
  auto wrapped = std::make_shared<dir_syncing_env>(env);
  leveldb::Options opts;
  opts.create_if_missing = create;
  opts.paranoid_checks = true;
  opts.env = wrapped.get();
  if (write_buffer_size != 0)
    opts.write_buffer_size = write_buffer_size;
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(opts, dir, &raw);
  if (!s.ok()) {
    unregister_path(key);
    return leveldb_error(s, "open " + full_what);
  }
  db_ptr db{raw, db_closer{key, std::move(wrapped)}};
  if (auto err = check_or_stamp_version(*db, full_what))
    return err;
  return db;
}

} // namespace raftd::detail

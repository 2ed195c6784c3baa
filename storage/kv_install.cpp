// Installing a snapshot into DATA/kv.N beside the live kv directory
// (storage/data_dir.hpp): chunks go in unsynced, each with the progress
// record 'i' (storage/codec.hpp); finish writes the meta in one synced
// batch, then switches DATA/kv-current to kv.N.

#include <filesystem>

#include <leveldb/write_batch.h>

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/data_dir.hpp"
#include "storage/kv_dirs.hpp"
#include "storage/leveldb_db.hpp"
#include "storage/leveldb_error.hpp"
#include "storage/leveldb_kv.hpp"
#include "storage/snapshot_checks.hpp"

namespace raftd {

namespace {

class leveldb_kv_install final : public kv_install {
public:
  leveldb_kv_install(std::string path, std::string old_name,
                     std::string new_name, std::shared_ptr<leveldb::DB> db,
                     snapshot_meta meta)
    : path_(std::move(path)), old_name_(std::move(old_name)),
      new_name_(std::move(new_name)), db_(std::move(db)),
      meta_(std::move(meta)) {
    // nop
  }

  ~leveldb_kv_install() override {
    if (switched_)
      return;
    db_.reset(); // close before removing
    std::error_code ec;
    std::filesystem::remove_all(new_dir(), ec); // else: the next open does
  }

  const snapshot_meta& meta() const override {
    return meta_;
  }

  const snapshot_digest& digest() const override {
    return digest_;
  }

  caf::error write(const std::vector<std::string>& keys,
                   const std::vector<std::string>& values) override {
    if (auto err = usable())
      return err;
    if (auto err = detail::check_chunk(keys, values, last_key_,
                                       digest_.count() > 0))
      return err;
    if (keys.empty())
      return {};
    auto digest = digest_;
    leveldb::WriteBatch batch;
    for (size_t i = 0; i < keys.size(); ++i) {
      batch.Put(codec::kv_key(keys[i]), values[i]);
      digest.add(keys[i], values[i]);
    }
    batch.Put(codec::install_progress_key(),
              codec::encode_install_progress(
                {digest.count(), digest.value(), keys.back()}));
    // Not synced: finish's synced batch makes all of it durable at once.
    auto s = db_->Write(leveldb::WriteOptions{}, &batch);
    if (!s.ok()) {
      failed_ = leveldb_error(s, "write to kv database " + new_dir());
      return failed_;
    }
    digest_ = digest;
    last_key_ = keys.back();
    return {};
  }

  caf::expected<std::unique_ptr<kv_store>>
  finish(uint64_t count, uint64_t checksum) override {
    if (auto err = usable())
      return err;
    if (auto err = detail::check_totals(digest_, count, checksum)) {
      failed_ = err;
      return err;
    }
    leveldb::WriteBatch batch;
    batch.Put(codec::applied_index_key(),
              codec::encode_applied_index(meta_.index));
    batch.Put(codec::snapshot_meta_key(), codec::encode_snapshot_meta(meta_));
    batch.Delete(codec::install_progress_key());
    leveldb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) {
      failed_ = leveldb_error(s, "finish kv database " + new_dir());
      return failed_;
    }
    bool renamed = false;
    auto err = detail::switch_live_kv(path_, new_name_, renamed);
    // Once renamed, a restart may find the new directory live: keep it.
    switched_ = renamed;
    if (err) {
      failed_ = err;
      return err;
    }
    return detail::make_leveldb_kv_store(db_, new_dir());
  }

  void discard_old() override {
    if (!switched_ || failed_)
      return;
    std::error_code ec;
    std::filesystem::remove_all(path_ + "/" + old_name_, ec);
    // On failure the next open_data_dir removes it.
  }

private:
  std::string new_dir() const {
    return path_ + "/" + new_name_;
  }

  caf::error usable() const {
    if (failed_)
      return failed_; // void: the caller starts over
    if (switched_)
      return make_error(errc::internal,
                        "kv install into " + new_dir() + " already finished");
    return {};
  }

  std::string path_;
  /// The kv directory live before the install, and the install's own.
  std::string old_name_;
  std::string new_name_;
  std::shared_ptr<leveldb::DB> db_;
  snapshot_meta meta_;
  snapshot_digest digest_;
  std::string last_key_;
  /// Set once kv-current names new_name_: the directory is no longer ours
  /// to remove.
  bool switched_ = false;
  /// The first error (a failed write, wrong totals): the install is void.
  caf::error failed_;
};

} // namespace

caf::expected<std::unique_ptr<kv_install>>
begin_kv_install(const std::string& path, snapshot_meta meta) {
  if (meta.config_index > meta.index)
    return make_error(errc::bad_request,
                      "snapshot meta: configuration index "
                        + std::to_string(meta.config_index)
                        + " past the snapshot index "
                        + std::to_string(meta.index));
  auto old_name = detail::live_kv_name(path);
  if (!old_name)
    return old_name.error();
  auto new_name = detail::next_kv_name(path);
  if (!new_name)
    return new_name.error();
  auto db = detail::open_db(path + "/" + *new_name, true, nullptr,
                            "kv database",
                            detail::install_write_buffer_bytes);
  if (!db)
    return db.error();
  return std::unique_ptr<kv_install>{std::make_unique<leveldb_kv_install>(
    path, std::move(*old_name), std::move(*new_name),
    std::shared_ptr<leveldb::DB>{std::move(*db)}, std::move(meta))};
}

} // namespace raftd

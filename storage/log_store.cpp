#include "storage/log_store.hpp"

#include <leveldb/write_batch.h>

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/leveldb_db.hpp"
#include "storage/leveldb_error.hpp"

namespace raftd {

namespace {

/// Checks `b` against a log ending at `last`; returns the new last index.
caf::expected<uint64_t> check_batch(const persist_batch& b, uint64_t last) {
  auto base = last;
  if (b.truncate_from != 0 && b.truncate_from <= last)
    base = b.truncate_from - 1;
  for (size_t i = 0; i < b.entries.size(); ++i) {
    auto want = base + 1 + i;
    if (b.entries[i].index != want)
      return make_error(errc::internal,
                        "log write: entry " + std::to_string(i) + " has index "
                          + std::to_string(b.entries[i].index) + ", expected "
                          + std::to_string(want) + " (log ends at "
                          + std::to_string(base) + " after truncation)");
  }
  return b.entries.empty() ? base : b.entries.back().index;
}

bool nothing_to_do(const persist_batch& b, uint64_t last) {
  return !b.has_state && b.entries.empty()
         && (b.truncate_from == 0 || b.truncate_from > last);
}

caf::error failed_before(const caf::error& first) {
  return make_error(errc::storage_failed,
                    "log store failed earlier, reopen it to continue: "
                      + context_of(first));
}

// -- LevelDB ------------------------------------------------------------------

class leveldb_log_store final : public log_store {
public:
  leveldb_log_store(detail::db_ptr db, std::string dir)
    : db_(std::move(db)), dir_(std::move(dir)) {
    // nop
  }

  /// Finds the last index with one reverse seek: keys sort by index.
  caf::error init() {
    auto checked = detail::checked_reads();
    std::unique_ptr<leveldb::Iterator> it{db_->NewIterator(checked)};
    it->Seek(codec::log_key_end());
    if (it->Valid())
      it->Prev();
    else
      it->SeekToLast();
    if (it->Valid() && codec::is_log_key(to_view(it->key()))) {
      auto index = codec::decode_log_key(to_view(it->key()));
      if (!index)
        return context(index.error());
      last_ = *index;
    }
    return leveldb_error(it->status(), "scan log database " + dir_);
  }

  caf::error load(hard_state& hs, std::vector<log_entry>& entries) override {
    hs = hard_state{};
    entries.clear();
    if (auto err = load_state(hs))
      return err;
    if (auto err = load_entries(entries))
      return err;
    last_ = entries.size();
    return {};
  }

  caf::error write(const persist_batch& b) override {
    if (failed_)
      return failed_before(failed_);
    auto new_last = check_batch(b, last_);
    if (!new_last)
      return new_last.error();
    if (nothing_to_do(b, last_))
      return {};
    leveldb::WriteBatch batch;
    if (b.has_state)
      batch.Put(codec::hard_state_key(), codec::encode_hard_state(b.state));
    // Only [truncate_from, last_] can exist: no scan of the database needed.
    if (b.truncate_from != 0)
      for (auto i = b.truncate_from; i <= last_; ++i)
        batch.Delete(codec::log_key(i));
    for (auto& e : b.entries)
      batch.Put(codec::log_key(e.index), codec::encode_log_entry(e));
    leveldb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) {
      failed_ = leveldb_error(s, "write to log database " + dir_);
      return failed_;
    }
    last_ = *new_last;
    return {};
  }

  uint64_t last_index() const override {
    return last_;
  }

private:
  static std::string_view to_view(const leveldb::Slice& s) {
    return {s.data(), s.size()};
  }

  caf::error context(const caf::error& err) const {
    return make_error(errc::corrupt_data,
                      "log database " + dir_ + ": " + context_of(err));
  }

  caf::error load_state(hard_state& hs) {
    std::string value;
    auto s = db_->Get(detail::checked_reads(), codec::hard_state_key(), &value);
    if (s.IsNotFound())
      return {};
    if (!s.ok())
      return leveldb_error(s, "read hard state from log database " + dir_);
    auto decoded = codec::decode_hard_state(value);
    if (!decoded)
      return context(decoded.error());
    hs = std::move(*decoded);
    return {};
  }

  caf::error load_entries(std::vector<log_entry>& entries) {
    auto checked = detail::checked_reads();
    std::unique_ptr<leveldb::Iterator> it{db_->NewIterator(checked)};
    for (it->Seek(codec::log_key(0));
         it->Valid() && codec::is_log_key(to_view(it->key())); it->Next()) {
      auto index = codec::decode_log_key(to_view(it->key()));
      if (!index)
        return context(index.error());
      if (*index != entries.size() + 1)
        return make_error(errc::corrupt_data,
                          "log database " + dir_ + ": expected entry "
                            + std::to_string(entries.size() + 1) + ", found "
                            + std::to_string(*index));
      auto e = codec::decode_log_entry(*index, to_view(it->value()));
      if (!e)
        return context(e.error());
      entries.push_back(std::move(*e));
    }
    return leveldb_error(it->status(), "read log database " + dir_);
  }

  detail::db_ptr db_;
  std::string dir_;
  /// Index of the last entry in the database. Moves only after a write
  /// succeeded.
  uint64_t last_ = 0;
  /// The error of the first failed write; while set, writes are refused.
  caf::error failed_;
};

// -- memory -------------------------------------------------------------------

class memory_log_store final : public log_store {
public:
  explicit memory_log_store(std::shared_ptr<memory_log_disk> disk)
    : disk_(std::move(disk)) {
    // nop
  }

  caf::error load(hard_state& hs, std::vector<log_entry>& entries) override {
    hs = disk_->state;
    entries = disk_->entries;
    for (size_t i = 0; i < entries.size(); ++i)
      if (entries[i].index != i + 1)
        return make_error(errc::corrupt_data,
                          "memory log: expected entry " + std::to_string(i + 1)
                            + ", found " + std::to_string(entries[i].index));
    return {};
  }

  caf::error write(const persist_batch& b) override {
    if (failed_)
      return failed_before(failed_);
    auto new_last = check_batch(b, last_index());
    if (!new_last)
      return new_last.error();
    if (nothing_to_do(b, last_index()))
      return {};
    if (disk_->fail_writes) {
      failed_ = make_error(errc::storage_failed, "memory log: injected fault");
      return failed_;
    }
    if (b.has_state)
      disk_->state = b.state;
    if (b.truncate_from != 0 && b.truncate_from <= last_index())
      disk_->entries.resize(b.truncate_from - 1);
    disk_->entries.insert(disk_->entries.end(), b.entries.begin(),
                          b.entries.end());
    return {};
  }

  uint64_t last_index() const override {
    return disk_->entries.size();
  }

private:
  std::shared_ptr<memory_log_disk> disk_;
  caf::error failed_;
};

} // namespace

log_store::~log_store() {
  // nop
}

caf::expected<std::unique_ptr<log_store>>
open_leveldb_log_store(const std::string& dir, bool create,
                       leveldb::Env* env) {
  auto db = detail::open_db(dir, create, env, "log database");
  if (!db)
    return db.error();
  auto store = std::make_unique<leveldb_log_store>(std::move(*db), dir);
  if (auto err = store->init())
    return err;
  return std::unique_ptr<log_store>{std::move(store)};
}

std::unique_ptr<log_store> make_memory_log_store() {
  return make_memory_log_store(std::make_shared<memory_log_disk>());
}

std::unique_ptr<log_store>
make_memory_log_store(std::shared_ptr<memory_log_disk> disk) {
  return std::make_unique<memory_log_store>(std::move(disk));
}

} // namespace raftd

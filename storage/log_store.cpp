#include "storage/log_store.hpp"

#include <algorithm>

#include <leveldb/write_batch.h>

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/leveldb_db.hpp"
#include "storage/leveldb_error.hpp"

namespace raftd {

namespace {

/// The log after a batch: where it ends and its prefix.
struct batch_outcome {
  uint64_t last = 0;
  uint64_t prefix = 0;
};

/// Checks `b` against a log ending at `last` after the prefix `prefix`.
caf::expected<batch_outcome> check_batch(const persist_batch& b, uint64_t last,
                                         uint64_t prefix) {
  batch_outcome out{last, prefix};
  if (b.compact_to > prefix) {
    out.prefix = b.compact_to;
    // Past the end (a snapshot from a leader): the log restarts after it.
    out.last = std::max(last, b.compact_to);
  }
  if (b.truncate_from != 0 && b.truncate_from <= out.prefix)
    return make_error(errc::internal,
                      "log write: truncation from "
                        + std::to_string(b.truncate_from)
                        + " reaches into the compacted prefix (up to "
                        + std::to_string(out.prefix) + ")");
  if (b.truncate_from != 0 && b.truncate_from <= out.last)
    out.last = b.truncate_from - 1;
  for (size_t i = 0; i < b.entries.size(); ++i) {
    auto want = out.last + 1 + i;
    if (b.entries[i].index != want)
      return make_error(errc::internal,
                        "log write: entry " + std::to_string(i) + " has index "
                          + std::to_string(b.entries[i].index) + ", expected "
                          + std::to_string(want) + " (log ends at "
                          + std::to_string(out.last) + " after truncation)");
  }
  if (!b.entries.empty())
    out.last = b.entries.back().index;
  return out;
}

bool nothing_to_do(const persist_batch& b, uint64_t last, uint64_t prefix) {
  return !b.has_state && b.entries.empty() && b.compact_to <= prefix
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

  /// Reads the prefix, then finds the last index with one reverse seek and
  /// the first entry still held with one forward seek: keys sort by index.
  caf::error init() {
    codec::compacted_prefix p;
    if (auto err = load_prefix(p))
      return err;
    prefix_ = p.index;
    prefix_term_ = p.term;
    auto checked = detail::checked_reads();
    std::unique_ptr<leveldb::Iterator> it{db_->NewIterator(checked)};
    it->Seek(codec::log_key_end());
    if (it->Valid())
      it->Prev();
    else
      it->SeekToLast();
    uint64_t last_entry = 0;
    if (it->Valid() && codec::is_log_key(to_view(it->key()))) {
      auto index = codec::decode_log_key(to_view(it->key()));
      if (!index)
        return context(index.error());
      last_entry = *index;
    }
    last_ = std::max(last_entry, prefix_);
    it->Seek(codec::log_key(0));
    dead_from_ = prefix_ + 1;
    dead_to_ = std::min(prefix_, last_entry);
    if (it->Valid() && codec::is_log_key(to_view(it->key()))) {
      auto index = codec::decode_log_key(to_view(it->key()));
      if (!index)
        return context(index.error());
      dead_from_ = *index;
    }
    return leveldb_error(it->status(), "scan log database " + dir_);
  }

  caf::error load(durable_log& out) override {
    out = durable_log{};
    if (auto err = load_state(out.state))
      return err;
    codec::compacted_prefix p;
    if (auto err = load_prefix(p))
      return err;
    out.prefix_index = p.index;
    out.prefix_term = p.term;
    if (auto err = load_entries(p.index, out.entries))
      return err;
    prefix_ = p.index;
    prefix_term_ = p.term;
    last_ = p.index + out.entries.size();
    return {};
  }

  caf::error write(const persist_batch& b) override {
    if (failed_)
      return failed_before(failed_);
    auto outcome = check_batch(b, last_, prefix_);
    if (!outcome)
      return outcome.error();
    if (nothing_to_do(b, last_, prefix_))
      return {};
    leveldb::WriteBatch batch;
    if (b.has_state)
      batch.Put(codec::hard_state_key(), codec::encode_hard_state(b.state));
    auto compacting = b.compact_to > prefix_;
    if (compacting)
      batch.Put(codec::log_prefix_key(),
                codec::encode_log_prefix({b.compact_to, b.compact_term}));
    // Only [truncate_from, last_] can exist: no scan of the database needed.
    // (check_batch made sure it lies past the new prefix.)
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
    if (compacting) {
      // Entries that may exist and are now dead: from the first one held
      // (or, if the trim had caught up, the first live one) up to the new
      // prefix or the end of the old log, whichever comes first.
      if (dead_from_ > dead_to_)
        dead_from_ = prefix_ + 1;
      dead_to_ = std::min(b.compact_to, last_);
      prefix_ = b.compact_to;
      prefix_term_ = b.compact_term;
    }
    last_ = outcome->last;
    return {};
  }

  caf::expected<bool> trim(size_t max_entries) override {
    if (failed_)
      return failed_before(failed_);
    if (dead_from_ > dead_to_ || max_entries == 0)
      return dead_from_ <= dead_to_;
    auto to = std::min(dead_to_, dead_from_ + (max_entries - 1));
    leveldb::WriteBatch batch;
    for (auto i = dead_from_; i <= to; ++i)
      batch.Delete(codec::log_key(i));
    // Not synced: a delete lost in a crash is found again at open.
    auto s = db_->Write(leveldb::WriteOptions{}, &batch);
    if (!s.ok()) {
      failed_ = leveldb_error(s, "trim log database " + dir_);
      return failed_;
    }
    dead_from_ = to + 1;
    return dead_from_ <= dead_to_;
  }

  uint64_t last_index() const override {
    return last_;
  }

  uint64_t prefix_index() const override {
    return prefix_;
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

  caf::error load_prefix(codec::compacted_prefix& p) {
    std::string value;
    auto s = db_->Get(detail::checked_reads(), codec::log_prefix_key(),
                      &value);
    if (s.IsNotFound())
      return {};
    if (!s.ok())
      return leveldb_error(s, "read prefix from log database " + dir_);
    auto decoded = codec::decode_log_prefix(value);
    if (!decoded)
      return context(decoded.error());
    p = *decoded;
    return {};
  }

  /// Reads the entries after `prefix`; dead ones below it are not read.
  caf::error load_entries(uint64_t prefix, std::vector<log_entry>& entries) {
    auto checked = detail::checked_reads();
    std::unique_ptr<leveldb::Iterator> it{db_->NewIterator(checked)};
    for (it->Seek(codec::log_key(prefix + 1));
         it->Valid() && codec::is_log_key(to_view(it->key())); it->Next()) {
      auto index = codec::decode_log_key(to_view(it->key()));
      if (!index)
        return context(index.error());
      auto want = prefix + entries.size() + 1;
      if (*index != want)
        return make_error(errc::corrupt_data,
                          "log database " + dir_ + ": expected entry "
                            + std::to_string(want) + ", found "
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
  /// Index of the last entry in the database, or the prefix if that is
  /// higher. Moves only after a write succeeded.
  uint64_t last_ = 0;
  /// The compacted prefix as stored. Only grows.
  uint64_t prefix_ = 0;
  uint64_t prefix_term_ = 0;
  /// Dead entries (at or below the prefix) that may still be in the
  /// database: [dead_from_, dead_to_], empty if dead_from_ > dead_to_. Kept
  /// so trim() deletes by key without a scan. After a snapshot installed
  /// past the end, indexes between two prefixes may be in the range without
  /// existing; deleting them is harmless.
  uint64_t dead_from_ = 1;
  uint64_t dead_to_ = 0;
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

  caf::error load(durable_log& out) override {
    out.state = disk_->state;
    out.prefix_index = disk_->prefix_index;
    out.prefix_term = disk_->prefix_term;
    out.entries = disk_->entries;
    for (size_t i = 0; i < out.entries.size(); ++i) {
      auto want = disk_->prefix_index + 1 + i;
      if (out.entries[i].index != want)
        return make_error(errc::corrupt_data,
                          "memory log: expected entry " + std::to_string(want)
                            + ", found "
                            + std::to_string(out.entries[i].index));
    }
    return {};
  }

  caf::error write(const persist_batch& b) override {
    if (failed_)
      return failed_before(failed_);
    auto outcome = check_batch(b, last_index(), prefix_index());
    if (!outcome)
      return outcome.error();
    if (nothing_to_do(b, last_index(), prefix_index()))
      return {};
    if (disk_->fail_writes) {
      failed_ = make_error(errc::storage_failed, "memory log: injected fault");
      return failed_;
    }
    auto& es = disk_->entries;
    if (b.has_state)
      disk_->state = b.state;
    if (b.compact_to > disk_->prefix_index) {
      // Dead entries go at once: nothing is gained by keeping them.
      auto dead = std::min<uint64_t>(b.compact_to - disk_->prefix_index,
                                     es.size());
      es.erase(es.begin(), es.begin() + static_cast<ptrdiff_t>(dead));
      disk_->prefix_index = b.compact_to;
      disk_->prefix_term = b.compact_term;
    }
    if (b.truncate_from != 0 && b.truncate_from <= last_index())
      es.resize(b.truncate_from - 1 - disk_->prefix_index);
    es.insert(es.end(), b.entries.begin(), b.entries.end());
    return {};
  }

  caf::expected<bool> trim(size_t) override {
    return false; // write() drops dead entries at once
  }

  uint64_t last_index() const override {
    return disk_->prefix_index + disk_->entries.size();
  }

  uint64_t prefix_index() const override {
    return disk_->prefix_index;
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

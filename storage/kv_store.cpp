#include "storage/kv_store.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>

#include <leveldb/write_batch.h>

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/leveldb_db.hpp"
#include "storage/leveldb_error.hpp"
#include "storage/leveldb_kv.hpp"
#include "storage/snapshot_checks.hpp"

namespace raftd {

namespace {

/// Tells whether a key exists in the store as it was before the batch.
using exists_fn = std::function<caf::expected<bool>(const std::string&)>;

/// What one apply() call does, worked out before anything is written.
struct apply_plan {
  /// Position in the input of the first entry not yet applied.
  size_t first_new = 0;
  apply_result result;
};

caf::error check_entries(const std::vector<log_entry>& es, uint64_t applied) {
  for (size_t i = 0; i < es.size(); ++i) {
    if (es[i].index == 0 || es[i].index != es[0].index + i)
      return make_error(errc::internal,
                        "kv apply: entries not contiguous at position "
                          + std::to_string(i) + " (index "
                          + std::to_string(es[i].index) + ")");
    if (es[i].kind > entry_kind::config)
      return make_error(errc::internal,
                        "kv apply: entry " + std::to_string(es[i].index)
                          + " has unknown kind "
                          + std::to_string(static_cast<int>(es[i].kind)));
  }
  if (!es.empty() && es[0].index > applied + 1)
    return make_error(errc::internal,
                      "kv apply: gap, applied index is "
                        + std::to_string(applied) + ", next entry is "
                        + std::to_string(es[0].index));
  return {};
}

/// Validates the batch and computes `found` for every delete, following the
/// batch's own effects so a later delete sees an earlier put or delete. Puts
/// look nothing up: no answer uses their `found`, and a lookup per put (a
/// LevelDB Get through the memtable and the tables) was the largest single
/// cost of applying writes.
caf::expected<apply_plan> plan_apply(const std::vector<log_entry>& es,
                                     uint64_t applied,
                                     const exists_fn& exists) {
  if (auto err = check_entries(es, applied))
    return err;
  apply_plan plan;
  plan.result.applied_index = applied;
  plan.result.found.assign(es.size(), 0);
  while (plan.first_new < es.size() && es[plan.first_new].index <= applied)
    ++plan.first_new;
  if (plan.first_new < es.size())
    plan.result.applied_index = es.back().index;
  auto is_del = [](const log_entry& e) { return e.kind == entry_kind::del; };
  auto first_del = std::find_if(es.begin() + plan.first_new, es.end(), is_del);
  if (first_del == es.end())
    return plan; // only puts (and noops): nothing to look up
  std::unordered_map<std::string, bool> present; // keys the batch touched
  for (auto i = plan.first_new; i < es.size(); ++i) {
    auto& e = es[i];
    if (e.kind != entry_kind::put && e.kind != entry_kind::del)
      continue;
    if (e.kind == entry_kind::put) {
      present[e.key] = true;
      continue;
    }
    auto known = present.find(e.key);
    if (known != present.end()) {
      plan.result.found[i] = known->second;
    } else {
      auto before = exists(e.key);
      if (!before)
        return before.error();
      plan.result.found[i] = *before;
    }
    present[e.key] = false;
  }
  return plan;
}

/// The meta after applying entries[first_new..] of a checked batch: the
/// last entry's index and term, and the latest config entry among them.
snapshot_meta advance_meta(snapshot_meta m, const std::vector<log_entry>& es,
                           size_t first_new) {
  if (first_new >= es.size())
    return m;
  for (auto i = first_new; i < es.size(); ++i)
    if (es[i].kind == entry_kind::config) {
      m.config_index = es[i].index;
      m.config = es[i].value;
    }
  m.index = es.back().index;
  m.term = es.back().term;
  return m;
}

caf::error failed_before(const caf::error& first) {
  return make_error(errc::storage_failed,
                    "kv store failed earlier, reopen it to continue: "
                      + context_of(first));
}

// -- LevelDB ------------------------------------------------------------------

std::string_view to_view(const leveldb::Slice& s) {
  return {s.data(), s.size()};
}

/// Reads 'a' and 'm' (at `ro`'s snapshot, if it has one). A database
/// without 'a' is empty: 0. One with 'a' but no 'm' was written by a raftd
/// before snapshots: term 0, no configuration.
caf::expected<snapshot_meta> read_meta(leveldb::DB& db,
                                       const leveldb::ReadOptions& ro,
                                       const std::string& dir) {
  auto corrupt = [&](const caf::error& err) {
    return make_error(errc::corrupt_data,
                      "kv database " + dir + ": " + context_of(err));
  };
  snapshot_meta m;
  std::string value;
  auto s = db.Get(ro, codec::applied_index_key(), &value);
  if (s.IsNotFound())
    return m;
  if (!s.ok())
    return leveldb_error(s, "read applied index from kv database " + dir);
  auto index = codec::decode_applied_index(value);
  if (!index)
    return corrupt(index.error());
  m.index = *index;
  s = db.Get(ro, codec::snapshot_meta_key(), &value);
  if (s.IsNotFound())
    return m;
  if (!s.ok())
    return leveldb_error(s, "read snapshot meta from kv database " + dir);
  auto decoded = codec::decode_snapshot_meta(m.index, value);
  if (!decoded)
    return corrupt(decoded.error());
  return std::move(*decoded);
}

/// A LevelDB snapshot of the kv database and an iterator over its 'k'
/// keys. Holds the database: it outlives the store that made it.
class leveldb_snapshot_reader final : public snapshot_reader {
public:
  leveldb_snapshot_reader(std::shared_ptr<leveldb::DB> db,
                          const leveldb::Snapshot* snap, snapshot_meta meta,
                          std::string dir)
    : db_(std::move(db)), snap_(snap), meta_(std::move(meta)),
      dir_(std::move(dir)) {
    auto ro = detail::checked_reads();
    ro.snapshot = snap_;
    ro.fill_cache = false; // one pass over everything: keep the hot blocks
    it_.reset(db_->NewIterator(ro));
    seek_after({}, true);
  }

  ~leveldb_snapshot_reader() override {
    it_.reset(); // before the snapshot it reads
    db_->ReleaseSnapshot(snap_);
  }

  const snapshot_meta& meta() const override {
    return meta_;
  }

  void seek_after(const std::string& key, bool from_start) override {
    if (from_start) {
      it_->Seek(codec::kv_key({}));
      return;
    }
    auto k = codec::kv_key(key);
    it_->Seek(k);
    if (it_->Valid() && it_->key() == k)
      it_->Next();
  }

  caf::expected<bool> read(size_t max_bytes, std::vector<std::string>& keys,
                           std::vector<std::string>& values) override {
    size_t bytes = 0;
    while (at_pair() && (bytes < max_bytes || bytes == 0)) {
      auto key = to_view(it_->key());
      key.remove_prefix(1);
      auto value = to_view(it_->value());
      bytes += key.size() + value.size();
      keys.emplace_back(key);
      values.emplace_back(value);
      it_->Next();
      // An empty pair adds no bytes; count it so the loop ends.
      bytes += key.empty() && value.empty() ? 1 : 0;
    }
    if (!it_->status().ok())
      return leveldb_error(it_->status(), "read snapshot of kv database "
                                            + dir_);
    return !at_pair();
  }

private:
  bool at_pair() const {
    return it_->Valid() && it_->key().starts_with(codec::kv_key({}));
  }

  std::shared_ptr<leveldb::DB> db_;
  const leveldb::Snapshot* snap_;
  snapshot_meta meta_;
  std::string dir_;
  std::unique_ptr<leveldb::Iterator> it_;
};

class leveldb_kv_store final : public kv_store {
public:
  leveldb_kv_store(std::shared_ptr<leveldb::DB> db, std::string dir)
    : db_(std::move(db)), dir_(std::move(dir)) {
    // nop
  }

  caf::error init() {
    auto m = read_meta(*db_, detail::checked_reads(), dir_);
    if (!m)
      return m.error();
    meta_ = std::move(*m);
    durable_ = meta_; // whatever a reopen finds is on disk
    return {};
  }

  uint64_t applied_index() const override {
    return meta_.index;
  }

  caf::expected<std::optional<std::string>>
  get(const std::string& key) override {
    std::string value;
    auto s = db_->Get(detail::checked_reads(), codec::kv_key(key), &value);
    if (s.IsNotFound())
      return std::optional<std::string>{};
    if (!s.ok())
      return leveldb_error(s, "read from kv database " + dir_);
    return std::optional<std::string>{std::move(value)};
  }

  caf::expected<apply_result>
  apply(const std::vector<log_entry>& entries) override {
    if (failed_)
      return failed_before(failed_);
    auto exists = [this](const std::string& key) -> caf::expected<bool> {
      auto value = get(key);
      if (!value)
        return value.error();
      return value->has_value();
    };
    auto plan = plan_apply(entries, meta_.index, exists);
    if (!plan)
      return plan.error();
    plan->result.durable = durable_;
    if (plan->result.applied_index == meta_.index)
      return std::move(plan->result);
    auto meta = advance_meta(meta_, entries, plan->first_new);
    leveldb::WriteBatch batch;
    for (auto i = plan->first_new; i < entries.size(); ++i) {
      auto& e = entries[i];
      if (e.kind == entry_kind::put)
        batch.Put(codec::kv_key(e.key), e.value);
      else if (e.kind == entry_kind::del)
        batch.Delete(codec::kv_key(e.key));
    }
    // The store is its own snapshot: its meta goes in the same batch.
    batch.Put(codec::applied_index_key(),
              codec::encode_applied_index(meta.index));
    // 'm' holds the term and the configuration (the index is in 'a'), so
    // it is rewritten only when they change (a new leader's entries, a
    // configuration entry). Written with every batch it doubled the kv
    // log's bytes per write at one connection, and with them LevelDB's
    // flushes and compactions (bench/RESULTS.md, compaction, w1).
    if (meta.term != meta_.term || meta.config_index != meta_.config_index)
      batch.Put(codec::snapshot_meta_key(), codec::encode_snapshot_meta(meta));
    // Not synced: see the header.
    auto s = db_->Write(leveldb::WriteOptions{}, &batch);
    if (!s.ok()) {
      failed_ = leveldb_error(s, "write to kv database " + dir_);
      return failed_;
    }
    meta_ = std::move(meta);
    return std::move(plan->result);
  }

  snapshot_meta meta() const override {
    return meta_;
  }

  snapshot_meta durable() const override {
    return durable_;
  }

  caf::error sync() override {
    if (failed_)
      return failed_before(failed_);
    // A synced write syncs LevelDB's write-ahead log, and with it every
    // unsynced batch before it (earlier log files were synced when LevelDB
    // turned them into tables). Rewriting 'a' changes nothing.
    leveldb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Put(wo, codec::applied_index_key(),
                      codec::encode_applied_index(meta_.index));
    if (!s.ok()) {
      failed_ = leveldb_error(s, "sync kv database " + dir_);
      return failed_;
    }
    durable_ = meta_;
    return {};
  }

  caf::expected<std::unique_ptr<snapshot_reader>> read_snapshot() override {
    auto* snap = db_->GetSnapshot();
    auto ro = detail::checked_reads();
    ro.snapshot = snap;
    // Read back, not meta_: the same view as the pairs, whatever it is.
    auto m = read_meta(*db_, ro, dir_);
    if (!m) {
      db_->ReleaseSnapshot(snap);
      return m.error();
    }
    return std::unique_ptr<snapshot_reader>{
      std::make_unique<leveldb_snapshot_reader>(db_, snap, std::move(*m),
                                                dir_)};
  }

private:
  std::shared_ptr<leveldb::DB> db_;
  std::string dir_;
  /// The applied state as a snapshot, as stored in the database. Moves only
  /// after a write succeeded.
  snapshot_meta meta_;
  /// meta_ as of the last synced write (or the open).
  snapshot_meta durable_;
  /// The error of the first failed write; while set, writes are refused.
  caf::error failed_;
};

// -- memory -------------------------------------------------------------------

using memory_map = std::map<std::string, std::string>;

/// A copy of a memory store's pairs and meta.
class memory_snapshot_reader final : public snapshot_reader {
public:
  memory_snapshot_reader(memory_map data, snapshot_meta meta)
    : data_(std::move(data)), meta_(std::move(meta)), pos_(data_.begin()) {
    // nop
  }

  const snapshot_meta& meta() const override {
    return meta_;
  }

  void seek_after(const std::string& key, bool from_start) override {
    pos_ = from_start ? data_.begin() : data_.upper_bound(key);
  }

  caf::expected<bool> read(size_t max_bytes, std::vector<std::string>& keys,
                           std::vector<std::string>& values) override {
    size_t bytes = 0;
    while (pos_ != data_.end() && (bytes < max_bytes || bytes == 0)) {
      keys.push_back(pos_->first);
      values.push_back(pos_->second);
      bytes += std::max<size_t>(1, pos_->first.size() + pos_->second.size());
      ++pos_;
    }
    return pos_ == data_.end();
  }

private:
  memory_map data_;
  snapshot_meta meta_;
  memory_map::const_iterator pos_;
};

class memory_kv_store final : public kv_store {
public:
  memory_kv_store() = default;

  /// A store holding a snapshot, durable as such (a finished install).
  memory_kv_store(memory_map data, snapshot_meta meta)
    : data_(std::move(data)), meta_(std::move(meta)), durable_(meta_) {
    // nop
  }

  uint64_t applied_index() const override {
    return meta_.index;
  }

  caf::expected<std::optional<std::string>>
  get(const std::string& key) override {
    auto i = data_.find(key);
    if (i == data_.end())
      return std::optional<std::string>{};
    return std::optional<std::string>{i->second};
  }

  caf::expected<apply_result>
  apply(const std::vector<log_entry>& entries) override {
    auto exists = [this](const std::string& key) -> caf::expected<bool> {
      return data_.count(key) > 0;
    };
    auto plan = plan_apply(entries, meta_.index, exists);
    if (!plan)
      return plan.error();
    for (auto i = plan->first_new; i < entries.size(); ++i) {
      auto& e = entries[i];
      if (e.kind == entry_kind::put)
        data_[e.key] = e.value;
      else if (e.kind == entry_kind::del)
        data_.erase(e.key);
    }
    meta_ = advance_meta(std::move(meta_), entries, plan->first_new);
    plan->result.durable = durable_;
    return std::move(plan->result);
  }

  snapshot_meta meta() const override {
    return meta_;
  }

  snapshot_meta durable() const override {
    return durable_;
  }

  caf::error sync() override {
    durable_ = meta_;
    return {};
  }

  caf::expected<std::unique_ptr<snapshot_reader>> read_snapshot() override {
    return std::unique_ptr<snapshot_reader>{
      std::make_unique<memory_snapshot_reader>(data_, meta_)};
  }

private:
  memory_map data_;
  snapshot_meta meta_;
  snapshot_meta durable_;
};

/// Collects the pairs into a map; finish hands a store on it to the switch.
class memory_kv_install final : public kv_install {
public:
  memory_kv_install(snapshot_meta meta, memory_kv_switch sw)
    : meta_(std::move(meta)), sw_(std::move(sw)) {
    // nop
  }

  const snapshot_meta& meta() const override {
    return meta_;
  }

  const snapshot_digest& digest() const override {
    return digest_;
  }

  caf::error write(const std::vector<std::string>& keys,
                   const std::vector<std::string>& values) override {
    if (done_)
      return make_error(errc::internal, "memory kv install: already finished "
                                        "or void");
    if (auto err = detail::check_chunk(keys, values, last_key_,
                                       digest_.count() > 0))
      return err;
    for (size_t i = 0; i < keys.size(); ++i) {
      digest_.add(keys[i], values[i]);
      data_.emplace_hint(data_.end(), keys[i], values[i]);
    }
    if (!keys.empty())
      last_key_ = keys.back();
    return {};
  }

  caf::expected<std::unique_ptr<kv_store>>
  finish(uint64_t count, uint64_t checksum) override {
    if (done_)
      return make_error(errc::internal, "memory kv install: already finished "
                                        "or void");
    done_ = true;
    if (auto err = detail::check_totals(digest_, count, checksum))
      return err;
    return sw_(std::make_shared<memory_kv_store>(std::move(data_), meta_));
  }

  void discard_old() override {
    // nop: the old store's memory went with it
  }

private:
  snapshot_meta meta_;
  memory_kv_switch sw_;
  snapshot_digest digest_;
  memory_map data_;
  std::string last_key_;
  bool done_ = false;
};

} // namespace

kv_store::~kv_store() {
  // nop
}

caf::expected<std::unique_ptr<kv_store>>
open_leveldb_kv_store(const std::string& dir, bool create,
                      leveldb::Env* env) {
  auto db = detail::open_db(dir, create, env, "kv database",
                            detail::kv_write_buffer_bytes);
  if (!db)
    return db.error();
  return detail::make_leveldb_kv_store(std::move(*db), dir);
}

std::unique_ptr<kv_store> make_memory_kv_store() {
  return std::make_unique<memory_kv_store>();
}

std::unique_ptr<kv_install> make_memory_kv_install(snapshot_meta meta,
                                                   memory_kv_switch sw) {
  return std::make_unique<memory_kv_install>(std::move(meta), std::move(sw));
}

namespace detail {

caf::expected<std::unique_ptr<kv_store>>
make_leveldb_kv_store(std::shared_ptr<leveldb::DB> db, std::string dir) {
  auto store = std::make_unique<leveldb_kv_store>(std::move(db),
                                                  std::move(dir));
  if (auto err = store->init())
    return err;
  return std::unique_ptr<kv_store>{std::move(store)};
}

} // namespace detail

} // namespace raftd

#include "storage/kv_store.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

#include <leveldb/write_batch.h>

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/leveldb_db.hpp"
#include "storage/leveldb_error.hpp"

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

/// The kv database's memtable. Applying a put inserts into LevelDB's skip
/// list, and with random keys each insert chases pointers down the whole
/// list: in a 4 MiB table (LevelDB's default) those loads miss the CPU
/// caches, and the skip-list search showed high in a profile of writes at
/// 64 connections. A 256 KiB table stays in cache at the price of more,
/// smaller flushes to level 0; at 64 KiB the flushes cost more than they
/// saved (both measured in bench/RESULTS.md).
constexpr size_t kv_write_buffer_bytes = 256 << 10;

caf::error failed_before(const caf::error& first) {
  return make_error(errc::storage_failed,
                    "kv store failed earlier, reopen it to continue: "
                      + context_of(first));
}

// -- LevelDB ------------------------------------------------------------------

class leveldb_kv_store final : public kv_store {
public:
  leveldb_kv_store(detail::db_ptr db, std::string dir)
    : db_(std::move(db)), dir_(std::move(dir)) {
    // nop
  }

  caf::error init() {
    std::string value;
    auto s = db_->Get(detail::checked_reads(), codec::applied_index_key(),
                      &value);
    if (s.IsNotFound())
      return {};
    if (!s.ok())
      return leveldb_error(s, "read applied index from kv database " + dir_);
    auto index = codec::decode_applied_index(value);
    if (!index)
      return make_error(errc::corrupt_data, "kv database " + dir_ + ": "
                                              + context_of(index.error()));
    applied_ = *index;
    return {};
  }

  uint64_t applied_index() const override {
    return applied_;
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
    auto plan = plan_apply(entries, applied_, exists);
    if (!plan)
      return plan.error();
    if (plan->result.applied_index == applied_)
      return std::move(plan->result);
    leveldb::WriteBatch batch;
    for (auto i = plan->first_new; i < entries.size(); ++i) {
      auto& e = entries[i];
      if (e.kind == entry_kind::put)
        batch.Put(codec::kv_key(e.key), e.value);
      else if (e.kind == entry_kind::del)
        batch.Delete(codec::kv_key(e.key));
    }
    batch.Put(codec::applied_index_key(),
              codec::encode_applied_index(plan->result.applied_index));
    // Not synced: see the header.
    auto s = db_->Write(leveldb::WriteOptions{}, &batch);
    if (!s.ok()) {
      failed_ = leveldb_error(s, "write to kv database " + dir_);
      return failed_;
    }
    applied_ = plan->result.applied_index;
    return std::move(plan->result);
  }

private:
  detail::db_ptr db_;
  std::string dir_;
  /// The applied index stored in the database. Moves only after a write
  /// succeeded.
  uint64_t applied_ = 0;
  /// The error of the first failed write; while set, applies are refused.
  caf::error failed_;
};

// -- memory -------------------------------------------------------------------

class memory_kv_store final : public kv_store {
public:
  uint64_t applied_index() const override {
    return applied_;
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
    auto plan = plan_apply(entries, applied_, exists);
    if (!plan)
      return plan.error();
    for (auto i = plan->first_new; i < entries.size(); ++i) {
      auto& e = entries[i];
      if (e.kind == entry_kind::put)
        data_[e.key] = e.value;
      else if (e.kind == entry_kind::del)
        data_.erase(e.key);
    }
    applied_ = plan->result.applied_index;
    return std::move(plan->result);
  }

private:
  std::map<std::string, std::string> data_;
  uint64_t applied_ = 0;
};

} // namespace

kv_store::~kv_store() {
  // nop
}

caf::expected<std::unique_ptr<kv_store>>
open_leveldb_kv_store(const std::string& dir, bool create,
                      leveldb::Env* env) {
  auto db = detail::open_db(dir, create, env, "kv database",
                            kv_write_buffer_bytes);
  if (!db)
    return db.error();
  auto store = std::make_unique<leveldb_kv_store>(std::move(*db), dir);
  if (auto err = store->init())
    return err;
  return std::unique_ptr<kv_store>{std::move(store)};
}

std::unique_ptr<kv_store> make_memory_kv_store() {
  return std::make_unique<memory_kv_store>();
}

} // namespace raftd

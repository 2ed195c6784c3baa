#include "tests/sim_checker.hpp"

#include <algorithm>
#include <sstream>

#include "raft/core.hpp"

namespace raftd::sim {

namespace {

uint64_t mix(uint64_t x) {
  // splitmix64's finalizer: every input bit affects every output bit.
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_bytes(uint64_t h, const std::string& s) {
  h = mix(h ^ s.size());
  for (unsigned char ch : s)
    h = (h ^ ch) * 0x100000001b3ull; // FNV-1a step
  return mix(h);
}

std::string node_label(size_t n) {
  return "n" + std::to_string(n + 1);
}

} // namespace

uint64_t entry_hash(const log_entry& e) {
  auto h = mix(e.term);
  h = mix(h ^ e.index);
  h = mix(h ^ static_cast<uint64_t>(e.kind));
  h = hash_bytes(h, e.key);
  return hash_bytes(h, e.value);
}

std::string describe_entry(const log_entry& e) {
  std::ostringstream os;
  os << "i" << e.index << " t" << e.term << " ";
  switch (e.kind) {
  case entry_kind::noop: os << "noop"; break;
  case entry_kind::put: os << "put " << e.key << "=" << e.value; break;
  case entry_kind::del: os << "del " << e.key; break;
  case entry_kind::config: os << "config"; break;
  }
  return os.str();
}

size_t safety_checker::pair_hash::operator()(
  const std::pair<uint64_t, uint64_t>& p) const {
  return static_cast<size_t>(mix(mix(p.first) ^ p.second));
}

safety_checker::safety_checker(size_t nodes) : nodes_(nodes) {
  // nop
}

void safety_checker::fail(const char* check, std::string detail) {
  if (!failure_)
    failure_ = violation{check, std::move(detail)};
}

void safety_checker::restarted(size_t n, uint64_t applied) {
  nodes_[n] = node_view{};
  nodes_[n].applied = applied;
}

void safety_checker::on_step(size_t n, const raft_core& c) {
  check_election_safety(n, c);
  check_log_matching(n, c);
  if (failure_)
    return; // the view may be short of the log: stop here
  check_commit(n, c);
  check_leader_completeness(n, c);
}

// §5.2 Election Safety: at most one leader can be elected in a given term.
void safety_checker::check_election_safety(size_t n, const raft_core& c) {
  if (c.role() != role_kind::leader)
    return;
  auto [i, added] = leaders_.emplace(c.term(), n);
  if (!added && i->second != n)
    fail(check::election_safety, node_label(i->second) + " and " + node_label(n)
                                   + " both lead term "
                                   + std::to_string(c.term()));
}

// §5.3 Log Matching: if two logs contain an entry with the same index and
// term, the logs are identical in all entries up through that index. Logs
// change only at their tail, so only positions whose term changed since the
// last step are hashed again. A compacted prefix (§7) holds what the
// snapshot holds: committed entries only, so its positions are the
// committed ones (an install may replace uncommitted entries with them).
void safety_checker::check_log_matching(size_t n, const raft_core& c) {
  auto& v = nodes_[n];
  auto last = c.last_index();
  auto prefix = c.log().prefix_index();
  auto same = std::min<uint64_t>(v.terms.size(), last);
  uint64_t keep = std::min({v.prefix_checked, prefix, same});
  while (keep < same && keep < prefix && keep < committed_.size()
         && v.chain[keep] == committed_[keep].chain)
    ++keep;
  if (keep >= prefix)
    while (keep < same && v.terms[keep] == c.term_at(keep + 1))
      ++keep;
  if (keep < v.terms.size() && keep < v.max_commit) {
    fail(check::committed_kept, node_label(n) + " removed or replaced index "
                                  + std::to_string(keep + 1)
                                  + " though it had committed up to "
                                  + std::to_string(v.max_commit));
    return;
  }
  v.terms.resize(keep);
  v.chain.resize(keep);
  for (auto i = keep + 1; i <= std::min(prefix, last); ++i) {
    if (i > committed_.size())
      return fail(check::state_machine_safety,
                  node_label(n) + "'s log is compacted to "
                    + std::to_string(prefix) + ", past the committed "
                    + std::to_string(committed_.size()) + " entries");
    v.terms.push_back(committed_[i - 1].entry.term);
    v.chain.push_back(committed_[i - 1].chain);
  }
  v.prefix_checked = std::max(v.prefix_checked, prefix);
  for (auto i = std::max(keep, prefix) + 1; i <= last; ++i) {
    auto& e = c.entry(i);
    auto prev = i == 1 ? 0 : v.chain[i - 2];
    auto chain = mix(prev ^ entry_hash(e));
    v.terms.push_back(e.term);
    v.chain.push_back(chain);
    register_position(n, i, e.term, chain);
  }
}

void safety_checker::register_position(size_t n, uint64_t index, uint64_t term,
                                       uint64_t chain) {
  auto [i, added]
    = positions_.emplace(std::make_pair(index, term), std::make_pair(chain, n));
  if (added || i->second.first == chain)
    return;
  fail(check::log_matching,
       node_label(n) + " holds index " + std::to_string(index) + " of term "
         + std::to_string(term) + " behind a different log than "
         + node_label(i->second.second) + " held there");
}

// Committed entries never change (§5.4): what one node knows committed at
// an index, every other node that knows that index committed also holds.
void safety_checker::check_commit(size_t n, const raft_core& c) {
  auto& v = nodes_[n];
  auto commit = std::min<uint64_t>(c.commit_index(), v.chain.size());
  v.max_commit = std::max(v.max_commit, commit);
  for (auto i = v.commit_checked + 1; i <= commit; ++i) {
    if (i > committed_.size()) {
      auto& e = c.entry(i);
      committed_.push_back(
        committed_entry{e, entry_hash(e), v.chain[i - 1], c.term()});
      continue;
    }
    auto& ce = committed_[i - 1];
    if (ce.chain != v.chain[i - 1]) {
      fail(check::commit_agreement,
           node_label(n) + " committed " + describe_entry(c.entry(i))
             + " where " + describe_entry(ce.entry) + " was committed");
      return;
    }
  }
  v.commit_checked = std::max(v.commit_checked, commit);
  // Knowing the commit in an earlier term than recorded lowers the record;
  // commit terms never decrease along the log, so walk back from the end.
  for (auto i = commit; i >= 1 && committed_[i - 1].commit_term > c.term(); --i)
    committed_[i - 1].commit_term = c.term();
}

// §5.4 Leader Completeness: an entry committed in a term is present in the
// logs of the leaders of all higher terms.
void safety_checker::check_leader_completeness(size_t n, const raft_core& c) {
  if (c.role() != role_kind::leader || failure_)
    return;
  auto& v = nodes_[n];
  auto& done = leader_checked_[c.term()];
  while (done < committed_.size() && committed_[done].commit_term < c.term()) {
    auto& ce = committed_[done];
    auto i = done + 1;
    if (i > v.chain.size() || v.chain[i - 1] != ce.chain) {
      fail(check::leader_completeness,
           node_label(n) + " leads term " + std::to_string(c.term())
             + " without " + describe_entry(ce.entry) + ", committed in term "
             + std::to_string(ce.commit_term));
      return;
    }
    ++done;
  }
}

void safety_checker::on_applied(size_t n, const std::vector<log_entry>& es) {
  for (auto& e : es)
    if (e.index > nodes_[n].installed)
      check_applied(n, e);
}

// §7: a snapshot holds the committed entries up to its index; the state
// machine jumps there (its state is checked by check_kv).
void safety_checker::on_installed(size_t n, const snapshot_meta& m) {
  auto& v = nodes_[n];
  if (m.index <= v.applied)
    return; // applied this far already: nothing was switched
  if (m.index > committed_.size()
      || committed_[m.index - 1].entry.term != m.term)
    return fail(check::state_machine_safety,
                node_label(n) + " installed a snapshot at index "
                  + std::to_string(m.index) + " term "
                  + std::to_string(m.term)
                  + ", which is not a committed entry");
  v.applied = m.index;
  v.installed = m.index;
  for (auto i = applied_.size() + 1; i <= m.index; ++i)
    record_applied(committed_[i - 1].entry, committed_[i - 1].hash);
}

// §5.4.3 State Machine Safety: no two servers apply different entries at
// one index; each applies every index once, in order, only once committed.
void safety_checker::check_applied(size_t n, const log_entry& e) {
  auto& v = nodes_[n];
  if (e.index != v.applied + 1)
    return fail(check::state_machine_safety,
                node_label(n) + " applied index " + std::to_string(e.index)
                  + " after " + std::to_string(v.applied));
  v.applied = e.index;
  auto h = entry_hash(e);
  if (e.index > committed_.size() || committed_[e.index - 1].hash != h)
    return fail(check::state_machine_safety,
                node_label(n) + " applied " + describe_entry(e)
                  + ", which no node had committed");
  if (e.index <= applied_.size()) {
    if (applied_[e.index - 1] != h)
      fail(check::state_machine_safety,
           node_label(n) + " applied " + describe_entry(e)
             + " where another node applied something else");
    return;
  }
  record_applied(e, h);
}

/// The first application of the committed entry `e` anywhere.
void safety_checker::record_applied(const log_entry& e, uint64_t h) {
  applied_.push_back(h);
  if (e.kind == entry_kind::put) {
    auto [i, added] = value_index_.emplace(e.value, e.index);
    if (!added && i->second != e.index)
      fail(check::acked_writes,
           "the write " + e.key + "=" + e.value + " was applied twice, at "
             + std::to_string(i->second) + " and " + std::to_string(e.index));
  }
  check_ack(e.index);
}

void safety_checker::on_acked_write(uint64_t index, const std::string& key,
                                    const std::string& value,
                                    entry_kind kind) {
  auto cmd = log_entry{0, index, kind, key, value};
  auto [i, added] = acked_.emplace(index, cmd);
  if (!added
      && !(i->second.key == key && i->second.value == value
           && i->second.kind == kind))
    return fail(check::acked_writes, "two writes acknowledged at index "
                                       + std::to_string(index) + ": "
                                       + i->second.value + " and " + value);
  check_ack(index);
}

/// An acknowledged write must be what was applied at its index.
void safety_checker::check_ack(uint64_t index) {
  auto i = acked_.find(index);
  if (i == acked_.end() || index > committed_.size() || index > applied_.size())
    return;
  auto& e = committed_[index - 1].entry;
  auto& want = i->second;
  if (e.kind != want.kind || e.key != want.key || e.value != want.value)
    fail(check::acked_writes, "the write " + want.key + "=" + want.value
                                + " was acknowledged at "
                                + std::to_string(index) + ", but "
                                + describe_entry(e) + " was applied there");
}

std::optional<uint64_t>
safety_checker::index_of_value(const std::string& value) const {
  auto i = value_index_.find(value);
  if (i == value_index_.end())
    return std::nullopt;
  return i->second;
}

bool safety_checker::deleted_since(const std::string& key,
                                   uint64_t index) const {
  auto end = std::min<uint64_t>(committed_.size(), applied_.size());
  for (auto i = std::max<uint64_t>(index, 1); i <= end; ++i) {
    auto& e = committed_[i - 1].entry;
    if (e.kind == entry_kind::del && e.key == key)
      return true;
  }
  return false;
}

std::string safety_checker::key_at(uint64_t index) const {
  if (index == 0 || index > committed_.size())
    return {};
  return committed_[index - 1].entry.key;
}

void safety_checker::extend_reference() {
  for (auto i = ref_digest_.size() + 1; i <= committed_.size(); ++i) {
    auto& e = committed_[i - 1].entry;
    if (e.kind == entry_kind::put)
      ref_state_[e.key] = e.value;
    else if (e.kind == entry_kind::del)
      ref_state_.erase(e.key);
    uint64_t h = mix(ref_state_.size());
    for (auto& [k, val] : ref_state_)
      h = hash_bytes(hash_bytes(h, k), val);
    ref_digest_.push_back(h);
  }
}

kv_pairs safety_checker::reference_state(uint64_t index) const {
  kv_pairs out;
  for (uint64_t i = 1; i <= std::min<uint64_t>(index, committed_.size());
       ++i) {
    auto& e = committed_[i - 1].entry;
    if (e.kind == entry_kind::put)
      out[e.key] = e.value;
    else if (e.kind == entry_kind::del)
      out.erase(e.key);
  }
  return out;
}

// §5.4.3 on the state itself, not only the entries: whatever a node got
// its state from (its own applies, a restart, a snapshot), it is the
// committed log applied in order.
void safety_checker::check_kv(size_t n, uint64_t index, const kv_pairs& pairs,
                              const char* when) {
  if (failure_ || index == 0)
    return;
  extend_reference();
  if (index > ref_digest_.size())
    return;
  uint64_t h = mix(pairs.size());
  for (auto& [k, val] : pairs)
    h = hash_bytes(hash_bytes(h, k), val);
  if (h == ref_digest_[index - 1])
    return;
  auto want = reference_state(index);
  std::string diff;
  for (auto& [k, val] : want) {
    auto i = pairs.find(k);
    if (i == pairs.end())
      diff = k + " is missing (want " + val + ")";
    else if (i->second != val)
      diff = k + "=" + i->second + " (want " + val + ")";
    if (!diff.empty())
      break;
  }
  if (diff.empty())
    for (auto& [k, val] : pairs)
      if (want.count(k) == 0) {
        diff = k + "=" + val + " should not exist";
        break;
      }
  fail(check::kv_state, node_label(n) + "'s kv state at applied index "
                          + std::to_string(index) + " (" + when
                          + ") differs from the committed log's: " + diff);
}

void safety_checker::finish() {
  for (auto& [index, cmd] : acked_)
    if (index > applied_.size())
      return fail(check::acked_writes, "the write " + cmd.key + "=" + cmd.value
                                         + " was acknowledged at "
                                         + std::to_string(index)
                                         + " but never applied");
}

} // namespace raftd::sim

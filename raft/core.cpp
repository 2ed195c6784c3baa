#include "raft/core.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <iterator>

#include "raft/check.hpp"
#include "raft/membership.hpp"
#include "raft/quorum.hpp"

namespace raftd {

/// Checks what must hold after every call into the core, when the call
/// returns (LogCabin's RaftConsensusInvariants): one guard per input.
struct raft_core::checked_call {
  const raft_core& core;
  uint64_t commit_before;

  explicit checked_call(const raft_core& c)
    : core(c), commit_before(c.commit_index_) {
  }
  ~checked_call() noexcept(false) {
    if (std::uncaught_exceptions() == 0)
      core.check_invariants(commit_before);
  }
};

void raft_core::check_invariants(uint64_t commit_before) const {
  auto n = [](uint64_t x) { return std::to_string(x); };
  RAFTD_CHECK(commit_index_ >= commit_before,
              "commit index went back from " + n(commit_before) + " to "
                + n(commit_index_) + " (§5.3)");
  RAFTD_CHECK(commit_index_ <= last_index(),
              "commit index " + n(commit_index_) + " past the log's end "
                + n(last_index()));
  RAFTD_CHECK(emitted_index_ <= commit_index_
                && emitted_index_ <= stable_index_,
              "entries up to " + n(emitted_index_)
                + " went to the state machine past commit " + n(commit_index_)
                + " or durable " + n(stable_index_));
  RAFTD_CHECK(stable_index_ <= last_index(),
              "durable index " + n(stable_index_) + " past the log's end "
                + n(last_index()));
  RAFTD_CHECK(role_ != role_kind::leader || leader_ == cfg_.id,
              "a leader that names " + leader_ + " as leader");
}

const char* to_string(role_kind r) {
  switch (r) {
    case role_kind::follower: return "follower";
    case role_kind::pre_candidate: return "pre-candidate";
    case role_kind::candidate: return "candidate";
    case role_kind::leader: return "leader";
  }
  return "unknown";
}

raft_core::raft_core(core_config cfg, hard_state hs, std::vector<log_entry> log,
                     uint64_t applied)
  : raft_core(std::move(cfg), std::move(hs), raft_log{std::move(log)},
              snapshot_meta{applied, 0, 0, {}}) {
}

raft_core::raft_core(core_config cfg, hard_state hs, raft_log log,
                     const snapshot_meta& applied)
  : cfg_(std::move(cfg)),
    rng_(cfg_.seed),
    term_(hs.term),
    voted_for_(std::move(hs.voted_for)),
    log_(std::move(log)),
    prefix_config_index_(applied.config_index),
    prefix_config_(applied.config) {
  RAFTD_CHECK(applied.index >= log_.prefix_index(),
              "the log is compacted to " + std::to_string(log_.prefix_index())
                + ", past the applied index "
                + std::to_string(applied.index));
  // What was loaded is on disk; what the state machine applied was committed.
  stable_index_ = log_.last_index();
  commit_index_ = std::min<uint64_t>(applied.index, log_.last_index());
  emitted_index_ = commit_index_;
  reload_members();
  reset_election_timer();
}

void raft_core::bootstrap(const member& self, effects& out) {
  checked_call check{*this};
  RAFTD_CHECK(log_.last_index() == 0, "bootstrapping a log that is not empty");
  append_local(log_entry{0, 1, entry_kind::config, {}, encode_members({self})},
               out);
  // The founding configuration is committed by definition; it becomes
  // visible to the state machine once it is durable.
  commit_index_ = 1;
}

// -- queries -------------------------------------------------------------------

uint64_t raft_core::term_at(uint64_t index) const {
  return log_.term_at(index);
}

const member* raft_core::find_member(const node_name& name) const {
  for (auto& m : members_)
    if (m.name == name)
      return &m;
  return nullptr;
}

uint64_t raft_core::match_of(const node_name& peer) const {
  if (peer == cfg_.id)
    return stable_index_;
  auto i = match_.find(peer);
  return i == match_.end() ? 0 : i->second;
}

bool raft_core::is_voter(const node_name& id) const {
  return find_member(id) != nullptr;
}

size_t raft_core::votes_in_config() const {
  size_t n = 0;
  for (auto& v : votes_)
    n += is_voter(v) ? 1 : 0;
  return n;
}

size_t raft_core::quorum() const {
  return raftd::quorum::majority(members_.size());
}

// A follower that heard from a leader within the minimum election timeout
// neither grants votes nor adopts a higher term (thesis §4.2.3, §9.6): a
// partitioned or restarted server cannot depose a healthy leader.
bool raft_core::in_lease() const {
  return cfg_.check_quorum && leader_heard_recently();
}

bool raft_core::leader_heard_recently() const {
  if (role_ == role_kind::leader)
    return true;
  return !leader_.empty() && election_elapsed_ < cfg_.election_ticks;
}

// -- ticks ---------------------------------------------------------------------

void raft_core::tick(effects& out) {
  checked_call check{*this};
  if (role_ == role_kind::leader) {
    if (!cfg_.check_quorum || ++check_quorum_elapsed_ < cfg_.election_ticks)
      return;
    // Check-quorum (thesis §6.2): step down if a majority has been silent.
    check_quorum_elapsed_ = 0;
    size_t active = 1; // ourselves
    for (auto& m : members_)
      if (m.name != cfg_.id && recently_active_.count(m.name) > 0)
        ++active;
    recently_active_.clear();
    if (!raftd::quorum::reached(active, members_.size()))
      become_follower(term_, {}, out);
    return;
  }
  ++election_elapsed_;
  // A lone voter need not wait: nobody else can lead.
  bool alone = members_.size() == 1 && is_voter(cfg_.id);
  // Thesis §4.2.2: a server outside its own latest configuration still
  // campaigns while that configuration is uncommitted (it may hold the only
  // log that can win); it does not count its own vote (votes_in_config).
  bool may_campaign = is_voter(cfg_.id) || config_pending();
  if (may_campaign && (alone || election_elapsed_ >= randomized_timeout_))
    campaign(cfg_.pre_vote, out);
}

void raft_core::reset_election_timer() {
  election_elapsed_ = 0;
  std::uniform_int_distribution<int> dist{cfg_.election_ticks,
                                          2 * cfg_.election_ticks - 1};
  randomized_timeout_ = dist(rng_);
}

// -- role changes --------------------------------------------------------------

void raft_core::become_follower(uint64_t term, node_name leader,
                                effects& out) {
  if (term > term_) {
    term_ = term;
    voted_for_.clear();
    out.save_state = true;
  }
  if (role_ != role_kind::follower || leader_ != leader)
    out.role_changed = true;
  role_ = role_kind::follower;
  leader_ = std::move(leader);
  votes_.clear();
  match_.clear();
  reset_election_timer();
}

void raft_core::campaign(bool pre_vote, effects& out) {
  if (pre_vote)
    become_pre_candidate(out);
  else
    become_candidate(out);
}

// Pre-vote (thesis §9.6): ask whether we could win before bumping the term,
// so a server that cannot win never disrupts the cluster.
void raft_core::become_pre_candidate(effects& out) {
  role_ = role_kind::pre_candidate;
  leader_.clear();
  out.role_changed = true;
  votes_ = {cfg_.id};
  reset_election_timer();
  if (raftd::quorum::reached(votes_in_config(), members_.size()))
    return become_candidate(out);
  for (auto& m : members_)
    if (m.name != cfg_.id)
      out.after_sync.emplace_back(
        m.name, vote_request{term_ + 1, cfg_.id, last_index(), last_term(),
                             true, m.name});
}

// §5.2: increment the term, vote for self, request votes from all others.
void raft_core::become_candidate(effects& out) {
  role_ = role_kind::candidate;
  leader_.clear();
  out.role_changed = true;
  term_ += 1;
  voted_for_ = cfg_.id;
  out.save_state = true; // term and vote durable before the requests go out
  votes_ = {cfg_.id};
  reset_election_timer();
  if (raftd::quorum::reached(votes_in_config(), members_.size()))
    return become_leader(out);
  for (auto& m : members_)
    if (m.name != cfg_.id)
      out.after_sync.emplace_back(
        m.name, vote_request{term_, cfg_.id, last_index(), last_term(), false,
                             m.name});
}

// A new leader appends a no-op so that entries of earlier terms commit with
// it (§5.4.2, thesis §6.4).
void raft_core::become_leader(effects& out) {
  role_ = role_kind::leader;
  leader_ = cfg_.id;
  out.role_changed = true;
  votes_.clear();
  match_.clear();
  recently_active_.clear();
  check_quorum_elapsed_ = 0;
  append_local(log_entry{term_, last_index() + 1, entry_kind::noop, {}, {}},
               out);
}

// -- votes ---------------------------------------------------------------------

// §5.4.1: a voter denies its vote if its own log is more up-to-date: the
// later last term wins, and with equal terms the longer log.
bool raft_core::log_up_to_date(uint64_t last_term, uint64_t last_index) const {
  if (last_term != this->last_term())
    return last_term > this->last_term();
  return last_index >= this->last_index();
}

vote_response raft_core::handle_vote_request(const vote_request& req,
                                             effects& out) {
  checked_call check{*this};
  vote_response resp{term_, cfg_.id, false, req.pre_vote};
  if (!req.to.empty() && req.to != cfg_.id)
    return vote_response{0, cfg_.id, false, req.pre_vote}; // not for us
  if (req.term < term_ || in_lease())
    return resp;
  if (req.pre_vote) {
    // Thesis §9.6: grant if the candidate could win; change nothing.
    if (log_up_to_date(req.last_term, req.last_index)) {
      resp.term = req.term;
      resp.granted = true;
    }
    return resp;
  }
  if (req.term > term_)
    become_follower(req.term, {}, out);
  resp.term = term_;
  bool free = voted_for_.empty() || voted_for_ == req.candidate;
  if (free && log_up_to_date(req.last_term, req.last_index)) {
    // §5.2: one vote per term, durable before the reply (Figure 2).
    if (voted_for_ != req.candidate)
      out.save_state = true;
    voted_for_ = req.candidate;
    reset_election_timer();
    resp.granted = true;
  }
  return resp;
}

void raft_core::handle_vote_response(const vote_response& resp,
                                     effects& out) {
  checked_call check{*this};
  if (resp.term > term_ && !resp.granted) {
    become_follower(resp.term, {}, out);
    return;
  }
  bool expected = resp.pre_vote ? role_ == role_kind::pre_candidate
                                    && resp.term == term_ + 1
                                : role_ == role_kind::candidate
                                    && resp.term == term_;
  if (!expected || !resp.granted || !is_voter(resp.voter))
    return;
  votes_.insert(resp.voter);
  if (!raftd::quorum::reached(votes_in_config(), members_.size()))
    return;
  if (resp.pre_vote)
    become_candidate(out);
  else
    become_leader(out);
}

// -- replication ---------------------------------------------------------------

void raft_core::append_local(log_entry e, effects& out) {
  bool config = e.kind == entry_kind::config;
  out.append.push_back(e);
  log_.append(std::move(e));
  if (config)
    reload_members(); // thesis §4.1: a configuration counts once in the log
}

void raft_core::truncate_local(uint64_t from, effects& out) {
  // §5.3 only ever removes uncommitted entries; anything else is a bug.
  RAFTD_CHECK(from > commit_index_,
              "truncating committed entries from " + std::to_string(from)
                + " (commit " + std::to_string(commit_index_) + ")");
  log_.truncate_from(from);
  stable_index_ = std::min(stable_index_, from - 1);
  if (out.truncate_from == 0 || from < out.truncate_from)
    out.truncate_from = from;
  // Entries queued for writing in this same step may be gone now.
  auto& a = out.append;
  a.erase(std::remove_if(a.begin(), a.end(),
                         [from](const log_entry& e) { return e.index >= from; }),
          a.end());
  reload_members();
}

append_response raft_core::handle_append_request(append_request req,
                                                 effects& out) {
  checked_call check{*this};
  // Meant for whoever had our address before: answer nothing it can use
  // (term 0), and change nothing here.
  if (!req.to.empty() && req.to != cfg_.id)
    return append_response{0, cfg_.id, false, 0, 0, 0, 0};
  append_response resp{term_, cfg_.id, false, 0, 0, 0, req.read_round};
  if (!accept_leader(req.term, req.leader, out))
    return resp; // §5.1: a stale leader learns the new term from `resp.term`
  resp.term = term_;
  // Entries up to the compacted prefix are committed, so they match the
  // leader's (§5.4.3 Leader Completeness): check from the prefix on.
  skip_compacted(req);
  // §5.3 consistency check, with a hint so the leader can skip a whole term.
  if (req.prev_index > last_index()) {
    resp.conflict_index = last_index() + 1;
    return resp;
  }
  if (term_at(req.prev_index) != req.prev_term && !cfg_.bugs.skip_log_check) {
    resp.conflict_term = term_at(req.prev_index);
    auto first = req.prev_index;
    while (first > log_.first_index() && term_at(first - 1) == resp.conflict_term)
      --first;
    resp.conflict_index = first;
    return resp;
  }
  auto last_term = req.entries.empty() ? req.prev_term
                                       : req.entries.back().term;
  for (auto& e : req.entries) {
    if (e.index <= last_index()) {
      if (term_at(e.index) == e.term)
        continue; // already have it (a duplicate or reordered request)
      truncate_local(e.index, out); // §5.3: delete the conflict and all after
    }
    append_local(std::move(e), out);
  }
  resp.success = true;
  resp.match_index = req.prev_index + req.entries.size();
  // Log matching (§5.3): our log now ends in the leader's entries here.
  RAFTD_CHECK(cfg_.bugs.skip_log_check
                || term_at(resp.match_index) == last_term,
              "after an append up to " + std::to_string(resp.match_index)
                + " the log holds term "
                + std::to_string(term_at(resp.match_index)) + ", not "
                + std::to_string(last_term));
  // §5.3: commitIndex = min(leaderCommit, index of last new entry).
  auto new_commit = std::min(req.commit, resp.match_index);
  if (new_commit > commit_index_) {
    commit_index_ = new_commit;
    emit_committed(out);
  }
  return resp;
}

void raft_core::handle_match(const node_name& peer, uint64_t term,
                             uint64_t match, effects& out) {
  checked_call check{*this};
  if (role_ != role_kind::leader || term != term_ || !is_voter(peer))
    return;
  recently_active_.insert(peer);
  auto& m = match_[peer];
  if (match <= m)
    return;
  m = std::min(match, last_index());
  maybe_commit(out);
}

void raft_core::observe_term(uint64_t term, effects& out) {
  checked_call check{*this};
  if (term > term_)
    become_follower(term, {}, out);
}

void raft_core::persisted(uint64_t index, uint64_t term, effects& out) {
  checked_call check{*this};
  // A reply for a write whose entries were truncated since tells nothing:
  // (index, term) identifies an entry and all before it (§5.3, Log Matching).
  if (index <= stable_index_ || index > last_index() || term_at(index) != term)
    return;
  stable_index_ = index;
  if (role_ == role_kind::leader)
    maybe_commit(out);
  else
    emit_committed(out);
}

// Commit the highest index a majority holds durably, counting replicas only
// for current-term entries; older ones commit with them (§5.4.2).
void raft_core::maybe_commit(effects& out) {
  std::vector<uint64_t> held;
  for (auto& m : members_)
    held.push_back(match_of(m.name));
  if (held.empty())
    return;
  auto n = raftd::quorum::agreed_index(std::move(held));
  bool current = term_at(n) == term_ || cfg_.bugs.commit_old_terms;
  if (n > commit_index_ && current) {
    commit_index_ = n;
  }
  emit_committed(out);
  // A leader removed from the configuration steps down once that
  // configuration has committed (thesis §4.2.2).
  if (!is_voter(cfg_.id) && commit_index_ >= config_index_)
    become_follower(term_, {}, out);
}

// Committed entries go to the state machine once they are durable here too.
void raft_core::emit_committed(effects& out) {
  auto upto = std::min(commit_index_, stable_index_);
  for (auto i = emitted_index_ + 1; i <= upto; ++i)
    out.committed.push_back(log_.at(i));
  emitted_index_ = std::max(emitted_index_, upto);
}

bool raft_core::accept_leader(uint64_t term, const node_name& leader,
                              effects& out) {
  if (term < term_)
    return false;
  // Election safety (§5.2): at most one leader in a term.
  RAFTD_CHECK(term > term_
                || (role_ != role_kind::leader
                    && (leader_.empty() || leader_ == leader)),
              "two leaders in term " + std::to_string(term_) + ": "
                + (role_ == role_kind::leader ? cfg_.id : leader_) + " and "
                + leader);
  if (term > term_ || role_ != role_kind::follower || leader_ != leader)
    become_follower(term, leader, out);
  reset_election_timer();
  return true;
}

bool raft_core::handle_install_chunk(const snapshot_chunk& c, effects& out) {
  checked_call check{*this};
  if (!c.to.empty() && c.to != cfg_.id)
    return false;
  return accept_leader(c.term, c.leader, out);
}

void raft_core::skip_compacted(append_request& req) const {
  auto prefix = log_.prefix_index();
  if (req.prev_index >= prefix)
    return;
  auto& es = req.entries;
  auto covered = std::min<uint64_t>(prefix - req.prev_index, es.size());
  es.erase(es.begin(), es.begin() + static_cast<ptrdiff_t>(covered));
  req.prev_index = prefix;
  req.prev_term = log_.prefix_term();
}

void raft_core::compact(uint64_t upto, effects& out) {
  checked_call check{*this};
  if (upto <= log_.prefix_index())
    return;
  // Only what this server applied, which a majority holds (§7).
  RAFTD_CHECK(upto <= emitted_index_ && upto <= stable_index_,
              "compacting to " + std::to_string(upto) + " past applied "
                + std::to_string(emitted_index_));
  if (auto c = log_.last_config(upto)) {
    prefix_config_index_ = c->index;
    prefix_config_ = c->value;
  }
  log_.compact(upto);
  out.compact_to = upto;
  out.compact_term = log_.prefix_term();
}

void raft_core::install_snapshot(const snapshot_meta& m, effects& out) {
  checked_call check{*this};
  if (m.index <= log_.prefix_index())
    return; // an older snapshot than this log's own
  prefix_config_index_ = m.config_index;
  prefix_config_ = m.config;
  auto& a = out.append; // queued in this step: now covered or discarded
  if (log_.holds(m.index) && log_.term_at(m.index) == m.term) {
    // §7: the log continues the snapshot: keep the entries after it.
    log_.compact(m.index);
    a.erase(std::remove_if(a.begin(), a.end(),
                           [&](auto& e) { return e.index <= m.index; }),
            a.end());
  } else {
    // §7: discard the entire log. Committed entries are never discarded:
    // a log holding the commit index holds the snapshot's last entry too.
    RAFTD_CHECK(commit_index_ < m.index,
                "a snapshot at " + std::to_string(m.index)
                  + " conflicts with the log committed to "
                  + std::to_string(commit_index_));
    log_.reset(m.index, m.term);
    if (out.truncate_from == 0 || m.index + 1 < out.truncate_from)
      out.truncate_from = m.index + 1;
    a.clear();
  }
  out.compact_to = m.index;
  out.compact_term = m.term;
  stable_index_ = std::max(std::min(stable_index_, log_.last_index()), m.index);
  commit_index_ = std::max(commit_index_, m.index);
  emitted_index_ = std::max(emitted_index_, m.index);
  reload_members();
}

std::optional<uint64_t> raft_core::propose(entry_kind kind, std::string key,
                                           std::string value, effects& out) {
  checked_call check{*this};
  if (role_ != role_kind::leader)
    return std::nullopt;
  auto index = last_index() + 1;
  append_local(log_entry{term_, index, kind, std::move(key), std::move(value)},
               out);
  return index;
}

void raft_core::reload_members() {
  members_.clear();
  config_index_ = 0;
  auto e = log_.last_config();
  auto index = e != nullptr ? e->index : prefix_config_index_;
  auto& value = e != nullptr ? e->value : prefix_config_;
  if (index == 0)
    return;
  config_index_ = index;
  auto ms = decode_members(value);
  RAFTD_CHECK(ms.has_value(), "the configuration entry at "
                                + std::to_string(index) + " does not decode");
  members_ = std::move(*ms);
}

} // namespace raftd

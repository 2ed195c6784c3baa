#include "tests/sim_history.hpp"

#include <algorithm>
#include <map>
#include <ostream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace raftd::sim {

namespace {

constexpr int64_t never = std::numeric_limits<int64_t>::max();

/// The register's value: 0 is "absent", 1 any value no read returned (they
/// all behave alike: only a delete's "found" tells them from absent), others
/// index the values reads returned.
using value_id = uint32_t;
constexpr value_id unread = 1;
/// No unknown op waits for its observer (see search::run).
constexpr value_id none = std::numeric_limits<value_id>::max();

/// An op as the search sees it.
struct lin_op {
  history_op::kind_t kind;
  bool unknown;
  value_id value; ///< put: written; read: returned (0: absent)
  bool found;     ///< delete: whether the key held a value
  int64_t invoke;
  int64_t complete; ///< `never` if unknown
  const history_op* src;
};

/// The model's step: whether `op` may run on `s`, and the value after.
bool step(const lin_op& op, value_id s, value_id& out) {
  out = s;
  switch (op.kind) {
  case history_op::put: out = op.value; return true;
  case history_op::read: return s == op.value;
  case history_op::del:
    if (!op.unknown && op.found != (s != 0))
      return false;
    out = 0;
    return true;
  default: return false;
  }
}

/// One call or return in time order, in a doubly linked list.
struct event {
  size_t op;
  bool is_call;
  size_t prev, next; // 0 is the head sentinel
  size_t match;      // the other event of the op
};

class search {
public:
  explicit search(std::vector<lin_op> ops) : ops_(std::move(ops)) {
    std::vector<std::tuple<int64_t, int, size_t>> order;
    for (size_t i = 0; i < ops_.size(); ++i) {
      order.emplace_back(ops_[i].invoke, 0, i);
      order.emplace_back(ops_[i].complete, 1, i); // calls first at a tie
    }
    std::sort(order.begin(), order.end());
    events_.resize(order.size() + 1);
    std::vector<size_t> call_of(ops_.size()), ret_of(ops_.size());
    for (size_t k = 0; k < order.size(); ++k) {
      auto& e = events_[k + 1];
      e.op = std::get<2>(order[k]);
      e.is_call = std::get<1>(order[k]) == 0;
      e.prev = k;
      e.next = k + 2 < events_.size() ? k + 2 : 0;
      (e.is_call ? call_of : ret_of)[e.op] = k + 1;
    }
    events_[0].next = events_.size() > 1 ? 1 : 0;
    for (size_t i = 0; i < ops_.size(); ++i) {
      events_[call_of[i]].match = ret_of[i];
      events_[ret_of[i]].match = call_of[i];
    }
    words_ = (ops_.size() + 63) / 64;
  }

  /// True if linearizable; else `stuck` names the op (with the most ops
  /// linearized before it) whose return came before it could be placed.
  ///
  /// Unknown ops have no deadline, so any linearization can be rewritten
  /// to place each one directly before a definite op that could not run
  /// without it (else move it past that op, or drop it where a write hides
  /// it). The search tries only such placements: after an unknown op
  /// (`before` holds the value it replaced), the next op is a definite one
  /// that fails on `before`. This keeps the many unknown writes of a faulty
  /// run from multiplying the configurations.
  bool run(uint64_t max_steps, bool& exhausted) {
    std::vector<uint64_t> done(words_, 0);
    struct frame {
      size_t call;
      value_id state;
      value_id before;
    };
    std::vector<frame> calls;
    value_id state = 0;
    value_id before = none;
    size_t e = events_[0].next;
    uint64_t steps = 0;
    while (events_[0].next != 0) {
      if (++steps > max_steps) {
        exhausted = true;
        return false;
      }
      auto& ev = events_[e];
      if (ev.is_call) {
        auto& op = ops_[ev.op];
        value_id next_state, ignored;
        bool placeable = before == none
                         || (!op.unknown && !step(op, before, ignored));
        if (placeable && step(op, state, next_state)) {
          auto next_before = op.unknown ? state : none;
          set(done, ev.op, true);
          if (memo_.insert(memo_key(done, next_state, next_before)).second) {
            calls.push_back(frame{e, state, before});
            state = next_state;
            before = next_before;
            lift(e);
            e = events_[0].next;
            continue;
          }
          set(done, ev.op, false);
        }
        e = ev.next;
        continue;
      }
      // A return: its op is not linearized yet. Only unknown ops never
      // return; the first of their returns means every other op is placed.
      if (ops_[ev.op].unknown)
        return true;
      if (calls.size() >= best_) {
        best_ = calls.size();
        stuck = ev.op;
      }
      if (calls.empty())
        return false;
      auto [c, s, b] = calls.back();
      calls.pop_back();
      state = s;
      before = b;
      set(done, events_[c].op, false);
      unlift(c);
      e = events_[c].next;
    }
    return true;
  }

  size_t stuck = 0;

private:
  void lift(size_t c) {
    for (auto x : {c, events_[c].match}) {
      events_[events_[x].prev].next = events_[x].next;
      if (events_[x].next != 0)
        events_[events_[x].next].prev = events_[x].prev;
    }
  }

  void unlift(size_t c) {
    for (auto x : {events_[c].match, c}) {
      events_[events_[x].prev].next = x;
      if (events_[x].next != 0)
        events_[events_[x].next].prev = x;
    }
  }

  static void set(std::vector<uint64_t>& bits, size_t i, bool on) {
    if (on)
      bits[i / 64] |= uint64_t{1} << (i % 64);
    else
      bits[i / 64] &= ~(uint64_t{1} << (i % 64));
  }

  static std::string memo_key(const std::vector<uint64_t>& bits,
                              value_id s, value_id before) {
    std::string k(reinterpret_cast<const char*>(bits.data()),
                  bits.size() * sizeof(uint64_t));
    k.append(reinterpret_cast<const char*>(&s), sizeof(s));
    k.append(reinterpret_cast<const char*>(&before), sizeof(before));
    return k;
  }

  std::vector<lin_op> ops_;
  std::vector<event> events_;
  size_t words_ = 0;
  size_t best_ = 0;
  std::unordered_set<std::string> memo_;
};

std::string when(int64_t t) {
  return t == never ? "never" : std::to_string(t);
}

/// A stale read returns "absent" or a value some put of its key, invoked
/// before the read completed and not refused, wrote.
std::optional<std::string>
check_stale(const history_op& r, const std::vector<const history_op*>& ops) {
  if (!r.found)
    return std::nullopt;
  for (auto* w : ops)
    if (w->kind == history_op::put && w->outcome != history_op::failed
        && w->value == r.value && w->invoke <= r.complete)
      return std::nullopt;
  return describe(r) + " returned a value no put of " + r.key
         + " invoked before it completed wrote";
}

/// Wing & Gong over one key's linearizable ops.
std::optional<std::string>
check_key(const std::vector<const history_op*>& ops, uint64_t max_steps,
          bool& undecided) {
  std::unordered_map<std::string, value_id> ids;
  for (auto* op : ops)
    if (op->kind == history_op::read && op->outcome == history_op::ok
        && op->found)
      ids.emplace(op->value, static_cast<value_id>(ids.size() + 2));
  auto intern = [&](const std::string& v) {
    auto i = ids.find(v);
    return i == ids.end() ? unread : i->second;
  };
  std::vector<lin_op> lin;
  for (auto* op : ops) {
    if (op->outcome == history_op::failed || op->kind == history_op::stale_read
        || (op->kind == history_op::read && op->outcome != history_op::ok))
      continue;
    bool unknown = op->outcome == history_op::unknown;
    value_id v = 0;
    if (op->kind == history_op::put || (op->kind == history_op::read
                                        && op->found))
      v = intern(op->value);
    lin.push_back(lin_op{op->kind, unknown, v, op->found, op->invoke,
                         unknown ? never : op->complete, op});
  }
  search s{lin};
  bool exhausted = false;
  if (s.run(max_steps, exhausted))
    return std::nullopt;
  undecided = exhausted;
  if (exhausted)
    return "undecided after " + std::to_string(max_steps) + " steps ("
           + std::to_string(lin.size()) + " ops)";
  auto& bad = *lin[s.stuck].src;
  std::string detail = "not linearizable: " + describe(bad)
                       + " cannot take effect within its interval";
  if (bad.kind == history_op::read && bad.found) {
    auto w = std::find_if(ops.begin(), ops.end(), [&](auto* o) {
      return o->kind == history_op::put && o->value == bad.value;
    });
    detail += w == ops.end() ? " (no put wrote that value)"
                             : " (written by " + describe(**w) + ")";
  }
  return detail;
}

} // namespace

std::string describe(const history_op& op) {
  static const char* kinds[] = {"put", "delete", "read", "stale read"};
  static const char* outcomes[] = {"ok", "failed", "unknown"};
  std::string s = "op " + std::to_string(op.id) + " " + kinds[op.kind] + " "
                  + op.key;
  if (op.kind == history_op::put)
    s += "=" + op.value;
  else if (op.outcome == history_op::ok && op.kind != history_op::del)
    s += op.found ? " -> '" + op.value + "'" : " -> absent";
  else if (op.outcome == history_op::ok)
    s += op.found ? " -> existed" : " -> was absent";
  s += " [" + std::to_string(op.invoke) + ", "
       + (op.outcome == history_op::unknown ? when(never)
                                             : when(op.complete))
       + "] " + outcomes[op.outcome];
  return s;
}

void write_history(std::ostream& out, const std::vector<history_op>& ops) {
  static const char* kinds[] = {"write", "delete", "read", "read"};
  static const char* outcomes[] = {"ok", "failed", "unknown"};
  for (auto& op : ops) {
    if (op.kind == history_op::stale_read)
      continue;
    bool has_value = op.kind == history_op::put
                     || (op.kind == history_op::read && op.found);
    out << "{\"id\": " << op.id << ", \"op\": \"" << kinds[op.kind]
        << "\", \"key\": \"" << op.key << "\", \"value\": "
        << (has_value ? "\"" + op.value + "\"" : "null")
        << ", \"invoke\": " << op.invoke / 1e6 << ", \"complete\": ";
    if (op.outcome == history_op::unknown)
      out << "null";
    else
      out << op.complete / 1e6;
    out << ", \"outcome\": \"" << outcomes[op.outcome] << "\"";
    if (op.kind == history_op::del && op.outcome == history_op::ok)
      out << ", \"found\": " << (op.found ? "true" : "false");
    out << "}\n";
  }
}

std::optional<history_failure>
check_history(const std::vector<history_op>& ops, uint64_t max_steps) {
  size_t undecided = 0;
  auto f = check_history(ops, max_steps, undecided);
  if (!f && undecided > 0)
    return history_failure{"?", std::to_string(undecided)
                                  + " key(s) undecided after "
                                  + std::to_string(max_steps) + " steps"};
  return f;
}

std::optional<history_failure>
check_history(const std::vector<history_op>& ops, uint64_t max_steps,
              size_t& undecided) {
  std::map<std::string, std::vector<const history_op*>> by_key;
  for (auto& op : ops)
    by_key[op.key].push_back(&op);
  for (auto& [key, kops] : by_key) {
    for (auto* op : kops)
      if (op->kind == history_op::stale_read && op->outcome == history_op::ok)
        if (auto why = check_stale(*op, kops))
          return history_failure{key, *why};
    bool open = false;
    auto why = check_key(kops, max_steps, open);
    if (open)
      ++undecided;
    else if (why)
      return history_failure{key, *why};
  }
  return std::nullopt;
}

} // namespace raftd::sim

#include "http/acceptor.hpp"

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/stateful_actor.hpp>

#include "http/error_map.hpp"
#include "http/join.hpp"
#include "http/parser.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "http/socket_writer.hpp"
#include "http/status_json.hpp"
#include "storage/snapshot_file.hpp"

namespace raftd {

namespace {

using caf::io::connection_handle;
using clock_type = std::chrono::steady_clock;

/// Bytes taken from a socket per read event.
constexpr size_t read_chunk_bytes = 16 << 10;

/// Responses a connection may owe before the acceptor stops reading from it
/// (a client that pipelines without reading). A soft bound: CAF may already
/// have read up to `middleman.max-consecutive-reads` chunks ahead.
constexpr size_t max_owed_responses = 128;

/// Bytes written to a connection but not yet sent (a client that does not
/// read its answers) before the acceptor stops reading its requests. Reading
/// resumes below half of it.
constexpr size_t max_unsent_bytes = 4 << 20;

/// The framing of an answer after which the connection closes.
constexpr http::framing last_answer{true, false, false};

/// The body of the 503 that turns away a connection over -max-conns.
constexpr std::string_view too_many_conns_body = "too many connections\n";

/// A backup streamed as the body of `GET /snapshot` (storage/
/// snapshot_file.hpp), one chunk of the node's snapshot at a time. The next
/// chunk is asked of the node only once the socket took all of the last one
/// (CAF holds none of the connection's bytes), so a slow client holds one
/// chunk in memory here, never the snapshot.
struct download {
  /// The response slot it answers; it writes only once every earlier
  /// answer is out (seq == head).
  uint64_t seq = 0;
  http::framing framing;
  /// HTTP/1.1: chunked; HTTP/1.0: raw bytes, then the connection closes.
  bool chunked = true;
  /// The snapshot's id at the node (0 until the node opened it).
  uint64_t id = 0;
  /// The chunk to ask for next, and whether a request for one is out.
  uint64_t next_chunk = 0;
  bool asking = false;
  /// The status line went out: an error now can only cut the body short
  /// (the file's missing end record tells the client).
  bool started = false;
  /// The last chunk is in `pending` (or sent).
  bool finished = false;
  snapshot_file_writer writer;
  /// Bytes of the chunk received, not yet handed to the socket.
  std::string pending;
};

/// A request waiting for the node, and when it stops waiting.
struct awaited {
  uint64_t seq;
  http::framing framing;
  clock_type::time_point due;
  http::op_kind op;
  std::string path;
  std::string query;
};

/// One client connection.
struct connection {
  /// Unique per acceptor. Connection handles are file descriptors and get
  /// reused, so late replies and timers check this id, not the handle.
  uint64_t id = 0;
  http::request_parser parser;
  /// Sequence number of out.front(); requests are numbered as they arrive.
  uint64_t head = 0;
  /// Serialized responses in request order; empty while the node works.
  std::deque<std::optional<std::string>> out;
  /// The requests sent to the node, oldest first (bounded like `out`).
  std::deque<awaited> waiting;
  /// No more requests are read; close once `out` is written.
  bool closing = false;
  /// Reading is paused (see update_reading).
  bool halted = false;
  /// More than max_unsent_bytes wait in CAF's send buffers; write
  /// acknowledgements are on until they drain.
  bool backlogged = false;
  /// The socket, for answers written straight to it (see send_out); -1:
  /// every answer goes through CAF.
  int fd = -1;
  /// Bytes handed to CAF and not yet reported sent (data_transferred_msg).
  /// While nonzero, answers queue behind them in CAF, which keeps the order.
  uint64_t caf_owed = 0;
  /// Last time bytes came in or went out (the idle timer measures from it).
  clock_type::time_point last_active;
  /// The `GET /snapshot` being answered, if any (one at a time).
  std::optional<download> dl;

  connection(uint64_t id, http::parser_limits limits)
    : id(id), parser(limits), last_active(clock_type::now()) {
  }
};

struct acceptor_state {
  static inline const char* name = "http_acceptor";
  /// Where every request goes.
  node_actor node;
  http_config cfg;
  /// The open connections; a closed one is erased at once, so late replies
  /// for it find nothing (or a newer connection with another id).
  std::unordered_map<connection_handle, connection> conns;
  /// The id of the last connection accepted.
  uint64_t next_id = 0;
  /// The request-timeout sweep is scheduled (only while requests wait).
  bool sweep_armed = false;
  /// Scratch for flush_ready and send_out, kept so that answering does not
  /// allocate.
  std::vector<std::string_view> parts;
  std::vector<iovec> iov;
};

using acceptor_broker = caf::stateful_actor<acceptor_state, caf::io::broker>;

/// Where a reply belongs: a connection (by handle and id) and a slot in it.
struct reply_slot {
  connection_handle hdl;
  uint64_t conn_id;
  uint64_t seq;
  http::framing framing;
};

connection* find(acceptor_broker* self, connection_handle hdl, uint64_t id) {
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end() || i->second.id != id)
    return nullptr;
  return &i->second;
}

void arm_idle_timer(acceptor_broker* self, connection_handle hdl, uint64_t id,
                    clock_type::duration after) {
  self->delayed_send(self, after, atom::idle::value, hdl, id);
}

/// Drops the connection's state; a snapshot it was reading is closed at
/// the node at once rather than after the node's idle expiry.
void forget(acceptor_broker* self, connection_handle hdl) {
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end())
    return;
  if (i->second.dl && i->second.dl->id != 0)
    self->send(self->state.node, atom::close::value, i->second.dl->id);
  self->state.conns.erase(i);
}

void close_connection(acceptor_broker* self, connection_handle hdl) {
  self->close(hdl); // graceful: what is buffered still goes out
  forget(self, hdl); // our own close brings no closed message
}

void pump_download(acceptor_broker* self, connection_handle hdl);
void start_download(acceptor_broker* self, connection& c,
                    const reply_slot& slot, const http::http_request& rq);

/// Pauses reading while the connection owes too many answers or has too
/// many bytes unsent, and resumes once both are down to half.
void update_reading(acceptor_broker* self, connection_handle hdl,
                    connection& c) {
  if (!c.halted && (c.out.size() >= max_owed_responses || c.backlogged)) {
    c.halted = true;
    self->halt(hdl);
  } else if (c.halted && c.out.size() <= max_owed_responses / 2
             && !c.backlogged) {
    c.halted = false;
    self->trigger(hdl);
  }
}

/// After a flush: what CAF could not send at once waits in wr_buf (the
/// offline buffer behind the write in progress). Too much of it: ask CAF to
/// report progress (data_transferred_msg) and stop reading meanwhile.
void check_backlog(acceptor_broker* self, connection_handle hdl,
                   connection& c) {
  if (!c.backlogged && self->wr_buf(hdl).size() > max_unsent_bytes) {
    c.backlogged = true;
    self->ack_writes(hdl, true);
  }
}

void on_transferred(acceptor_broker* self,
                    const caf::io::data_transferred_msg& m) {
  auto i = self->state.conns.find(m.handle);
  if (i == self->state.conns.end())
    return;
  auto& c = i->second;
  c.caf_owed -= std::min(c.caf_owed, m.written);
  if (c.backlogged && m.remaining <= max_unsent_bytes / 2) {
    c.backlogged = false;
    update_reading(self, m.handle, c);
  }
  if (!c.backlogged && c.caf_owed == 0)
    self->ack_writes(m.handle, false);
  if (c.dl && c.caf_owed == 0)
    pump_download(self, m.handle); // the socket took the last chunk
}

/// The socket behind `hdl`, or -1. CAF's default multiplexer names a
/// connection by its socket (conn_hdl_from_socket); the peer's port is
/// checked all the same before the acceptor writes to it itself.
int socket_of(acceptor_broker* self, connection_handle hdl) {
  return http::socket_if_peer(static_cast<int>(hdl.id()),
                              self->remote_port(hdl));
}

/// Sends `parts` in order. While CAF holds none of this connection's bytes,
/// they go straight to the socket: a flush through CAF costs two epoll_ctl
/// calls (watch for writable, stop watching) and a multiplexer round per
/// answer, a quarter of the leader's system calls per write. What the
/// socket does not take at once goes to CAF, and later answers follow it
/// there until CAF reports everything sent. False: the socket failed (the
/// client is gone).
bool send_out(acceptor_broker* self, connection_handle hdl, connection& c,
              const std::vector<std::string_view>& parts) {
  size_t sent = 0;
  if (c.fd >= 0 && c.caf_owed == 0) {
    auto n = http::write_now(c.fd, parts, self->state.iov);
    if (!n)
      return false;
    sent = *n;
  }
  auto& buf = self->wr_buf(hdl);
  auto before = buf.size();
  for (auto& p : parts) {
    auto skip = std::min(sent, p.size());
    sent -= skip;
    buf.insert(buf.end(), p.begin() + skip, p.end());
  }
  if (buf.size() == before)
    return true;
  // A download needs to know when CAF has sent everything (its
  // backpressure), with or without direct writes.
  if (c.fd >= 0 || c.dl) {
    if (c.caf_owed == 0 && !c.backlogged)
      self->ack_writes(hdl, true);
    c.caf_owed += buf.size() - before;
  }
  self->flush(hdl);
  check_backlog(self, hdl, c);
  return true;
}

/// Writes the responses at the front of `out` that are ready, in order, and
/// closes the connection when it is done. Returns the connection if it is
/// still open.
connection* flush_ready(acceptor_broker* self, connection_handle hdl) {
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end())
    return nullptr;
  auto& c = i->second;
  size_t ready = 0;
  while (ready < c.out.size() && c.out[ready])
    ++ready;
  if (ready > 0) {
    auto& parts = self->state.parts;
    parts.clear();
    for (size_t k = 0; k < ready; ++k)
      parts.emplace_back(*c.out[k]);
    auto ok = send_out(self, hdl, c, parts);
    c.out.erase(c.out.begin(), c.out.begin() + ready);
    c.head += ready;
    c.last_active = clock_type::now();
    if (!ok) {
      close_connection(self, hdl);
      return nullptr;
    }
  }
  if (c.out.empty() && c.closing) {
    close_connection(self, hdl);
    return nullptr;
  }
  return &c;
}

/// Stores the answer for `slot` (if its connection still exists) and writes
/// whatever is now ready.
void fill(acceptor_broker* self, const reply_slot& slot,
          const http::http_response& r) {
  auto c = find(self, slot.hdl, slot.conn_id);
  if (c == nullptr)
    return; // the client went away
  if (slot.seq < c->head || c->out[slot.seq - c->head])
    return; // already answered: the request timeout passed first
  c->out[slot.seq - c->head] = http::serialize(r, slot.framing);
  if (auto open = flush_ready(self, slot.hdl)) {
    update_reading(self, slot.hdl, *open);
    if (open->dl)
      pump_download(self, slot.hdl); // its turn may have come
  }
}

http::http_response value_response(std::string value) {
  http::http_response r;
  r.body = std::move(value);
  r.type = http::content_type::octet_stream;
  return r;
}

http::http_response json_response(std::string body) {
  http::http_response r;
  r.body = std::move(body);
  r.type = http::content_type::json;
  return r;
}

/// The error handler of a node request: maps the error into the slot.
auto on_error(acceptor_broker* self, reply_slot slot, http::op_kind op,
              const http::http_request& rq) {
  return [self, slot, op, path = rq.path, query = rq.query](caf::error& e) {
    auto rendered = self->system().render(e);
    fill(self, slot, http::error_response(e, op, path, query, rendered));
  };
}

void ask_get(acceptor_broker* self, const reply_slot& slot,
             const http::route& r, const http::http_request& rq) {
  auto& st = self->state;
  self->request(st.node, caf::infinite, atom::get::value, r.key,
                r.mode)
    .then(
      [self, slot](bool found, std::string& value) {
        fill(self, slot,
             found ? value_response(std::move(value))
                   : http::empty_response(404));
      },
      on_error(self, slot, http::op_kind::read, rq));
}

void ask_put(acceptor_broker* self, const reply_slot& slot,
             const http::route& r, http::http_request& rq) {
  auto& st = self->state;
  auto err = on_error(self, slot, http::op_kind::write, rq);
  self->request(st.node, caf::infinite, atom::put::value, r.key,
                std::move(rq.body))
    .then(
      [self, slot](uint64_t) { fill(self, slot, http::empty_response(200)); },
      std::move(err));
}

void ask_delete(acceptor_broker* self, const reply_slot& slot,
                const http::route& r, const http::http_request& rq) {
  auto& st = self->state;
  self->request(st.node, caf::infinite, atom::del::value, r.key)
    .then(
      [self, slot](uint64_t, bool found) {
        fill(self, slot, http::empty_response(found ? 200 : 404));
      },
      on_error(self, slot, http::op_kind::write, rq));
}

void ask_status(acceptor_broker* self, const reply_slot& slot,
                const http::http_request& rq) {
  auto& st = self->state;
  self->request(st.node, caf::infinite, atom::status::value)
    .then(
      [self, slot](const node_status& s) {
        fill(self, slot, json_response(http::status_json(s)));
      },
      on_error(self, slot, http::op_kind::read, rq));
}

/// Sends a parsed join to the node: 200 once the member is in a committed
/// configuration.
void ask_join(acceptor_broker* self, const reply_slot& slot, member m,
              const http::http_request& rq) {
  auto& st = self->state;
  self->request(st.node, caf::infinite, atom::join::value,
                std::move(m))
    .then(
      [self, slot](uint64_t) { fill(self, slot, http::empty_response(200)); },
      on_error(self, slot, http::op_kind::write, rq));
}

void ask_leave(acceptor_broker* self, const reply_slot& slot,
               const http::route& r, const http::http_request& rq) {
  auto& st = self->state;
  self->request(st.node, caf::infinite, atom::leave::value, r.key)
    .then(
      [self, slot](uint64_t) { fill(self, slot, http::empty_response(200)); },
      on_error(self, slot, http::op_kind::write, rq));
}

/// Parses the body of a join into `m`; on failure turns `r` into its 400
/// answer (nothing goes to the node).
bool parse_join(const http::http_request& rq, member& m, http::route& r) {
  std::string error;
  if (http::parse_join_request(rq.body, m, error))
    return true;
  r.kind = http::route_kind::error;
  r.status = 400;
  r.body = error + "\n";
  return false;
}

http::framing framing_for(const http::http_request& rq) {
  http::framing f;
  f.close = !rq.keep_alive;
  f.echo_keep_alive = rq.http10 && rq.keep_alive;
  f.omit_body = rq.head;
  return f;
}

/// How often waiting requests are checked against the request timeout: a
/// request answered 504/503 is at most this late. One coarse timer for the
/// whole acceptor instead of a CAF request timeout per request, which costs
/// a wake-up of CAF's clock thread and a timeout message per request.
clock_type::duration sweep_interval(const http_config& cfg) {
  auto d = std::chrono::duration_cast<clock_type::duration>(
    cfg.request_timeout / 20);
  return std::max<clock_type::duration>(d, std::chrono::milliseconds{10});
}

void arm_sweep(acceptor_broker* self) {
  auto& st = self->state;
  if (st.sweep_armed)
    return;
  st.sweep_armed = true;
  self->delayed_send(self, sweep_interval(st.cfg), atom::sweep::value);
}

/// Notes that the request in slot `seq` waits for the node.
void await_node(acceptor_broker* self, connection& c, const reply_slot& slot,
                http::route_kind kind, const http::http_request& rq) {
  bool read = kind == http::route_kind::db_get
              || kind == http::route_kind::status;
  auto op = read ? http::op_kind::read : http::op_kind::write;
  auto due = clock_type::now() + self->state.cfg.request_timeout;
  c.waiting.push_back(awaited{slot.seq, slot.framing, due, op, rq.path,
                             rq.query});
  arm_sweep(self);
}

/// Answers every request that waited past the request timeout: a write gets
/// 504 (its outcome is unknown), a read 503.
void on_sweep(acceptor_broker* self) {
  auto& st = self->state;
  st.sweep_armed = false;
  auto now = clock_type::now();
  bool more = false;
  std::vector<std::pair<reply_slot, awaited>> late;
  for (auto& [hdl, c] : st.conns) {
    auto& ws = c.waiting;
    while (!ws.empty() && (ws.front().seq < c.head || ws.front().due <= now)) {
      auto& w = ws.front();
      if (w.seq >= c.head && !c.out[w.seq - c.head])
        late.emplace_back(reply_slot{hdl, c.id, w.seq, w.framing},
                          std::move(w));
      ws.pop_front();
    }
    more = more || !ws.empty();
  }
  for (auto& [slot, w] : late) {
    caf::error err{caf::sec::request_timeout};
    fill(self, slot, http::error_response(err, w.op, w.path, w.query,
                                          self->system().render(err)));
  }
  if (more)
    arm_sweep(self);
}

/// Reserves the next response slot of `c` for `rq` and starts its work. Never
/// writes: the caller flushes (an early error answer is stored in the slot).
void dispatch(acceptor_broker* self, connection_handle hdl, connection& c,
              http::http_request& rq) {
  reply_slot slot{hdl, c.id, c.head + c.out.size(), framing_for(rq)};
  c.out.emplace_back();
  c.closing = c.closing || !rq.keep_alive;
  auto r = http::route_request(rq.method, rq.path, rq.query);
  // A download bounds each of its requests to the node itself; the sweep
  // would answer it 503 mid-stream.
  if (r.kind != http::route_kind::error
      && r.kind != http::route_kind::snapshot)
    await_node(self, c, slot, r.kind, rq);
  switch (r.kind) {
    case http::route_kind::db_get: return ask_get(self, slot, r, rq);
    case http::route_kind::db_put: return ask_put(self, slot, r, rq);
    case http::route_kind::db_delete: return ask_delete(self, slot, r, rq);
    case http::route_kind::status: return ask_status(self, slot, rq);
    case http::route_kind::join:
      if (member m; parse_join(rq, m, r))
        return ask_join(self, slot, std::move(m), rq);
      break;
    case http::route_kind::leave: return ask_leave(self, slot, r, rq);
    case http::route_kind::snapshot:
      if (!c.dl)
        return start_download(self, c, slot, rq);
      r.status = 503; // one at a time per connection (a bound)
      r.body = "a snapshot is being sent on this connection already\n";
      break;
    case http::route_kind::error: break;
  }
  auto resp = http::text_response(r.status, std::move(r.body));
  resp.allow = std::move(r.allow);
  c.out.back() = http::serialize(resp, slot.framing);
}

/// Queues the answer to a parse error; the connection closes after it.
void reject_input(connection& c) {
  auto& err = c.parser.error();
  auto resp = http::text_response(err.status, err.what + "\n");
  c.out.emplace_back(http::serialize(resp, last_answer));
  c.closing = true;
}

/// Tells a client waiting on `Expect: 100-continue` to send its body. Only
/// sent when no earlier response is owed, so it cannot overtake one.
void send_continue(acceptor_broker* self, connection_handle hdl,
                   connection& c) {
  if (!send_out(self, hdl, c, {http::continue_response}))
    c.closing = true; // the client is gone; CAF reports the close
}

void on_data(acceptor_broker* self, const caf::io::new_data_msg& m) {
  auto i = self->state.conns.find(m.handle);
  if (i == self->state.conns.end() || i->second.closing)
    return; // input after the last request we answer is ignored
  auto& c = i->second;
  c.last_active = clock_type::now();
  std::vector<http::http_request> reqs;
  bool ok = c.parser.feed(m.buf.data(), m.buf.size(), reqs);
  for (auto& rq : reqs)
    if (!c.closing)
      dispatch(self, m.handle, c, rq);
  if (!ok && !c.closing)
    reject_input(c);
  if (c.parser.take_continue() && c.out.empty() && !c.closing)
    send_continue(self, m.handle, c);
  if (auto open = flush_ready(self, m.handle); open && !open->closing)
    update_reading(self, m.handle, *open);
}

// -- GET /snapshot ----------------------------------------------------------------

/// The download's request to the node failed: before the status line went
/// out, the error becomes the answer; after, the body is cut short.
void fail_download(acceptor_broker* self, connection_handle hdl,
                   const caf::error& err) {
  auto& c = self->state.conns.at(hdl);
  if (!c.dl)
    return;
  auto& d = *c.dl;
  auto rendered = self->system().render(err);
  if (d.started)
    return close_connection(self, hdl);
  reply_slot slot{hdl, c.id, d.seq, d.framing};
  c.dl.reset();
  fill(self, slot, http::error_response(err, http::op_kind::read,
                                        "/snapshot", "", rendered));
}

/// Encodes one chunk of the snapshot into the bytes that go out next.
void take_chunk(download& d, snapshot_chunk& c) {
  std::string bytes;
  if (c.seq == 0)
    bytes = d.writer.begin(c.meta);
  d.writer.append(c.keys, c.values, bytes);
  if (c.last) {
    bytes += d.writer.finish();
    d.finished = true;
  }
  if (!d.chunked) {
    d.pending = std::move(bytes);
    return;
  }
  http::append_chunk(d.pending, bytes);
  if (d.finished)
    d.pending += http::last_chunk;
}

void ask_chunk(acceptor_broker* self, connection_handle hdl, connection& c) {
  auto& d = *c.dl;
  d.asking = true;
  auto conn_id = c.id;
  self->request(self->state.node, self->state.cfg.request_timeout,
                atom::snapshot::value, d.id, d.next_chunk)
    .then(
      [=](snapshot_chunk& chunk) {
        auto c = find(self, hdl, conn_id);
        if (c == nullptr || !c->dl)
          return; // gone; forget() closed the snapshot at the node
        auto& d = *c->dl;
        d.asking = false;
        ++d.next_chunk;
        take_chunk(d, chunk);
        pump_download(self, hdl);
      },
      [=](caf::error& err) {
        if (find(self, hdl, conn_id) != nullptr)
          fail_download(self, hdl, err);
      });
}

/// The download's answer is whole: the next answers may go.
void end_download(acceptor_broker* self, connection_handle hdl,
                  connection& c) {
  bool chunked = c.dl->chunked;
  c.dl.reset();
  c.out.pop_front();
  ++c.head;
  c.closing = c.closing || !chunked;
  if (auto open = flush_ready(self, hdl))
    update_reading(self, hdl, *open);
}

/// Moves the download on as far as it can now: once it is its turn, sends
/// what it holds, and asks for the next chunk once the socket took it.
void pump_download(acceptor_broker* self, connection_handle hdl) {
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end() || !i->second.dl)
    return;
  auto& c = i->second;
  auto& d = *c.dl;
  if (d.seq != c.head || d.id == 0)
    return; // earlier answers first; or the node has not opened it yet
  if (!d.pending.empty()) {
    std::string head;
    if (!d.started)
      head = http::stream_head(http::content_type::octet_stream, d.framing,
                               d.chunked);
    d.started = true;
    auto bytes = std::move(d.pending);
    d.pending.clear();
    c.last_active = clock_type::now();
    if (!send_out(self, hdl, c, {head, bytes}))
      return close_connection(self, hdl);
  }
  if (d.finished)
    return end_download(self, hdl, c);
  if (!d.asking && c.caf_owed == 0)
    ask_chunk(self, hdl, c);
}

/// Opens a snapshot at the node for `GET /snapshot`; its chunks follow
/// (pump_download).
void start_download(acceptor_broker* self, connection& c,
                    const reply_slot& slot, const http::http_request& rq) {
  c.dl.emplace();
  auto& d = *c.dl;
  d.seq = slot.seq;
  d.framing = slot.framing;
  d.chunked = !rq.http10;
  c.closing = c.closing || rq.http10;
  auto hdl = slot.hdl;
  auto conn_id = slot.conn_id;
  self->request(self->state.node, self->state.cfg.request_timeout,
                atom::snapshot::value)
    .then(
      [=](uint64_t id) {
        auto c = find(self, hdl, conn_id);
        if (c == nullptr || !c->dl) {
          self->send(self->state.node, atom::close::value, id);
          return;
        }
        c->dl->id = id;
        pump_download(self, hdl);
      },
      [=](caf::error& err) {
        if (find(self, hdl, conn_id) != nullptr)
          fail_download(self, hdl, err);
      });
}

/// Answers a connection over -max-conns with 503 and closes it.
void turn_away(acceptor_broker* self, connection_handle hdl) {
  auto resp = http::text_response(503, std::string{too_many_conns_body});
  auto bytes = http::serialize(resp, last_answer);
  auto& buf = self->wr_buf(hdl);
  buf.insert(buf.end(), bytes.begin(), bytes.end());
  self->flush(hdl);
  self->close(hdl);
}

void on_connection(acceptor_broker* self, connection_handle hdl) {
  auto& st = self->state;
  if (st.conns.size() >= st.cfg.max_conns)
    return turn_away(self, hdl);
  http::parser_limits limits{st.cfg.max_header_size, st.cfg.max_value_size};
  auto id = ++st.next_id;
  auto& c = st.conns
              .emplace(std::piecewise_construct, std::forward_as_tuple(hdl),
                       std::forward_as_tuple(id, limits))
              .first->second;
  if (st.cfg.direct_writes)
    c.fd = socket_of(self, hdl);
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_bytes));
  arm_idle_timer(self, hdl, id, st.cfg.idle_timeout);
}

/// One timer per connection: when it fires, the connection is closed if it
/// has been idle long enough, else the timer is armed for the rest. A
/// connection waiting for the node is busy, not idle (the request timeout
/// bounds that wait).
void on_idle_timer(acceptor_broker* self, connection_handle hdl, uint64_t id) {
  auto c = find(self, hdl, id);
  if (c == nullptr)
    return; // closed since (maybe its handle is reused: ids differ)
  auto idle = clock_type::duration{self->state.cfg.idle_timeout};
  auto quiet = clock_type::now() - c->last_active;
  if (!c->out.empty())
    return arm_idle_timer(self, hdl, id, idle);
  if (quiet >= idle)
    return close_connection(self, hdl);
  arm_idle_timer(self, hdl, id, idle - quiet);
}

caf::behavior acceptor(acceptor_broker* self, caf::io::doorman_ptr dm,
                       node_actor node, http_config cfg) {
  self->state.node = std::move(node);
  self->state.cfg = std::move(cfg);
  self->add_doorman(std::move(dm));
  return {
    [=](const caf::io::new_connection_msg& m) {
      on_connection(self, m.handle);
    },
    [=](const caf::io::new_data_msg& m) { on_data(self, m); },
    [=](const caf::io::data_transferred_msg& m) { on_transferred(self, m); },
    [=](const caf::io::connection_closed_msg& m) { forget(self, m.handle); },
    [=](atom::idle, connection_handle hdl, uint64_t id) {
      on_idle_timer(self, hdl, id);
    },
    [=](atom::sweep) { on_sweep(self); },
    [=](const caf::io::acceptor_closed_msg&) { self->quit(); },
  };
}

} // namespace

caf::expected<caf::actor> spawn_http_acceptor(caf::actor_system& sys,
                                              node_actor node,
                                              const http_config& cfg,
                                              uint16_t* bound_port) {
  auto& mm = sys.middleman();
  auto dm = mm.backend().new_tcp_doorman(cfg.port, cfg.host.c_str(), true);
  if (!dm)
    return std::move(dm.error());
  if (bound_port != nullptr)
    *bound_port = (*dm)->port();
  return mm.spawn_broker(acceptor, std::move(*dm), std::move(node), cfg);
}

} // namespace raftd

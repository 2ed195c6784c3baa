// One consistent snapshot, read in chunks (§7: "the leader ... sends chunks
// of a snapshot"). Each chunk carries the running count and checksum of
// the stream up to its end; the receiver checks the last one's against
// what it wrote. The stream remembers where each chunk it produced began,
// so a transfer broken off resumes at the chunk the follower wants next,
// rather than from the start (goraft #29, braft #423).
#include "actors/snapshot_stream.hpp"

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/errors.hpp"
#include "storage/snapshot.hpp"

namespace raftd {

namespace {

/// Where chunk `seq` begins: after `key` (the very first: at the start),
/// with the stream's digest up to there.
struct checkpoint {
  std::string key;
  snapshot_digest digest;
};

struct stream_state {
  static inline const char* name = "snapshot_stream";
  std::shared_ptr<snapshot_reader> reader;
  size_t chunk_bytes = 0;
  /// checkpoints[s]: where chunk s begins; one past the last chunk read.
  std::vector<checkpoint> checkpoints;
  /// The chunk the reader is positioned at.
  uint64_t position = 0;
  /// The seq of the last chunk, once the end was reached.
  bool ended = false;
  uint64_t last_seq = 0;
};

using stream_ptr = snapshot_stream_actor::stateful_pointer<stream_state>;

caf::result<snapshot_chunk> read_chunk(stream_ptr self, uint64_t seq) {
  auto& st = self->state;
  if (seq >= st.checkpoints.size() || (st.ended && seq > st.last_seq))
    return make_error(errc::bad_request,
                      "snapshot chunk " + std::to_string(seq)
                        + " is not next to one read so far");
  if (seq != st.position)
    st.reader->seek_after(st.checkpoints[seq].key, seq == 0);
  auto digest = st.checkpoints[seq].digest;
  snapshot_chunk c;
  c.meta = st.reader->meta();
  c.seq = seq;
  auto done = st.reader->read(st.chunk_bytes, c.keys, c.values);
  if (!done) {
    st.position = ~uint64_t{0}; // unknown: seek next time
    return done.error();
  }
  for (size_t i = 0; i < c.keys.size(); ++i)
    digest.add(c.keys[i], c.values[i]);
  c.last = *done;
  c.count = digest.count();
  c.checksum = digest.value();
  st.position = seq + 1;
  if (seq + 1 == st.checkpoints.size() && !c.last)
    st.checkpoints.push_back(
      checkpoint{c.keys.empty() ? st.checkpoints[seq].key : c.keys.back(),
                 digest});
  if (c.last) {
    st.ended = true;
    st.last_seq = seq;
  }
  return c;
}

snapshot_stream_actor::behavior_type
snapshot_stream(stream_ptr self, std::shared_ptr<snapshot_reader> reader,
                size_t chunk_bytes) {
  auto& st = self->state;
  st.reader = std::move(reader);
  st.chunk_bytes = chunk_bytes;
  st.checkpoints.push_back(checkpoint{});
  st.reader->seek_after({}, true);
  return {
    [=](atom::read, uint64_t seq) -> caf::result<snapshot_chunk> {
      return read_chunk(self, seq);
    },
  };
}

} // namespace

snapshot_stream_actor spawn_snapshot_stream(caf::actor_system& sys,
                                            std::shared_ptr<snapshot_reader> r,
                                            size_t chunk_bytes, bool detached) {
  if (detached)
    return sys.spawn<caf::detached>(snapshot_stream, std::move(r),
                                    chunk_bytes);
  return sys.spawn(snapshot_stream, std::move(r), chunk_bytes);
}

} // namespace raftd

#pragma once
// Writing answers straight to a client's socket, beside CAF: while CAF holds
// none of a connection's bytes, one sendmsg per batch of answers saves the
// two epoll_ctl calls and the multiplexer round that a flush through CAF
// costs (http/acceptor.cpp decides when; this file only writes).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <sys/uio.h>

namespace raftd::http {

/// `fd` if it is a connected socket whose peer port is `peer_port` (so the
/// descriptor still belongs to the connection the caller means), else -1.
int socket_if_peer(int fd, uint16_t peer_port);

/// Sends as much of `parts`, in order, as the non-blocking socket `fd`
/// takes now, in one sendmsg. Returns the bytes taken (0 if it would block),
/// or nothing if the socket failed (the client is gone). `iov` is scratch
/// kept by the caller so that writing does not allocate.
std::optional<size_t> write_now(int fd,
                                const std::vector<std::string_view>& parts,
                                std::vector<iovec>& iov);

} // namespace raftd::http

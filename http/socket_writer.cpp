#include "http/socket_writer.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>

namespace raftd::http {

int socket_if_peer(int fd, uint16_t peer_port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len))
    return -1;
  uint16_t port = 0;
  if (addr.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  else if (addr.ss_family == AF_INET6)
    port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return port != 0 && port == peer_port ? fd : -1;
}

std::optional<size_t> write_now(int fd,
                                const std::vector<std::string_view>& parts,
                                std::vector<iovec>& iov) {
  iov.clear();
  for (auto& p : parts)
    iov.push_back(iovec{const_cast<char*>(p.data()), p.size()});
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  ssize_t n;
  do
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return std::nullopt;
  return n < 0 ? 0 : static_cast<size_t>(n);
}

} // namespace raftd::http

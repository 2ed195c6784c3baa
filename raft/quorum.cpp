#include "raft/quorum.hpp"

#include <algorithm>
#include <functional>

namespace raftd::quorum {

uint64_t agreed_index(std::vector<uint64_t> held) {
  if (held.empty())
    return 0;
  auto k = majority(held.size()) - 1;
  std::nth_element(held.begin(), held.begin() + k, held.end(),
                   std::greater<>{});
  return held[k];
}

} // namespace raftd::quorum

#pragma once
// Majority math (etcd's quorum/majority.go), in one place: votes (§5.2),
// commit (§5.3), check-quorum (thesis §6.2) and read confirmation (thesis
// §6.4) all count the same way.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace raftd::quorum {

/// How many of `voters` make a majority.
constexpr size_t majority(size_t voters) {
  return voters / 2 + 1;
}

/// True if `yes` of `voters` are a majority.
constexpr bool reached(size_t yes, size_t voters) {
  return yes >= majority(voters);
}

/// The highest index a majority holds, given what each voter holds (one
/// value per voter): the majority()-th largest. 0 with no voters.
uint64_t agreed_index(std::vector<uint64_t> held);

} // namespace raftd::quorum

#include "storage/snapshot.hpp"

#include "messages/errors.hpp"
#include "storage/codec.hpp"
#include "storage/snapshot_checks.hpp"

namespace raftd {

namespace {

constexpr uint64_t fnv_prime = 1099511628211ull;

} // namespace

void snapshot_digest::add(std::string_view key, std::string_view value) {
  std::string len;
  codec::put_varint(len, key.size());
  mix(len);
  mix(key);
  len.clear();
  codec::put_varint(len, value.size());
  mix(len);
  mix(value);
  ++count_;
}

snapshot_digest snapshot_digest::resume(uint64_t count, uint64_t value) {
  snapshot_digest d;
  d.count_ = count;
  d.hash_ = value;
  return d;
}

void snapshot_digest::mix(std::string_view bytes) {
  for (auto c : bytes) {
    hash_ ^= static_cast<uint8_t>(c);
    hash_ *= fnv_prime;
  }
}

snapshot_reader::~snapshot_reader() {
  // nop
}

kv_install::~kv_install() {
  // nop
}

namespace detail {

caf::error check_chunk(const std::vector<std::string>& keys,
                       const std::vector<std::string>& values,
                       const std::string& last_key, bool any) {
  if (keys.size() != values.size())
    return make_error(errc::bad_request,
                      "snapshot chunk: " + std::to_string(keys.size())
                        + " keys but " + std::to_string(values.size())
                        + " values");
  for (size_t i = 0; i < keys.size(); ++i) {
    auto prev = i > 0 ? &keys[i - 1] : any ? &last_key : nullptr;
    if (prev != nullptr && !(*prev < keys[i]))
      return make_error(errc::bad_request,
                        "snapshot chunk: key " + std::to_string(i)
                          + " does not ascend past the one before");
  }
  return {};
}

caf::error check_totals(const snapshot_digest& got, uint64_t count,
                        uint64_t checksum) {
  if (got.count() != count || got.value() != checksum)
    return make_error(errc::corrupt_data,
                      "snapshot: received " + std::to_string(got.count())
                        + " pairs with checksum " + std::to_string(got.value())
                        + ", the sender announced " + std::to_string(count)
                        + " with checksum " + std::to_string(checksum));
  return {};
}

} // namespace detail

} // namespace raftd

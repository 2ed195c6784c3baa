#include "http/chunk_framing.hpp"

#include <algorithm>

#include "http/hex.hpp"

namespace raftd::http {

namespace {

/// Hex digits a chunk size may have: 15 keep it below 2^60, far past any
/// body limit, so the sum never overflows.
constexpr int max_size_digits = 15;

} // namespace

bool chunk_framing::feed(const char* data, size_t n) {
  size_t i = 0;
  while (i < n && state_ != state::broken) {
    if (state_ == state::data) {
      auto take = static_cast<size_t>(std::min<uint64_t>(left_, n - i));
      left_ -= take;
      i += take;
      if (left_ == 0)
        state_ = state::data_cr;
      continue;
    }
    step(data[i++]);
  }
  return state_ != state::broken;
}

bool chunk_framing::step(char c) {
  auto broken = [&] {
    state_ = state::broken;
    return false;
  };
  auto expect = [&](char want, state next) {
    state_ = c == want ? next : state::broken;
    return state_ != state::broken;
  };
  switch (state_) {
    case state::size:
      if (auto v = hex_value(c); v >= 0 && digits_ < max_size_digits) {
        size_ = size_ * 16 + static_cast<uint64_t>(v);
        ++digits_;
        return true;
      }
      if (digits_ == 0 || (c != ';' && c != '\r'))
        return broken();
      state_ = c == ';' ? state::ext : state::size_lf;
      return true;
    case state::ext:
      if (c == '\n')
        return broken();
      if (c == '\r')
        state_ = state::size_lf;
      return true;
    case state::size_lf:
      if (!expect('\n', size_ == 0 ? state::trailer : state::data))
        return false;
      left_ = size_;
      size_ = 0;
      digits_ = 0;
      return true;
    case state::data_cr: return expect('\r', state::data_lf);
    case state::data_lf: return expect('\n', state::size);
    case state::trailer:
      state_ = c == '\r' ? state::final_lf
               : c == '\n' ? state::broken : state::trailer_line;
      return state_ != state::broken;
    case state::trailer_line:
      if (c == '\n')
        return broken();
      if (c == '\r')
        state_ = state::trailer_lf;
      return true;
    case state::trailer_lf: return expect('\n', state::trailer);
    case state::final_lf: return expect('\n', state::done);
    case state::data:
    case state::done:
    case state::broken: return broken();
  }
  return false;
}

} // namespace raftd::http

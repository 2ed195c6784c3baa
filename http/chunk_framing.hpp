#pragma once
// A strict check of chunked transfer coding (RFC 9112 §7.1), byte by byte:
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   last-chunk   = 1*"0" [ chunk-ext ] CRLF
// libhttp-parser, as Debian builds it (not HTTP_PARSER_STRICT), skips the
// two bytes after a chunk's data without looking at them, so
// "5\r\nhelloXX0\r\n\r\n" passes as "hello": request-smuggling material. The
// request parser runs this beside it over the same body bytes.

#include <cstddef>
#include <cstdint>

namespace raftd::http {

class chunk_framing {
public:
  /// Checks `n` more body bytes. False once the framing is broken (and for
  /// every call after that).
  bool feed(const char* data, size_t n);

  /// True once the whole chunked body, trailers included, has been seen.
  bool done() const { return state_ == state::done; }

private:
  enum class state {
    size,         // hex digits of a chunk size
    ext,          // a chunk extension, up to CR
    size_lf,      // LF after the size line
    data,         // chunk data, `left_` bytes to go
    data_cr,      // CR after the data
    data_lf,      // LF after the data
    trailer,      // start of a trailer line, or CR of the final CRLF
    trailer_line, // inside a trailer field line
    trailer_lf,   // LF after a trailer line
    final_lf,     // LF of the final CRLF
    done,
    broken,
  };
  bool step(char c);

  state state_ = state::size;
  uint64_t size_ = 0;
  int digits_ = 0;
  uint64_t left_ = 0;
};

} // namespace raftd::http

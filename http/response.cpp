#include "http/response.hpp"

namespace raftd::http {

namespace {

const char* content_type_value(content_type t) {
  switch (t) {
    case content_type::none: return nullptr;
    case content_type::octet_stream: return "application/octet-stream";
    case content_type::json: return "application/json";
    case content_type::text: return "text/plain; charset=utf-8";
  }
  return nullptr;
}

void add_header(std::string& out, std::string_view name,
                std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

} // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

http_response text_response(int status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  r.type = content_type::text;
  return r;
}

http_response empty_response(int status) {
  http_response r;
  r.status = status;
  return r;
}

std::string serialize(const http_response& r, const framing& f) {
  std::string out;
  out.reserve(128 + (f.omit_body ? 0 : r.body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\n";
  add_header(out, "Content-Length", std::to_string(r.body.size()));
  if (auto type = content_type_value(r.type))
    add_header(out, "Content-Type", type);
  if (!r.location.empty())
    add_header(out, "Location", r.location);
  if (!r.allow.empty())
    add_header(out, "Allow", r.allow);
  if (f.close)
    add_header(out, "Connection", "close");
  else if (f.echo_keep_alive)
    add_header(out, "Connection", "keep-alive");
  out += "\r\n";
  if (!f.omit_body)
    out += r.body;
  return out;
}

std::string stream_head(content_type type, const framing& f, bool chunked) {
  std::string out = "HTTP/1.1 200 OK\r\n";
  if (chunked)
    add_header(out, "Transfer-Encoding", "chunked");
  if (auto value = content_type_value(type))
    add_header(out, "Content-Type", value);
  if (f.close || !chunked)
    add_header(out, "Connection", "close");
  else if (f.echo_keep_alive)
    add_header(out, "Connection", "keep-alive");
  out += "\r\n";
  return out;
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty())
    return;
  static constexpr char digits[] = "0123456789abcdef";
  std::string size;
  for (auto n = data.size(); n > 0; n /= 16)
    size.insert(size.begin(), digits[n % 16]);
  out += size;
  out += "\r\n";
  out += data;
  out += "\r\n";
}

} // namespace raftd::http

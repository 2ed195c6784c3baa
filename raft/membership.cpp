#include "raft/membership.hpp"

#include <array>
#include <string_view>

namespace raftd {

namespace {

void put_field(std::string& out, const std::string& field) {
  for (char c : field) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

/// Reads one field of a version-2 member up to its terminator (`end`),
/// which it consumes. False on a bad escape or a missing terminator.
bool get_field(std::string_view& in, char end, std::string& field) {
  while (!in.empty()) {
    char c = in.front();
    in.remove_prefix(1);
    if (c == end)
      return true;
    if (c == '\t' || c == '\n')
      return false; // a terminator out of place
    if (c == '\\') {
      if (in.empty())
        return false;
      char e = in.front();
      in.remove_prefix(1);
      if (e == '\\')
        c = '\\';
      else if (e == 't')
        c = '\t';
      else if (e == 'n')
        c = '\n';
      else
        return false;
    }
    field += c;
  }
  return false;
}

std::optional<std::vector<member>> decode_v2(std::string_view in) {
  std::vector<member> ms;
  while (!in.empty()) {
    member m;
    if (!get_field(in, '\t', m.name) || !get_field(in, '\t', m.http_addr)
        || !get_field(in, '\n', m.raft_addr))
      return std::nullopt;
    ms.push_back(std::move(m));
  }
  return ms;
}

std::optional<std::vector<member>> decode_v1(std::string_view in) {
  std::vector<member> ms;
  while (!in.empty()) {
    auto eol = in.find('\n');
    auto line = in.substr(0, eol); // a last line without '\n' counts too
    in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
    std::array<std::string_view::size_type, 2> tab;
    tab[0] = line.find('\t');
    tab[1] = tab[0] == line.npos ? line.npos : line.find('\t', tab[0] + 1);
    if (tab[1] == line.npos || line.find('\t', tab[1] + 1) != line.npos)
      return std::nullopt;
    ms.push_back(member{std::string{line.substr(0, tab[0])},
                        std::string{line.substr(tab[0] + 1,
                                                tab[1] - tab[0] - 1)},
                        std::string{line.substr(tab[1] + 1)}});
  }
  return ms;
}

} // namespace

std::string encode_members(const std::vector<member>& ms) {
  std::string out(1, members_version);
  for (auto& m : ms) {
    put_field(out, m.name);
    out += '\t';
    put_field(out, m.http_addr);
    out += '\t';
    put_field(out, m.raft_addr);
    out += '\n';
  }
  return out;
}

std::optional<std::vector<member>> decode_members(const std::string& text) {
  std::string_view in{text};
  if (in.empty() || static_cast<unsigned char>(in.front()) >= 0x20)
    return decode_v1(in);
  if (in.front() != members_version)
    return std::nullopt;
  in.remove_prefix(1);
  return decode_v2(in);
}

} // namespace raftd

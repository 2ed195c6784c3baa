#include "messages/errors.hpp"

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace raftd {

caf::atom_value errc_category() {
  return caf::atom("raftd");
}

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<uint8_t>(code), errc_category(),
                    caf::make_message(std::move(context))};
}

bool is(const caf::error& e, errc code) {
  return e && e.category() == errc_category()
         && e.code() == static_cast<uint8_t>(code);
}

std::string context_of(const caf::error& e) {
  if (!e || e.category() != errc_category())
    return {};
  auto& ctx = e.context();
  if (!ctx.empty() && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return {};
}

std::string describe(const caf::error& e) {
  if (!e)
    return "no error";
  if (e.category() != errc_category())
    return caf::to_string(e);
  auto out = std::string{to_string(static_cast<errc>(e.code()))};
  auto ctx = context_of(e);
  if (!ctx.empty())
    out += ": " + ctx;
  return out;
}

const char* to_string(errc code) {
  switch (code) {
    case errc::corrupt_data: return "corrupt_data";
    case errc::storage_failed: return "storage_failed";
    case errc::not_leader: return "not_leader";
    case errc::no_leader: return "no_leader";
    case errc::outcome_unknown: return "outcome_unknown";
    case errc::value_too_large: return "value_too_large";
    case errc::bad_request: return "bad_request";
    case errc::shutting_down: return "shutting_down";
    case errc::superseded: return "superseded";
    case errc::conflict: return "conflict";
    case errc::busy: return "busy";
    case errc::not_found: return "not_found";
    case errc::unreachable: return "unreachable";
    case errc::internal: return "internal";
    case errc::compacted: return "compacted";
  }
  return "unknown";
}

} // namespace raftd

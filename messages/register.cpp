#include "messages/register.hpp"

#include <caf/actor_system_config.hpp>

#include "messages/actors.hpp"
#include "messages/errors.hpp"

namespace raftd {

namespace {

std::string render_errc(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = "raftd_error(";
  out += to_string(static_cast<errc>(code));
  if (!ctx.empty() && ctx.match_element<std::string>(0)) {
    out += ", ";
    out += ctx.get_as<std::string>(0);
  }
  out += ')';
  return out;
}

} // namespace

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<log_entry>("raftd::log_entry");
  cfg.add_message_type<hard_state>("raftd::hard_state");
  cfg.add_message_type<member>("raftd::member");
  cfg.add_message_type<membership>("raftd::membership");
  cfg.add_message_type<vote_request>("raftd::vote_request");
  cfg.add_message_type<vote_response>("raftd::vote_response");
  cfg.add_message_type<append_request>("raftd::append_request");
  cfg.add_message_type<append_response>("raftd::append_response");
  cfg.add_message_type<read_mode>("raftd::read_mode");
  cfg.add_message_type<member_status>("raftd::member_status");
  cfg.add_message_type<node_status>("raftd::node_status");
  cfg.add_message_type<persist_batch>("raftd::persist_batch");
  cfg.add_message_type<apply_result>("raftd::apply_result");
  cfg.add_message_type<durable_log>("raftd::durable_log");
  cfg.add_message_type<snapshot_meta>("raftd::snapshot_meta");
  cfg.add_message_type<snapshot_chunk>("raftd::snapshot_chunk");
  cfg.add_message_type<install_response>("raftd::install_response");
  cfg.add_message_type<install_progress>("raftd::install_progress");
  cfg.add_error_category(errc_category(), render_errc);
}

} // namespace raftd

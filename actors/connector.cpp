#include "actors/connector.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/node_id.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/errors.hpp"

namespace raftd {

namespace {

connector_actor::behavior_type middleman_connector(connector_actor::pointer self) {
  return {
    [=](atom::connect, const std::string& host, uint16_t port) {
      auto rp = self->make_response_promise<node_actor>();
      auto mm = self->system().middleman().actor_handle();
      auto expected = self->system().message_types<node_actor>();
      self->request(mm, caf::infinite, caf::connect_atom::value, host, port)
        .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>& ifs) mutable {
            if (!ptr || ifs != expected)
              rp.deliver(make_error(errc::unreachable,
                                    "no raftd node at " + host + ":"
                                      + std::to_string(port)));
            else
              rp.deliver(caf::actor_cast<node_actor>(std::move(ptr)));
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
  };
}

} // namespace

connector_actor spawn_middleman_connector(caf::actor_system& sys) {
  return sys.spawn(middleman_connector);
}

} // namespace raftd

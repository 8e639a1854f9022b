// What a service is: an actor class implementing actors::service_actor,
// registered under its id in services/services.def. Most services are a
// pure function over the payload; basic_service turns one into an actor.
#pragma once

#include <cstdint>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"

namespace hyperamp::services {

using actors::job;
using actors::job_result;
using actors::service_actor;

/// A service actor whose work is `Derived::process(job&)`, a static function
/// that transforms the payload in place and returns the wire status and the
/// response length (at most job::capacity).
template <class Derived>
class basic_service : public service_actor::base {
public:
  explicit basic_service(caf::actor_config& cfg) : service_actor::base(cfg) {}

  behavior_type make_behavior() override {
    return {[](job& j) { return Derived::process(j); }};
  }

  const char* name() const override { return Derived::service_name; }
};

/// One row of the service table.
struct service_entry {
  std::uint32_t id = 0;
  const char* name = "";
  /// Spawns one instance of the service actor.
  service_actor (*spawn)(caf::actor_system&) = nullptr;
  /// The same work as a plain function, for running trivial services inline
  /// in the bridge (nullptr: always go through the actor).
  job_result (*run_inline)(job&) = nullptr;
};

/// Builds the table row of a basic_service.
template <class Service>
service_entry make_entry(std::uint32_t id, bool inline_ok) {
  service_entry e;
  e.id = id;
  e.name = Service::service_name;
  e.spawn = [](caf::actor_system& sys) -> service_actor {
    return sys.spawn<Service>();
  };
  e.run_inline = inline_ok ? &Service::process : nullptr;
  return e;
}

/// The one table of services (from services.def), sorted by id.
const std::vector<service_entry>& registry();

/// The row for `id`, or nullptr for an unknown service.
const service_entry* find(std::uint32_t id);

} // namespace hyperamp::services

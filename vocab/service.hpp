// What a service is: an actor class implementing vocab::service_actor,
// registered under its id in a table of service_entry rows (hyperamp's own
// table is services/services.def). Most services are a pure function over
// the payload; basic_service turns one into an actor. A service with state
// of its own is any actor class with the service_actor interface (see
// docs/adding-a-service.md).
#pragma once

#include <cstdint>
#include <functional>

#include <caf/all.hpp>

#include "vocab/messages.hpp"

namespace hyperamp::vocab {

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

/// One row of a service table: what runs under service id `id`.
struct service_entry {
  std::uint32_t id = 0;
  const char* name = "";
  /// Spawns one instance of the service actor (one worker of its pool).
  /// Called again for every worker the pool starts or replaces, possibly
  /// from several zones that share one table. A std::function, so that a
  /// row can carry what its instances share (see make_actor_entry); whatever
  /// it captures lives as long as the row and every copy of it (a strong
  /// actor handle captured here would keep that actor alive as long).
  std::function<service_actor(caf::actor_system&)> spawn;
  /// The same work as a plain function, for running trivial services inline
  /// in the bridge (nullptr: always go through the actor).
  job_result (*run_inline)(job&) = nullptr;
};

/// The row of a basic_service; the table it goes into gives it its id.
template <class Service>
service_entry make_entry(bool inline_ok) {
  service_entry e;
  e.name = Service::service_name;
  e.spawn = [](caf::actor_system& sys) -> service_actor {
    return sys.spawn<Service>();
  };
  e.run_inline = inline_ok ? &Service::process : nullptr;
  return e;
}

/// The row of any actor class implementing service_actor, whose instances
/// are spawned as `sys.spawn<Service>(args...)` with copies of `args`
/// (kept in the row). `name` must outlive the row (a string literal). The
/// table it goes into gives it its id; it never runs inline.
template <class Service, class... Ts>
service_entry make_actor_entry(const char* name, Ts... args) {
  service_entry e;
  e.name = name;
  e.spawn = [args...](caf::actor_system& sys) -> service_actor {
    return sys.spawn<Service>(args...);
  };
  return e;
}

} // namespace hyperamp::vocab

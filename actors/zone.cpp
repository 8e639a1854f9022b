#include "actors/zone.hpp"

#include "shm/ports.hpp"

namespace hyperamp::actors {

namespace {

/// A forced threaded shell needs a doorbell that wakes its own thread.
std::string shell_problem(bridge_shell shell, bool start_waiter,
                          shm::port& port) {
  if (shell != bridge_shell::threaded || !start_waiter ||
      port.wait_bell().can_wake_self())
    return {};
  return "the threaded bridge shell needs a doorbell that can wake its own "
         "zone (futex or polling); this zone's cannot (hvisor, or the fifo "
         "of hvisor-tool's layout): use the scheduled or automatic shell";
}

} // namespace

caf::expected<caf::actor> spawn_client_zone(caf::actor_system& sys,
                                            const shm::region_options& region,
                                            const client_settings& s) {
  shm::zone_options o;
  o.region = region;
  o.zone_id = s.zone_id;
  o.bell = s.bell;
  o.peer_dead = s.peer_dead;
  o.wait_for_service = s.wait_for_service;
  auto port = shm::open_client_port(o);
  if (!port)
    return start_error(port.error);
  if (auto why = shell_problem(s.shell, s.start_waiter, *port.port);
      !why.empty())
    return start_error(std::move(why));
  return sys.spawn<client_bridge>(std::move(port.port), s);
}

caf::expected<caf::actor> spawn_service_zone(caf::actor_system& sys,
                                             const shm::region_options& region,
                                             const service_settings& s,
                                             std::vector<service_entry> table) {
  shm::zone_options o;
  o.region = region;
  o.zone_id = s.zone_id;
  o.bell = s.bell;
  o.peer_dead = s.peer_dead;
  auto port = shm::open_service_port(o);
  if (!port)
    return start_error(port.error);
  if (auto why = shell_problem(s.shell, s.start_waiter, *port.port);
      !why.empty())
    return start_error(std::move(why));
  return sys.spawn<service_bridge>(std::move(port.port), s, std::move(table));
}

caf::error wait_for_service(const shm::region_options& region,
                            std::chrono::milliseconds timeout) {
  auto why = shm::wait_for_service(region, timeout);
  if (why.empty())
    return caf::none;
  return start_error(std::move(why));
}

caf::expected<bytes> call(caf::scoped_actor& self, const caf::actor& bridge,
                          std::uint32_t service_id, bytes data,
                          std::chrono::milliseconds timeout) {
  caf::expected<bytes> result{caf::make_error(amp_errc::timeout)};
  self->request(bridge, timeout, call_atom::value, service_id, std::move(data))
      .receive([&](bytes& reply) { result = std::move(reply); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace hyperamp::actors

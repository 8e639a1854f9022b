#include "actors/zone.hpp"

#include <thread>

#include "actors/fwd.hpp"
#include "shm/participant.hpp"

namespace hyperamp::actors {

namespace {

std::shared_ptr<shm::region> open_region(const shm::region_options& o,
                                         std::string* error) {
  auto r = shm::region::open(o);
  if (!r) {
    *error = r.message;
    return nullptr;
  }
  return std::shared_ptr<shm::region>{std::move(r.value)};
}

/// The doorbells `role` needs, opened once to report a missing device
/// before the zone starts (the bridges open their own).
bool bells_ok(shm::region& r, std::uint32_t own, std::uint32_t peer,
              zone_role role, const bell_settings& b, std::string* error) {
  std::string e1, e2;
  make_wait_bell(r.slot_at(own), role, b, &e1);
  make_ring_bell(r.slot_at(peer), role, b, &e2);
  *error = !e1.empty() ? e1 : e2;
  return error->empty();
}

} // namespace

caf::expected<caf::actor> spawn_client_zone(caf::actor_system& sys,
                                            const shm::region_options& region,
                                            const client_settings& s) {
  std::string error;
  auto r = open_region(region, &error);
  if (!r)
    return start_error(error);
  shm::participant self;
  if (shm::participant::claim_client(*r, s.zone_id, self) != shm::status::ok)
    return start_error("region " + region.path + ": all " +
                       std::to_string(r->max_clients()) +
                       " client slots are taken (raise region.max_clients)");
  if (!bells_ok(*r, self.index(), shm::k_service_slot, zone_role::client,
                s.bell, &error)) {
    self.release();
    return start_error(error);
  }
  return sys.spawn<client_bridge>(std::move(r), self, s);
}

caf::expected<caf::actor> spawn_service_zone(caf::actor_system& sys,
                                             const shm::region_options& region,
                                             const service_settings& s,
                                             std::vector<service_entry> table) {
  std::string error;
  auto r = open_region(region, &error);
  if (!r)
    return start_error(error);
  shm::participant self;
  auto st = shm::participant::claim_service(*r, s.zone_id, s.peer_dead, self);
  if (st != shm::status::ok) {
    const auto& slot = r->slot_at(shm::k_service_slot);
    return start_error("region " + region.path +
                       ": another service zone (zone " +
                       std::to_string(slot.zone_id) + ", pid " +
                       std::to_string(slot.pid) + ") is attached and alive");
  }
  // A service rings client slots; slot 1 stands for all of them here.
  if (!bells_ok(*r, shm::k_service_slot, 1, zone_role::service, s.bell,
                &error)) {
    self.release();
    return start_error(error);
  }
  return sys.spawn<service_bridge>(std::move(r), self, s, std::move(table));
}

caf::error wait_for_service(const shm::region_options& region,
                            std::chrono::milliseconds timeout) {
  auto opts = region;
  opts.attach_timeout = timeout;
  std::string error;
  auto r = open_region(opts, &error);
  if (!r)
    return start_error(error);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto& s = r->slot_at(shm::k_service_slot);
  while (!shm::is_active(s)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return start_error("no service zone attached to " + region.path +
                         " after " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return caf::none;
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

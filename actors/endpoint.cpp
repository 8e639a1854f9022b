#include "actors/endpoint.hpp"

namespace hyperamp::actors {

namespace {

std::unique_ptr<shm::doorbell> hvisor_bell(shm::slot& s, bool ring,
                                           const bell_settings& b,
                                           std::string* error) {
  auto opts = b.hvisor;
  opts.spin = b.spin;
  opts.can_ring = ring;
  opts.can_wait = !ring;
  std::unique_ptr<shm::doorbell> bell =
      shm::hvisor_doorbell::open(s, opts, error);
  // Never null: without the device the zone still works, by polling.
  if (!bell)
    bell = std::make_unique<shm::polling_doorbell>(s, b.spin);
  return bell;
}

} // namespace

std::unique_ptr<shm::doorbell> make_wait_bell(shm::slot& own, zone_role role,
                                              const bell_settings& s,
                                              std::string* error) {
  switch (s.kind) {
  case bell_kind::futex:
    return std::make_unique<shm::futex_doorbell>(own, s.spin);
  case bell_kind::hvisor:
    if (role == zone_role::service)
      return hvisor_bell(own, false, s, error);
    [[fallthrough]];
  case bell_kind::polling:
    break;
  }
  return std::make_unique<shm::polling_doorbell>(own, s.spin);
}

std::unique_ptr<shm::doorbell> make_ring_bell(shm::slot& peer, zone_role role,
                                              const bell_settings& s,
                                              std::string* error) {
  switch (s.kind) {
  case bell_kind::futex:
    return std::make_unique<shm::futex_doorbell>(peer, s.spin);
  case bell_kind::hvisor:
    if (role == zone_role::client)
      return hvisor_bell(peer, true, s, error);
    [[fallthrough]];
  case bell_kind::polling:
    break;
  }
  return std::make_unique<shm::polling_doorbell>(peer, s.spin);
}

} // namespace hyperamp::actors

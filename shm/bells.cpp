#include "shm/bells.hpp"

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

/// A bell for `s` that interrupts nobody: the owner of `s` polls it.
std::unique_ptr<doorbell> polling(slot& s, const bell_settings& b) {
  return std::make_unique<polling_doorbell>(s, b.spin);
}

std::unique_ptr<doorbell> bell_for(slot& s, const bell_settings& b) {
  if (b.kind == bell_kind::futex)
    return std::make_unique<futex_doorbell>(s, b.spin);
  return polling(s, b);
}

/// The hvisor device bell: `ring` opens /dev/hvisor, otherwise /dev/hshm0.
std::unique_ptr<doorbell>
device_bell(slot& s, bool ring, const bell_settings& b, std::string* error) {
  auto opts = b.hvisor;
  opts.spin = b.spin;
  opts.can_ring = ring;
  opts.can_wait = !ring;
  return hvisor_doorbell::open(s, opts, error);
}

} // namespace

bool open_bells(region& r, zone_role role, std::uint32_t own_slot,
                const bell_settings& s, zone_bells& out, std::string* error) {
  if (s.kind == bell_kind::fifo) {
    if (error != nullptr)
      *error = "the fifo doorbell belongs to the hvisor-tool-v1 layout; "
               "hyperamp's own layout uses futex, hvisor or polling";
    return false;
  }
  const bool hvisor = s.kind == bell_kind::hvisor;
  out.peers.clear();
  out.peers.resize(r.max_clients() + 1u);
  if (role == zone_role::client) {
    // On the board only the service can be interrupted (by the client).
    out.own = hvisor ? polling(r.slot_at(own_slot), s)
                     : bell_for(r.slot_at(own_slot), s);
    out.peers[k_service_slot] =
        hvisor ? device_bell(r.slot_at(k_service_slot), true, s, error)
               : bell_for(r.slot_at(k_service_slot), s);
    return out.peers[k_service_slot] != nullptr;
  }
  out.own = hvisor ? device_bell(r.slot_at(own_slot), false, s, error)
                   : bell_for(r.slot_at(own_slot), s);
  if (!out.own)
    return false;
  for (std::uint32_t i = 1; i <= r.max_clients(); ++i)
    out.peers[i] =
        hvisor ? polling(r.slot_at(i), s) : bell_for(r.slot_at(i), s);
  return true;
}

} // namespace hyperamp::shm

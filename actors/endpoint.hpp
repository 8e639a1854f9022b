// A zone's attachment to a region, and the doorbells between the zones.
// Plain C++ (no CAF): shared by the bridges, the apps and the benchmarks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/doorbell.hpp"
#include "shm/region.hpp"

namespace hyperamp::actors {

/// How zones wake each other. futex: both directions (host). hvisor: the
/// client rings the service through /dev/hvisor, the service sleeps in
/// poll(/dev/hshm0); the board cannot interrupt the client zone, so the
/// client polls adaptively. polling: both sides poll (no interrupts).
enum class bell_kind { futex, hvisor, polling };

struct bell_settings {
  bell_kind kind = bell_kind::futex;
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
  shm::hvisor_options hvisor;
};

enum class zone_role { client, service };

/// The doorbell this zone waits on (its own slot's bell). Never null: if
/// the hvisor device cannot be opened, *error says why and the bell polls.
/// (spawn_client_zone / spawn_service_zone refuse to start then.)
std::unique_ptr<shm::doorbell> make_wait_bell(shm::slot& own, zone_role role,
                                              const bell_settings& s,
                                              std::string* error);

/// The doorbell this zone rings to wake the owner of `peer`; as above.
std::unique_ptr<shm::doorbell> make_ring_bell(shm::slot& peer, zone_role role,
                                              const bell_settings& s,
                                              std::string* error);

} // namespace hyperamp::actors

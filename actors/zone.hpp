// Embedding a zone in a program: open the port of a region, spawn the
// bridge. The C++ API a program uses instead of the amp-node CLI:
//
//   caf::actor_system sys{cfg};
//   auto bridge = hyperamp::actors::spawn_client_zone(sys, region, {});
//   if (!bridge) ... describe(bridge.error()) says why
//   caf::scoped_actor self{sys};
//   auto reply = hyperamp::actors::call(self, *bridge, 66, {'h', 'i'});
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/client_bridge.hpp"
#include "actors/fwd.hpp"
#include "actors/service_bridge.hpp"
#include "shm/region.hpp"

namespace hyperamp::actors {

/// Opens the region (waiting s.wait_for_service for a live service),
/// claims a client slot, opens the bells and spawns the client bridge.
/// On failure: a cannot_start error whose describe() says why.
caf::expected<caf::actor> spawn_client_zone(caf::actor_system& sys,
                                            const shm::region_options& region,
                                            const client_settings& s);

/// Opens (or creates) the region, claims the service slot (taking over from
/// a dead predecessor), opens the bells and spawns the service bridge with
/// `table`'s services (hyperamp's own table is services::registry()).
caf::expected<caf::actor> spawn_service_zone(caf::actor_system& sys,
                                             const shm::region_options& region,
                                             const service_settings& s,
                                             std::vector<service_entry> table);

/// Waits until the region's service slot is held by a live service, or the
/// deadline passes. For programs that start clients and services together.
caf::error wait_for_service(const shm::region_options& region,
                            std::chrono::milliseconds timeout);

/// A blocking request from non-actor code.
caf::expected<bytes>
call(caf::scoped_actor& self, const caf::actor& bridge,
     std::uint32_t service_id, bytes data,
     std::chrono::milliseconds timeout = std::chrono::seconds(30));

} // namespace hyperamp::actors

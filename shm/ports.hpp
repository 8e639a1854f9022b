// Opening a zone's port: region, slot, bells, and the port of the region's
// wire layout. The one place that knows which layouts exist.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/bells.hpp"
#include "shm/port.hpp"
#include "shm/region.hpp"
#include "shm/zone_lock.hpp"

namespace hyperamp::shm {

/// Everything a zone needs to join a region.
struct zone_options {
  region_options region;
  std::uint32_t zone_id = 0;
  bell_settings bell;
  /// The peer (and a lock holder) is dead after this long without a beat.
  std::chrono::nanoseconds peer_dead = std::chrono::seconds(1);
  /// Lock spinning before yielding (dead_after comes from peer_dead).
  std::uint32_t lock_spin = lock_options{}.spin_limit;
  /// Client only: how long to wait for a live service before giving up
  /// (0: do not wait; a client may start before its service).
  std::chrono::milliseconds wait_for_service{0};

  /// Measure queue_lock holds and waits (benchmarks only).
  bool measure_lock = false;

  lock_options lock() const noexcept {
    lock_options o;
    o.spin_limit = lock_spin;
    o.dead_after = peer_dead;
    o.measure = measure_lock;
    return o;
  }
};

/// A port, or why there is none (a sentence naming the region, slot or
/// device).
template <class Port>
struct port_result {
  std::unique_ptr<Port> port;
  std::string error;
  explicit operator bool() const noexcept { return port != nullptr; }
};

/// Opens the region (attaching; creating if the options allow), waits for a
/// service if asked to, claims a client slot, opens the bells.
port_result<client_port> open_client_port(const zone_options& o);

/// Opens (or creates) the region, claims the service slot (taking over
/// from a dead predecessor), opens the bells.
port_result<service_port> open_service_port(const zone_options& o);

/// Waits until a live service holds the region, or the timeout passes;
/// returns "" or why not. Maps the region only for the wait.
std::string wait_for_service(const region_options& o,
                             std::chrono::milliseconds timeout);

} // namespace hyperamp::shm

// Embedding a zone in a program: open the port of a region, spawn the
// bridge. The C++ API a program uses instead of the amp-node CLI:
//
//   caf::actor_system sys{cfg};
//   auto bridge = hyperamp::actors::spawn_client_zone(sys, region, {});
//   if (!bridge) ... describe(bridge.error()) says why
//   caf::scoped_actor self{sys};
//   auto reply = hyperamp::actors::call(self, *bridge, 66, {'h', 'i'});
//
// A zone's services from another machine, through the gateway of a client
// zone (amp-node gateway; actors/gateway.hpp), take the same calls:
//
//   caf::actor_system_config cfg;
//   hyperamp::actors::configure_network(cfg);      // before the system
//   caf::actor_system sys{cfg};
//   auto zone = hyperamp::actors::connect_remote(sys, "10.0.0.2", 4242);
//   if (!zone) ... describe(zone.error()) says why
//   auto reply = hyperamp::actors::call(self, *zone, 66, {'h', 'i'});
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

/// A blocking request from non-actor code (to a bridge or a remote link).
caf::expected<bytes>
call(caf::scoped_actor& self, const caf::actor& bridge,
     std::uint32_t service_id, bytes data,
     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// -- remote zones (through a gateway) -----------------------------------------

/// The files of a TLS connection, PEM. CAF 0.17's TLS is mutual: each side
/// presents its certificate and verifies the other's against its CA (the
/// host name is not checked). All three or none.
struct tls_files {
  std::string ca;          ///< CA that signed the other side's certificate
  std::string certificate; ///< this side's certificate (chain)
  std::string key;         ///< its private key (not encrypted)
  bool enabled() const {
    return !ca.empty() || !certificate.empty() || !key.empty();
  }
};

/// Makes `cfg` fit for the network: loads CAF's middleman (and, with `tls`,
/// libcaf_openssl with these files) and registers the types that cross the
/// network (vocab/remote.hpp) and the hyperamp errors. Call it before the
/// actor_system is made, for a gateway and for a remote caller.
void configure_network(caf::actor_system_config& cfg,
                       const tls_files& tls = {});

struct remote_options {
  /// Connect with TLS (configure_network got the TLS files).
  bool tls = false;
  /// For one attempt to connect and get a session.
  std::chrono::milliseconds connect_timeout{5000};
  /// Each request's deadline; 0: the gateway's (its zone's request
  /// deadline) and one second for the network.
  std::chrono::milliseconds deadline{0};
  /// Wait before the first reconnect attempt; doubles up to retry_max.
  std::chrono::milliseconds retry{20};
  std::chrono::milliseconds retry_max{1000};
};

/// Connects to the gateway at host:port and returns a link actor that
/// takes the calls a client zone's bridge takes: (call_atom, service_id,
/// bytes) -> bytes and (call_atom, std::vector<call_spec>) -> call_replies;
/// call() and spawn_client_actor work on it as on a bridge. Blocks until
/// the first session is granted (or fails: a cannot_start error saying
/// why). Afterwards:
/// - at most the session's credit (session_grant::credit) of requests are
///   in flight; beyond it a call is answered `overloaded` at once;
/// - each request has a deadline (`timeout` after it);
/// - if the connection is lost, every request in flight fails with
///   `disconnected` at once, new calls fail with `disconnected`, and the
///   link reconnects (remote_options::retry) until it has a session again;
/// - (get_atom) -> session_grant (or `disconnected`).
/// Stop it with an exit message (anon_send_exit): what it holds is
/// answered `shutting_down`.
caf::expected<caf::actor> connect_remote(caf::actor_system& sys,
                                         const std::string& host,
                                         std::uint16_t port,
                                         remote_options o = {});

} // namespace hyperamp::actors

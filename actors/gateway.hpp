// A client zone's services on the network: the gateway, published with
// CAF's middleman (caf::io::publish, or caf::openssl::publish for TLS),
// hands each remote caller a session of its own; a session forwards the
// caller's calls to the zone's client bridge and answers with the result
// or the hyperamp error. The protocol is in vocab/remote.hpp; the caller's
// side is connect_remote (actors/zone.hpp).
//
//   remote caller --(session_atom)--> gateway (published) --spawns--> session
//   remote caller --(call_atom, batch)--> session --batch--> client bridge
//
// - Connections: a session per connect_remote; at most max_connections
//   sessions live, beyond them `session_atom` is answered `overloaded`.
// - Credit: a session holds at most max_in_flight requests in the bridge;
//   beyond it a request is answered `overloaded` at once.
// - Allow-list: a request for a service id not in `allowed` (when it is not
//   empty) is answered `not_allowed` and never reaches the bridge; nor does
//   one of more than max_message bytes (`too_large`).
// - A caller that disappears (its connection closes, its process dies):
//   the session stops taking calls, lets its requests in the bridge finish
//   (their entries are freed as usual) and ends; its connection is free.
// - A bridge that ends: every session answers what it holds and ends.
// - Remote peers can stop any actor they can address with an exit message
//   of reason `kill` (CAF delivers it, and it cannot be trapped): the keeper
//   (never reachable from the network) republishes a new gateway on the
//   same port when the published one dies that way. The gateway and the
//   sessions ignore every other exit message (its source can be forged).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/fwd.hpp"
#include "vocab/remote.hpp"

namespace hyperamp::actors {

struct gateway_settings {
  /// TCP port; 0: any free port (start_gateway says which).
  std::uint16_t port = 0;
  /// Address to listen on; "" listens on every interface.
  std::string bind = "127.0.0.1";
  /// Sessions (remote callers) at once.
  std::uint32_t max_connections = 64;
  /// Requests one session may have in the bridge.
  std::uint32_t max_in_flight = 256;
  /// Service ids remote callers may call; empty: every id.
  std::vector<std::uint32_t> allowed;
  /// The zone's deadline for one request (timeouts.request_ms): sent to
  /// callers in the grant; a session gives up on the bridge after twice it.
  std::chrono::milliseconds deadline{5000};
  /// The zone's client.max_message: sent to callers in the grant; a larger
  /// request is answered `too_large` by the session.
  std::uint32_t max_message = 4096;
  /// Publish with libcaf_openssl. The actor_system must have loaded
  /// caf::openssl::manager with certificate, key and CA in its config
  /// (CAF 0.17 then requires and verifies a certificate of every peer).
  bool tls = false;
};

/// A gateway's counters (the keeper answers (stats_atom) with them).
struct gateway_stats {
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_refused = 0; ///< beyond max_connections
  std::uint64_t sessions_closed = 0;
  std::uint64_t sessions_live = 0;
  std::uint64_t requests = 0;    ///< requests forwarded to the bridge
  std::uint64_t not_allowed = 0; ///< refused by the allow-list
  std::uint64_t overloaded = 0;  ///< refused beyond a session's credit
  std::uint64_t republished = 0; ///< gateways killed and replaced
};

/// A running gateway.
struct gateway {
  /// Owns the published gateway; (stats_atom) -> gateway_stats. Stop it
  /// with an exit message: it closes the port. Sessions end with the
  /// bridge.
  caf::actor keeper;
  /// The port it listens on.
  std::uint16_t port = 0;
};

/// Spawns the gateway of `bridge` (a client zone) and publishes it. The
/// system must have loaded caf::io::middleman (and for TLS
/// caf::openssl::manager) and registered the remote types
/// (vocab::register_remote_types). Blocking; call it from outside actors.
caf::expected<gateway> start_gateway(caf::actor_system& sys, caf::actor bridge,
                                     gateway_settings s);

/// The gateway actor alone, not published and without a keeper: for tests
/// (on a test coordinator, or published by the test itself). It answers
/// (session_atom, version) and, to local senders, (stats_atom).
caf::actor spawn_gateway_actor(caf::actor_system& sys, caf::actor bridge,
                               gateway_settings s);

} // namespace hyperamp::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::actors::gateway_stats)

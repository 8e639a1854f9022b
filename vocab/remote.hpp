// The vocabulary of remote callers: what crosses the network between a
// program that calls a zone's services over CAF's middleman and the
// gateway of that client zone (actors/gateway.hpp).
//
// The protocol, every message a CAF message (BASP over TCP, or over TLS
// with libcaf_openssl):
//
//   caller link -> gateway (the published actor):
//     (session_atom, remote_version)    -> (caf::actor session, session_grant)
//         a session of its own: the caller's calls go to `session`; at
//         most session_grant::credit of them in flight. Errors:
//         `overloaded` (the gateway's connection limit), `bad_request`
//         (another protocol version).
//   caller link -> session:
//     (call_atom, std::vector<call_spec>) -> call_replies
//         a batch, answered in its order once every request of it is
//         answered; a request the gateway refuses has its error in its
//         reply (`not_allowed`, `overloaded`) and never reaches the queue
//     (call_atom, service_id, bytes)      -> bytes
//         one request (the batch form is what the link sends)
//
// Types that cross the network must be registered on both sides under the
// same name: register_remote_types() does it for every system that talks
// to a gateway (a missing registration makes CAF deliver an empty message).
// Errors cross as caf::error of category "hyperamp" (vocab/errors.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include <caf/all.hpp>

#include "vocab/messages.hpp"

namespace hyperamp::vocab {

/// (session_atom, version): a remote caller asks a gateway for a session.
using session_atom = caf::atom_constant<caf::atom("session")>;

/// The version of this protocol; a gateway refuses other versions.
constexpr std::uint32_t remote_version = 1;

/// What a gateway grants a new session, with the session's handle.
struct session_grant {
  std::uint32_t version = 0;
  /// Requests the session may have in flight (the gateway's
  /// max_in_flight); beyond it a request is answered `overloaded`.
  std::uint32_t credit = 0;
  /// The zone's deadline for one request (its timeouts.request_ms).
  std::uint32_t deadline_ms = 0;
  /// The largest payload the zone takes (its client.max_message).
  std::uint32_t max_message = 0;
  /// The service ids the gateway serves; empty: every id.
  std::vector<std::uint32_t> allowed;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_grant& x) {
  return f(caf::meta::type_name("session_grant"), x.version, x.credit,
           x.deadline_ms, x.max_message, x.allowed);
}

/// The names every type that crosses the network is registered under.
struct remote_type_names {
  /// std::vector<std::uint8_t>, the payload of a single call: not one of
  /// CAF 0.17's built-in types (a member of call_spec needs no name).
  static constexpr const char* bytes = "hyperamp::bytes";
  static constexpr const char* call_spec = "hyperamp::call_spec";
  static constexpr const char* call_reply = "hyperamp::call_reply";
  static constexpr const char* session_grant = "hyperamp::session_grant";
};

/// Registers bytes, call_spec, call_reply, session_grant (and their
/// vectors) under remote_type_names, and the hyperamp error category. Call it
/// on the config of both sides before the actor_system is made.
void register_remote_types(caf::actor_system_config& cfg);

} // namespace hyperamp::vocab

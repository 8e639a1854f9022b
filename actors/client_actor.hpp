// Client actors: one per client thread. Each holds one in-flight budget
// (max_in_flight requests) that its single calls, batch calls and loads
// share; it keeps no queue of its own: a call that does not fit in what is
// left of the budget is answered `overloaded` at once. Backpressure on the
// client side lives here and in the bridge's pending list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/fwd.hpp"

namespace hyperamp::actors {

/// What became of one request of a load.
struct call_outcome {
  std::size_t index = 0;       ///< position in the load
  std::int64_t latency_ns = 0; ///< from send to answer
  bool ok = false;
  bytes data;       ///< the response when ok
  caf::error error; ///< the failure otherwise
};

using outcomes = std::vector<call_outcome>;

/// A load: `count` requests of one service id and payload, generated as
/// the budget allows (never all at once).
struct load_spec {
  std::uint32_t service_id = 0;
  bytes data;
  std::size_t count = 0;
  /// Requests per batch call; 0: half the budget (two batches overlap).
  std::size_t batch = 0;
};

/// Spawns a client actor talking to `bridge`, with a budget of
/// `max_in_flight` requests (at least 1). Messages it takes:
///   (call_atom, service_id, bytes) -> bytes
///       one request; `overloaded` at once when the budget is spent
///   (call_atom, std::vector<call_spec>) -> call_replies
///       a batch, forwarded as one message; every request of it
///       `overloaded` at once when it does not fit in what is left
///   (run_atom, load_spec) -> outcomes
///       a whole load, sent as batch calls of load_spec::batch requests
///       (default max_in_flight / 2: two overlap) within the budget; an
///       outcome's latency is its batch's round trip
caf::actor spawn_client_actor(caf::actor_system& sys, caf::actor bridge,
                              std::uint32_t max_in_flight);

/// Whether `r` is a client actor: the threaded client bridge runs the
/// client actors it answers on its own thread (actors/bridge_thread.hpp).
bool is_client_actor(const caf::resumable* r) noexcept;

} // namespace hyperamp::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::actors::outcomes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::actors::load_spec)

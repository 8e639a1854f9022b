// Client actors: one per client thread. Each forwards requests to the
// bridge with a bounded number in flight (the rest wait in the actor), and
// can run a list of requests as a load (amp-node call, benchmarks).
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

/// Spawns a client actor talking to `bridge`, at most `max_in_flight`
/// requests outstanding. Messages it takes:
///   (call_atom, service_id, bytes) -> bytes   forwarded one by one
///   (run_atom, std::vector<call_spec>) -> outcomes   a whole load, sent to
///       the bridge as batch calls of max_in_flight / 2 requests (two
///       batches overlap); an outcome's latency is its batch's round trip
caf::actor spawn_client_actor(caf::actor_system& sys, caf::actor bridge,
                              std::uint32_t max_in_flight);

} // namespace hyperamp::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::actors::outcomes)

// Load balancing, in one place: which worker of a service's pool gets the
// next job. A policy is a function object, as in CAF's actor_pool: it sees
// how many jobs each worker holds and the most one may hold, and answers
// a worker index, or npos when every worker is full (the job then waits in
// the pool's backlog).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hyperamp::actors {

using dispatch_policy = std::function<std::size_t(
    const std::vector<std::uint32_t>& in_flight, std::uint32_t capacity)>;

inline constexpr std::size_t no_worker = static_cast<std::size_t>(-1);

/// The worker holding the fewest jobs (the first of equals). The default.
dispatch_policy least_loaded();

/// The next worker in turn that has room.
dispatch_policy round_robin();

enum class dispatch_kind { least_loaded, round_robin };

dispatch_policy make_policy(dispatch_kind k);

} // namespace hyperamp::actors

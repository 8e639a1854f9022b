// The actor vocabulary: the message types that client actors, bridges,
// pools, workers and services exchange. Depends on shm/ (wire statuses) and
// CAF only, so that services/ and actors/ can both build on it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "shm/layout.hpp"

namespace hyperamp::vocab {

// -- atoms (at most 10 characters) -------------------------------------------

using call_atom = caf::atom_constant<caf::atom("call")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;

using bytes = std::vector<std::uint8_t>;

/// One request handed to a service: the payload lives in the shared region
/// (in place; the service may rewrite up to `capacity` bytes). Local only:
/// it carries a pointer into this process's mapping, valid until the job
/// is answered.
struct job {
  std::uint32_t ticket = 0; ///< the request, as the service port names it
  std::uint32_t service_id = 0;
  std::uint8_t* data = nullptr;
  std::uint32_t length = 0;   ///< request bytes at data
  std::uint32_t capacity = 0; ///< bytes the response may use at data
};

/// What a service reports back: a wire status and the response length
/// (the response bytes are at job::data).
struct job_result {
  shm::wire_status status = shm::wire_status::ok;
  std::uint32_t length = 0;
};

/// A bridge hands a service pool the jobs of one drain in one message.
using job_batch = std::vector<job>;

/// What became of one job, as a pool reports it to its bridge.
struct job_done {
  std::uint32_t ticket = 0;
  job_result result;
};

/// A pool reports finished jobs in batches:
/// (done_atom, service_id, job_done_batch); every job in it returns one
/// credit of that pool.
using job_done_batch = std::vector<job_done>;

/// The typed interface every service actor implements.
using service_actor = caf::typed_actor<caf::replies_to<job>::with<job_result>>;

/// One request of a batch call (call_atom, std::vector<call_spec>).
/// Serializable: batches cross the network between a remote caller and a
/// gateway (vocab/remote.hpp registers the type).
struct call_spec {
  std::uint32_t service_id = 0;
  bytes data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_spec& x) {
  return f(caf::meta::type_name("call_spec"), x.service_id, x.data);
}

/// The answer to one request of a batch call, in the batch's order.
/// Serializable, like call_spec.
struct call_reply {
  bool ok = false;
  bytes data;       ///< the response when ok
  caf::error error; ///< the failure otherwise
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_reply& x) {
  return f(caf::meta::type_name("call_reply"), x.ok, x.data, x.error);
}

using call_replies = std::vector<call_reply>;

/// Counters a bridge reports on (stats_atom).
struct bridge_stats {
  std::uint64_t submitted = 0;  ///< requests put into the queue
  std::uint64_t completed = 0;  ///< completions handled
  std::uint64_t batches = 0;    ///< lock acquisitions for submit/complete
  std::uint64_t rings = 0;      ///< doorbell rings made
  std::uint64_t overloaded = 0; ///< requests refused at once
  std::uint64_t timeouts = 0;
  std::uint64_t stray = 0;       ///< completions matching no request
  std::uint64_t corrupt = 0;     ///< entries or lists that failed validation
  std::uint64_t repairs = 0;     ///< times the lists were rebuilt
  std::uint64_t evictions = 0;   ///< dead lock holders or peers evicted
  std::uint64_t inline_runs = 0; ///< jobs run inside the bridge
  /// Requests or completions that failed validation, by reason.
  std::vector<std::pair<std::string, std::uint64_t>> rejected;
};

} // namespace hyperamp::vocab

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::vocab::job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::vocab::job_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::vocab::job_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::vocab::job_done_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hyperamp::vocab::bridge_stats)

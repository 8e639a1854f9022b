// amp-bench's full actor path: the one file of bench/ that uses actors/
// (and CAF), so that changes to those APIs touch only zone_runner.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bench/amp_bench_raw.hpp"
#include "shm/region.hpp"

namespace hyperamp::bench {

/// How both zones of an actor-path measurement are set up.
struct path_config {
  /// hvisor-tool's layout (shm/v1_ports.hpp) on a host: a window file and
  /// a FIFO doorbell; the client polls its entries. Otherwise hyperamp's.
  bool v1 = false;
  bool polling = false;              ///< bells spin 1 s (yielding)
  std::chrono::microseconds spin{0}; ///< bell spin budget otherwise
  std::size_t threads = 2;           ///< CAF scheduler.max-threads per zone
  std::uint32_t workers = 4;
  std::uint32_t worker_capacity = 8;
  std::uint32_t batch = 32;
  bool inline_trivial = false;
  std::uint32_t service_id = 66;
  std::uint32_t payload = 64;
  std::uint32_t actors = 1;
  std::uint32_t in_flight = 1; ///< each client actor's budget
  /// Requests per batch call of a client actor; 0: in_flight / 2.
  std::uint32_t call_batch = 0;
  std::uint32_t entries = 1024;
  std::uint32_t max_clients = 4;
  std::uint64_t payload_size = 8u << 20;
  shm::wire_layout layout = shm::wire_layout::hyperamp;
  /// Which thread runs both bridges (actors/bridge_thread.hpp): true, each
  /// its own thread (the default shell with futex bells); false, CAF's
  /// workers fed by an interrupt waiter thread.
  bool threaded = true;
};

/// One repetition through the full actor path: forks the service zone (its
/// own actor_system), runs the client zone here (another), stops the child,
/// removes the region. The parent must be single-threaded.
run_result actor_path(const path_config& p, const budget& b);

/// The same requests through a gateway: forks the service zone and the
/// client zone with its gateway (each its own actor_system; the gateway
/// published on a free loopback port), and sends them from here, a third
/// actor_system, with p's client actors on a connect_remote link. The
/// parent must be single-threaded.
run_result remote_path(const path_config& p, const budget& b);

/// A bare CAF remote actor echo of p.payload bytes: forks a process that
/// publishes an echo actor on loopback (caf::io::publish); from here an
/// event-based actor sends it requests, one message each, p.in_flight at
/// once (1: round trips). Latency from request to response.
run_result caf_echo_path(const path_config& p, const budget& b);

/// Waits until the region's service slot is held by a live service, or the
/// timeout passes (then false and *error).
bool wait_for_service(const shm::region_options& ro,
                      std::chrono::milliseconds timeout, std::string* error);

} // namespace hyperamp::bench

// amp-bench's measurements through the queue ports, without actors: the
// ports of a wire layout exactly as the bridges use them (acquire, submit,
// take, complete, release, doorbells), one process per zone. The
// contention scenario puts 1..8 client processes against one service, for
// the locked and the partitioned layout side by side.
#pragma once

#include <cstdint>

#include "bench/amp_bench_raw.hpp"
#include "shm/layout.hpp"

namespace hyperamp::bench {

/// How one run through the ports is set up.
struct ports_config {
  shm::wire_layout layout = shm::wire_layout::hyperamp;
  std::uint32_t clients = 1; ///< client processes (at most 16)
  std::uint32_t window = 64; ///< requests in flight per client
  std::uint32_t payload = 64;
  bool polling = false; ///< bells spin 1 s; otherwise spin 50 us, then futex
  /// queue_lock measured in every zone (locked layout; two clock reads per
  /// acquisition): lock_result is filled.
  bool measure_lock = false;
};

/// queue_lock as every zone of one run saw it.
struct lock_result {
  run_result hold;      ///< lat_us: hold times (us) of every zone's first holds
  double contended = 0; ///< share of acquisitions whose first try failed
  double per_request = 0; ///< acquisitions (all zones) per request
  double yields_per_request = 0;
};

/// Every client process pipelines `window` echo requests of `payload`
/// bytes for `b.seconds` (after a warm-up of a fifth of that), all started
/// together. run_result: count and seconds (the sum of the clients'
/// rates), lat_us (samples of every client's round trips).
run_result ports_run(const ports_config& c, const budget& b,
                     lock_result* locks = nullptr);

} // namespace hyperamp::bench

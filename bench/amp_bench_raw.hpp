// amp-bench's measurements without actors: the result of one repetition,
// how much one may do, and the floor and baseline measurements (no CAF in
// this file's translation unit; the second process is a bench::child).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hyperamp::bench {

// -- results -----------------------------------------------------------------

/// What one repetition of one measurement produced.
struct run_result {
  bool ok = true;
  std::string error;          ///< why it failed (ok == false)
  std::vector<double> lat_us; ///< per-request latencies after warm-up
  std::uint64_t count = 0;    ///< requests completed in the timed part
  std::uint64_t failed = 0;   ///< requests that ended with an error
  std::uint64_t bytes = 0;    ///< payload bytes in the timed part
  double seconds = 0;         ///< wall time of the timed part
  double value = 0; ///< another figure (wall time, ratio, share; see row)
};

/// How much one repetition may do: at most `requests` (after `warmup`
/// discarded ones), and no longer than `seconds` once it has `min_requests`;
/// never longer than `max_factor` x `seconds`, whatever it has by then.
struct budget {
  std::uint64_t requests = 20000;
  std::uint64_t warmup = 1000;
  std::uint64_t min_requests = 200;
  double seconds = 2.0;
  double max_factor = 2.0;
};

/// True once a timed part that has done `done` requests in `elapsed`
/// seconds has done enough.
bool enough(const budget& b, std::uint64_t done, double elapsed);

run_result failure(std::string why);

// -- the floor: two processes, no actors -----------------------------------

/// One cache line bounced between two spinning processes (round trip).
run_result floor_cacheline(const budget& b);

/// One 64 B echo through the hyperamp queue (zone_lock, payload, wire
/// validation), no actors: one thread per side. `polling`: both sides spin
/// on the doorbell word; otherwise both sleep in futex (spin 0).
run_result floor_queue_latency(const budget& b, bool polling,
                               std::uint32_t payload);

/// Pipelined 64 B echo through the same queue: `window` requests in
/// flight, batches both ways, both sides spinning.
run_result floor_queue_throughput(const budget& b, std::uint32_t window);

// -- baselines ---------------------------------------------------------------

/// A Unix-domain SOCK_SEQPACKET echo between two processes (blocking I/O).
run_result baseline_uds_latency(const budget& b);
run_result baseline_uds_throughput(const budget& b, std::uint32_t window);

/// A replica of the seed's design (hvisor-tool, see docs/benchmarks.md):
/// one ByteFlag-locked queue, one entry per service wake-up, the client
/// polling for completion with usleep(1000). `threads` client threads.
/// run_result::value: the share of requests that slept at least once.
run_result baseline_seed(const budget& b, std::uint32_t threads);

} // namespace hyperamp::bench

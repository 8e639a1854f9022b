// amp-bench's plumbing and its measurements without actors: the second
// process (fork from a single-threaded parent, pipes for "ready" and
// "stop"), the result of one repetition, and the floor and baseline
// measurements (no CAF in this file's translation unit).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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

// -- the second process ------------------------------------------------------

/// A forked child. `ready` is the read end of its ready pipe, `stop` the
/// write end of its stop pipe (closing it means "stop").
struct child_proc {
  pid_t pid = -1;
  int ready = -1;
  int stop = -1;
};

/// What the child runs: `ready_fd` to report (report_ready / report_error),
/// `stop_fd` to wait on (wait_stop). Its return value is the exit code.
using child_body = std::function<int(int ready_fd, int stop_fd)>;

/// Forks. The parent must be single-threaded (no actor_system, no thread).
/// The child runs `body` and _exit()s with its result.
bool fork_child(const child_body& body, child_proc& out, std::string* error);

/// Child side: "serving" / "failed: why".
void report_ready(int fd);
void report_error(int fd, const std::string& why);
/// Child side: blocks until the parent asks to stop (or dies).
void wait_stop(int fd);
/// Child side: true once the parent asked to stop (non-blocking).
bool stop_requested(int fd);

/// Parent side: waits for the child's ready byte. False (with the child's
/// message, or a timeout) if it failed.
bool await_ready(child_proc& c, int timeout_ms, std::string* error);

/// Parent side: asks the child to stop, waits up to `timeout_ms`, then
/// kills it. Returns its exit code (or -signal); closes the pipes.
int stop_child(child_proc& c, int timeout_ms);

/// A fresh region file name: /dev/shm/hyperamp-bench-<pid>-<n>.
std::string region_path();

/// Removes the file (and says so on failure).
void remove_region(const std::string& path);

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

// shm-bench: measures the shm layer on a Linux host (the two zones are two
// processes mapping one region file). A program that prints a table and
// writes JSON, not a timed test: no number here passes or
// fails anything. docs/benchmarks.md has the method, results and discussion.
//
// Method:
//  - every measure is repeated; within one repetition all variants of a
//    measure run side by side, in an order rotated per repetition, because
//    the machine is shared and noisy;
//  - latency rows: per-op samples (one per round trip, or the mean of a batch
//    of ops where one op is too short to time by itself); median and p99 by
//    nearest rank over the samples of all repetitions; spread = min..max of
//    the per-repetition medians;
//  - rate rows: one figure per repetition; median and spread over those;
//  - this process (the client, or lock thread 0) runs on the first CPU it may
//    use, the peer process (the service) or lock thread 1 on the second.
#include "bench/common/args.hpp"
#include "bench/common/byte_flag.hpp"
#include "bench/common/machine.hpp"
#include "bench/common/memory.hpp"
#include "bench/common/proc.hpp"
#include "bench/common/report.hpp"
#include "bench/common/stats.hpp"
#include "shm/doorbell.hpp"
#include "shm/layout.hpp"
#include "shm/participant.hpp"
#include "shm/queue.hpp"
#include "shm/region.hpp"
#include "shm/status.hpp"
#include "shm/wire.hpp"
#include "shm/zone_lock.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

const char* const hyperamp::bench::tool_name = "shm-bench";

namespace {

namespace shm = hyperamp::shm;
namespace bench = hyperamp::bench;
using bench::json;
using bench::progress;
using clock_type = std::chrono::steady_clock;
using std::chrono::nanoseconds;

// -- settings -----------------------------------------------------------------

/// How much to measure. Full: about a minute on two cores; quick: CI's smoke
/// test, a second or two.
struct plan {
  int reps;
  std::size_t lock_batches;     ///< uncontended: batches of k_lock_batch ops
  std::size_t contended_ops;    ///< contended: lock/unlock pairs per thread
  std::size_t pingpong_batches; ///< batches of k_pingpong_batch round trips
  std::size_t round_trips;      ///< timed round trips per variant
  std::size_t pipelined;        ///< timed requests per variant
};

constexpr plan k_full_plan{5, 2000, 200'000, 2000, 20'000, 1'000'000};
constexpr plan k_quick_plan{1, 20, 5'000, 20, 200, 10'000};

constexpr std::size_t k_lock_batch = 1000;
constexpr std::size_t k_pingpong_batch = 100;
constexpr std::size_t k_window = 32;        ///< pipelined: requests in flight
constexpr std::size_t k_service_batch = 32; ///< service: entries per take
constexpr std::uint32_t k_small = 64;
constexpr std::uint32_t k_large = 4096;

// Region geometry: small, with room for k_window 4 KiB payloads per client.
constexpr std::uint32_t k_entries = 256;
constexpr std::uint32_t k_clients = 4;
constexpr std::uint64_t k_payload_bytes = 1u << 20;

constexpr std::uint32_t k_service_zone = 0;
constexpr std::uint32_t k_client_zone = 1;
constexpr std::uint32_t k_echo_service = 1;
/// A request for this service id makes the service process exit.
constexpr std::uint32_t k_stop_service = 0xFFFF'FFFFu;
/// The echo service XORs every payload byte with this.
constexpr std::uint8_t k_xor = 0x42;
/// Longest wait for the peer before a run is declared failed.
constexpr auto k_peer_timeout = std::chrono::seconds(10);
/// Polling mode: a spin budget no run comes near, so nobody ever sleeps.
constexpr nanoseconds k_spin_forever = std::chrono::hours(1);
constexpr nanoseconds k_spin_none{0};
constexpr nanoseconds k_spin_50us = std::chrono::microseconds(50);

struct options {
  bool quick = false;
  std::string json_path;
  std::string region_path; ///< default /dev/shm/hyperamp-bench-<pid>
  std::string command;     ///< argv, for the JSON
};

// -- errors and small helpers -------------------------------------------------

/// A failed measurement: main prints it and exits with 1.
struct bench_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) {
  throw bench_error(what);
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

double elapsed_ns(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::nano>(to - from).count();
}

/// The order in which `n` variants run in repetition `rep` (rotated, so no
/// variant always runs first or right after the same neighbour).
std::vector<std::size_t> rotated(std::size_t n, int rep) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i)
    order[i] = (i + static_cast<std::size_t>(rep)) % n;
  return order;
}

// -- the result table ---------------------------------------------------------

/// One line of the table, filled in one repetition at a time.
struct row {
  std::string id;
  std::string measure;
  std::string unit;
  std::string settings;
  bool rate = false;                ///< one figure per repetition, no p99
  std::vector<double> samples{};    ///< latency rows: pooled per-op samples
  std::vector<double> rep_median{}; ///< per repetition: median, or the rate
  std::vector<double> rep_p99{};    ///< per repetition (latency rows)
  std::map<std::string, std::vector<double>> counters{}; ///< per repetition
};

struct summary {
  double median = 0, p99 = 0;
  bench::spread spread;
};

summary summarize(const row& r) {
  summary s;
  s.median = bench::percentile(r.rate ? r.rep_median : r.samples, 0.5);
  s.p99 = r.rate ? std::nan("") : bench::percentile(r.samples, 0.99);
  s.spread = bench::spread_of(r.rep_median);
  return s;
}

class results {
public:
  /// Declares a row; rows print in the order they were declared.
  void declare(std::string id, std::string measure, std::string unit,
               std::string settings, bool rate) {
    rows_.push_back({id, measure, unit, settings, rate});
  }

  row& at(const std::string& id) {
    for (auto& r : rows_)
      if (r.id == id)
        return r;
    fail("internal: no result row " + id);
  }

  void add_latency(const std::string& id, const std::vector<double>& v) {
    row& r = at(id);
    r.rep_median.push_back(bench::percentile(v, 0.5));
    r.rep_p99.push_back(bench::percentile(v, 0.99));
    r.samples.insert(r.samples.end(), v.begin(), v.end());
  }

  void add_rate(const std::string& id, double value) {
    at(id).rep_median.push_back(value);
  }

  void add_counter(const std::string& id, const std::string& name, double v) {
    at(id).counters[name].push_back(v);
  }

  const std::vector<row>& rows() const noexcept { return rows_; }

private:
  std::vector<row> rows_;
};

/// About three significant digits (tiny values in e-notation); "-" for NaN.
std::string fmt(double v) {
  char buf[32];
  if (std::isnan(v))
    return "-";
  if (std::fabs(v) >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (std::fabs(v) >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (v == 0 || std::fabs(v) >= 0.01)
    std::snprintf(buf, sizeof buf, "%.2f", v);
  else
    std::snprintf(buf, sizeof buf, "%.1e", v);
  return buf;
}

// -- machine description ------------------------------------------------------

/// The machine, and the two CPUs shm-bench uses (-1: none).
struct machine_info : bench::machine {
  int cpu_a = -1;
  int cpu_b = -1;
};

machine_info probe_machine() {
  machine_info m;
  static_cast<bench::machine&>(m) = bench::probe_machine("", 0);
  const auto& cpus = m.allowed_cpus;
  m.cpu_a = cpus.size() > 0 ? cpus[0] : -1;
  m.cpu_b = cpus.size() > 1 ? cpus[1] : -1;
  return m;
}

/// Pins the calling thread (or process) to `cpu`; true for -1 (no pinning).
bool try_pin(int cpu) noexcept {
  if (cpu < 0)
    return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

void pin_to(int cpu) {
  if (!try_pin(cpu))
    fail(errno_text("cannot pin to CPU " + std::to_string(cpu)));
}

void print_table(const results& res, int reps, const machine_info& m) {
  std::printf(
      "\nshm-bench: %d repetition(s). median, p99: nearest rank over the "
      "per-op samples of\nall repetitions. spread: min..max of the "
      "per-repetition medians (rates: of the\nper-repetition figures). "
      "Counters after the settings, min..max over repetitions:\nhandoffs/op "
      "= share of acquisitions that went to the other thread; sleeps/req =\n"
      "client futex waits, wakes/req = client futex wakes of the service; cpu "
      "c/s\n"
      "= CPU share of client/service over the run (1 = a whole CPU); "
      "preempt c/s =\ninvoluntary context switches of client/service "
      "(other work took the CPU).\n"
      "/proc/loadavg before: %s; after: %s\n\n",
      reps, m.load_start.c_str(), m.load_end.c_str());
  std::fflush(stdout);
  std::vector<std::vector<std::string>> cells = {
      {"measure", "median", "p99", "spread", "unit", "settings"}};
  for (const row& r : res.rows()) {
    const summary s = summarize(r);
    std::string settings = r.settings;
    for (const auto& [name, v] : r.counters) {
      const auto range = bench::spread_of(v);
      settings += "; " + name + " " + fmt(range.min) + ".." + fmt(range.max);
    }
    cells.push_back({r.measure, fmt(s.median), fmt(s.p99),
                     fmt(s.spread.min) + ".." + fmt(s.spread.max), r.unit,
                     settings});
  }
  bench::print_table(std::cout, cells, {false, true, true, true, false, false});
  std::cout << std::endl;
}

// -- cleanup on signals -------------------------------------------------------

// What an interrupted run must undo; read by the signal handler only.
char g_region_path[PATH_MAX];
std::atomic<bool> g_region_live{false};

void on_signal(int sig) {
  // Async-signal-safe calls only.
  // Reap the child too: PID 1 of a container may not reap orphans.
  const pid_t c = bench::current_child();
  if (c > 0 && ::kill(c, SIGKILL) == 0)
    ::waitpid(c, nullptr, 0);
  if (g_region_live.load())
    ::unlink(g_region_path);
  ::_exit(128 + sig);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
    ::sigaction(sig, &sa, nullptr);
}

// -- peer processes -----------------------------------------------------------

/// Forks `body` as the peer process (bench::child).
void start(bench::child& c, const std::function<int()>& body) {
  std::string err;
  if (!c.start([&body](int, int) { return body(); }, &err))
    fail(err);
}

/// Fails with what became of a peer that ended with bench::exit_code `rc`.
[[noreturn]] void peer_failed(const std::string& what, int rc) {
  fail(what + (rc == 0  ? " exited early (status 0)"
               : rc < 0 ? " was killed by signal " + std::to_string(-rc)
                        : " failed (exit status " + std::to_string(rc) +
                              ", see its message above)"));
}

/// Waits up to k_peer_timeout for the child to exit (then kills it); fails
/// unless it exited with status 0.
void reap(bench::child& c, const std::string& what) {
  if (const int rc = c.stop(
          static_cast<int>(std::chrono::milliseconds(k_peer_timeout).count()));
      rc != 0)
    peer_failed(what, rc);
}

/// Fails if the child has exited (it should still be working).
void check_running(bench::child& c, const std::string& what) {
  if (const auto st = c.wait_for(std::chrono::milliseconds(0)))
    peer_failed(what, bench::exit_code(*st));
}

// -- the locks under test -----------------------------------------------------

/// Set when a lock reports misuse (ByteFlag unlock of a free lock, a pthread
/// error, a zone_lock recovery); checked after every lock measurement.
std::atomic<bool> g_lock_misuse{false};

/// The locks and the data they guard, one cache line each, in a MAP_SHARED
/// mapping (bench::shared; the pthread mutex is PTHREAD_PROCESS_SHARED).
/// zone_lock lives in the region instead.
struct arena {
  arena() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    const int rc = pthread_mutex_init(&mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0)
      fail("pthread_mutex_init: " + std::string{std::strerror(rc)});
  }
  ~arena() { pthread_mutex_destroy(&mutex); }
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  alignas(64) pthread_mutex_t mutex;
  alignas(64) std::atomic_flag flag = ATOMIC_FLAG_INIT;
  alignas(64) std::atomic<std::uint8_t> byte_flag{bench::k_byte_unlocked};
  // Under the lock under test: the shared counter, which thread incremented
  // it last, and how often that changed (evidence the threads overlapped).
  alignas(64) std::uint64_t counter = 0;
  std::uint64_t handoffs = 0;
  std::uint32_t last_thread = 0;
  alignas(64) std::atomic<std::uint32_t> go{0};   ///< starts contended threads
  alignas(64) std::atomic<std::uint64_t> ping{0}; ///< written by the parent
  alignas(64) std::atomic<std::uint64_t> pong{0}; ///< written by the child
};

struct zone_lock_handle {
  shm::zone_lock l;
  void lock() noexcept {
    if (l.lock() != shm::status::ok)
      g_lock_misuse = true;
  }
  void unlock() noexcept { l.unlock(); }
};

struct pthread_handle {
  pthread_mutex_t* m;
  void lock() noexcept {
    if (pthread_mutex_lock(m) != 0)
      g_lock_misuse = true;
  }
  void unlock() noexcept {
    if (pthread_mutex_unlock(m) != 0)
      g_lock_misuse = true;
  }
};

/// The textbook std::atomic_flag spinlock: test_and_set until it was clear
/// (pause between tries), clear to unlock.
struct flag_handle {
  std::atomic_flag* f;
  void lock() noexcept {
    while (f->test_and_set(std::memory_order_acquire))
      shm::cpu_relax();
  }
  void unlock() noexcept { f->clear(std::memory_order_release); }
};

/// hvisor-tool's ByteFlag (bench::byte_lock).
struct byte_flag_handle {
  std::atomic<std::uint8_t>* b;
  void lock() noexcept { bench::byte_lock(*b); }
  void unlock() noexcept {
    if (!bench::byte_unlock(*b))
      g_lock_misuse = true;
  }
};

enum class lock_kind { zone, pthread, flag, byte_flag };
constexpr std::array<lock_kind, 4> k_lock_kinds{
    lock_kind::zone, lock_kind::pthread, lock_kind::flag, lock_kind::byte_flag};

const char* lock_name(lock_kind k) {
  const char* const names[] = {"zone_lock", "pthread_mutex", "atomic_flag",
                               "ByteFlag"};
  return names[static_cast<int>(k)];
}

/// Calls f(handle) with a handle of lock `k`. A zone_lock handle acts for
/// participant slot `slot` (so two threads have separate heartbeat lines).
template <class F>
void with_lock(lock_kind k, arena& a, shm::region& r, std::uint32_t slot,
               F&& f) {
  switch (k) {
  case lock_kind::zone: {
    zone_lock_handle h{shm::zone_lock{r, slot, slot}};
    return f(h);
  }
  case lock_kind::pthread: {
    pthread_handle h{&a.mutex};
    return f(h);
  }
  case lock_kind::flag: {
    flag_handle h{&a.flag};
    return f(h);
  }
  case lock_kind::byte_flag: {
    byte_flag_handle h{&a.byte_flag};
    return f(h);
  }
  }
}

void check_locks(const char* what) {
  if (g_lock_misuse.exchange(false))
    fail(std::string{what} + ": a lock reported misuse or an error");
}

// -- measure 1: locks ---------------------------------------------------------

/// ns per op: `batches` timed calls of `batch` (`ops` ops each) after ten
/// untimed ones, one sample per call (steady_clock costs more than one op).
template <class F>
std::vector<double> time_batches(std::size_t batches, std::size_t ops,
                                 F batch) {
  std::vector<double> ns;
  ns.reserve(batches);
  for (std::size_t b = 0; b < batches + 10; ++b) {
    const auto t0 = clock_type::now();
    batch();
    const double t = elapsed_ns(t0, clock_type::now());
    if (b >= 10)
      ns.push_back(t / static_cast<double>(ops));
  }
  return ns;
}

/// ns per lock()+unlock() pair, in batches of k_lock_batch pairs.
template <class H>
std::vector<double> time_uncontended(H& h, std::size_t batches) {
  return time_batches(batches, k_lock_batch, [&] {
    for (std::size_t i = 0; i < k_lock_batch; ++i) {
      h.lock();
      h.unlock();
    }
  });
}

struct contended_out {
  std::vector<double> per_op_ns; ///< both threads' batch means
  double mops = 0;               ///< both threads together
  double handoffs = 0;           ///< lock changed threads, per op
};

/// Two threads on two CPUs, each `ops` times: lock, ++counter, unlock. This
/// thread is thread 0 (on cpu_a); thread 1 runs on cpu_b. Both meet at a
/// spin barrier so that they overlap. Fails if the counter lost an update.
contended_out run_contended(lock_kind k, arena& a, shm::region& r,
                            std::size_t ops, const machine_info& m) {
  a.counter = a.handoffs = 0;
  a.last_thread = 0;
  a.go.store(0);
  std::array<std::vector<double>, 2> ns;
  std::array<clock_type::time_point, 2> start, end;
  auto body = [&](std::uint32_t t) {
    with_lock(k, a, r, t, [&](auto& h) {
      ns[t].reserve(ops / k_lock_batch + 1);
      a.go.fetch_add(1, std::memory_order_acq_rel);
      while (a.go.load(std::memory_order_acquire) < 2)
        shm::cpu_relax();
      start[t] = clock_type::now();
      for (std::size_t done = 0; done < ops;) {
        const std::size_t n = std::min(k_lock_batch, ops - done);
        const auto t0 = clock_type::now();
        for (std::size_t i = 0; i < n; ++i) {
          h.lock();
          ++a.counter;
          a.handoffs += a.last_thread != t;
          a.last_thread = t;
          h.unlock();
        }
        ns[t].push_back(elapsed_ns(t0, clock_type::now()) /
                        static_cast<double>(n));
        done += n;
      }
    });
    end[t] = clock_type::now();
  };
  // A thread cannot fail() (it would terminate): unpinned is still correct.
  std::thread peer{[&] {
    (void)try_pin(m.cpu_b);
    body(1);
  }};
  body(0);
  peer.join();
  if (a.counter != 2 * ops)
    fail(std::string{lock_name(k)} + " lost updates: counter " +
         std::to_string(a.counter) + ", expected " + std::to_string(2 * ops));
  contended_out out;
  out.per_op_ns = ns[0];
  out.per_op_ns.insert(out.per_op_ns.end(), ns[1].begin(), ns[1].end());
  const double wall =
      elapsed_ns(std::min(start[0], start[1]), std::max(end[0], end[1]));
  out.mops = static_cast<double>(2 * ops) / wall * 1e3;
  out.handoffs = static_cast<double>(a.handoffs) / static_cast<double>(2 * ops);
  return out;
}

// -- measure 4: the floor -----------------------------------------------------

/// Spins until `word` holds `want` or the peer timeout passes.
bool spin_until(const std::atomic<std::uint64_t>& word, std::uint64_t want) {
  const auto deadline = clock_type::now() + k_peer_timeout;
  for (std::uint32_t i = 1;; ++i) {
    // acquire: pairs with the peer's release store of `want`.
    if (word.load(std::memory_order_acquire) == want)
      return true;
    shm::cpu_relax();
    if (i % 4096 == 0 && clock_type::now() > deadline)
      return false;
  }
}

/// Two processes bounce one counter through two cache lines: the parent
/// stores ping = i, the child waits for it and stores pong = i. One sample
/// per batch of k_pingpong_batch round trips, in ns per round trip.
std::vector<double> ping_pong(arena& a, std::size_t batches,
                              const machine_info& m) {
  constexpr std::uint64_t k_stop = UINT64_MAX;
  a.ping.store(0);
  a.pong.store(0);
  bench::child peer;
  start(peer, [&] {
    pin_to(m.cpu_b);
    for (std::uint64_t seen = 0;;) {
      while (a.ping.load(std::memory_order_acquire) == seen)
        shm::cpu_relax();
      seen = a.ping.load(std::memory_order_acquire);
      if (seen == k_stop)
        return 0;
      a.pong.store(seen, std::memory_order_release);
    }
  });
  std::uint64_t i = 0;
  auto ns = time_batches(batches, k_pingpong_batch, [&] {
    for (std::size_t j = 0; j < k_pingpong_batch; ++j) {
      a.ping.store(++i, std::memory_order_release);
      if (!spin_until(a.pong, i))
        fail("ping-pong peer stopped answering");
    }
  });
  a.ping.store(k_stop, std::memory_order_release);
  reap(peer, "ping-pong peer");
  return ns;
}

// -- the region and its two zones ---------------------------------------------

shm::region_options region_opts(const std::string& path,
                                shm::create_mode mode) {
  return bench::region_options(path, k_entries, k_clients, k_payload_bytes,
                               mode, std::chrono::seconds(5));
}

/// The benchmark's region file: created (never an existing file), removed
/// on destruction and on SIGINT, SIGTERM, SIGHUP and SIGPIPE.
class bench_region {
public:
  explicit bench_region(const std::string& path) : path_(path) {
    auto res = shm::region::open(region_opts(path, shm::create_mode::create));
    if (res.error == shm::open_error::exists)
      fail("region file " + path +
           " already exists; remove it or choose another --region");
    if (!res)
      fail("cannot create the benchmark region: " + res.message);
    r_ = std::move(res.value);
    std::snprintf(g_region_path, sizeof g_region_path, "%s", path.c_str());
    g_region_live.store(true);
  }
  ~bench_region() {
    g_region_live.store(false);
    r_.reset();
    ::unlink(path_.c_str());
  }
  bench_region(const bench_region&) = delete;
  bench_region& operator=(const bench_region&) = delete;
  shm::region& get() noexcept { return *r_; }
  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
  std::unique_ptr<shm::region> r_;
};

/// Waits for a ring from the peer; fails after k_peer_timeout.
void wait_rung(shm::doorbell& bell, const char* peer) {
  switch (bell.wait(clock_type::now() + k_peer_timeout)) {
  case shm::wait_result::rung:
    return;
  case shm::wait_result::timeout:
    fail(std::string{"no ring from the "} + peer + " within 10 s");
  case shm::wait_result::error:
    fail("doorbell wait failed");
  }
}

void check(shm::batch_result got, std::size_t want, const char* op) {
  if (got.count != want)
    fail(std::string{op} + " moved " + std::to_string(got.count) + " of " +
         std::to_string(want) + " entries (" + shm::to_string(got.st) + ")");
}

/// The service zone (a child process): takes submitted requests in batches,
/// echoes each (payload XOR k_xor), completes the batch, rings each client
/// once per batch; leaves on the stop request.
class service {
public:
  service(shm::region& r, shm::participant me, nanoseconds spin)
      : r_(r),
        me_(me),
        lock_(r, me_.index(), k_service_zone),
        q_(r, lock_),
        bell_(r.slot_at(me_.index()), spin),
        ringers_(r.max_clients() + 1u) {}
  ~service() { me_.release(); }
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Serves until the stop request; the owner loop of doorbell.hpp.
  void run() {
    std::array<std::uint32_t, k_service_batch> idx{};
    for (bool stop = false; !stop;) {
      const auto got = q_.take_submitted(idx.data(), idx.size());
      if (got.st == shm::status::corrupt)
        fail("take_submitted: corrupt queue");
      if (got.count == 0) {
        wait_rung(bell_, "client");
        continue;
      }
      for (std::size_t j = 0; j < got.count; ++j)
        stop = echo(idx[j]) || stop;
      check(q_.complete(idx.data(), got.count), got.count, "complete");
      ring_clients(idx.data(), got.count);
    }
  }

private:
  /// Answers one request; true if it was the stop request.
  bool echo(std::uint32_t i) {
    shm::request_view rq;
    const char* why = "";
    if (shm::read_request(r_, i, rq, &why) != shm::status::ok)
      fail(std::string{"invalid request: "} + why);
    const bool stop = rq.service_id == k_stop_service;
    const std::uint32_t len = stop ? 0 : rq.length;
    for (std::uint32_t k = 0; k < len; ++k)
      rq.data[k] = static_cast<std::uint8_t>(rq.data[k] ^ k_xor);
    shm::write_completion(r_, i, rq.seq, shm::wire_status::ok, len);
    return stop;
  }

  /// Rings the client slot of each completed entry, once per run of equal
  /// slots (complete() has published the entries: ring after it).
  void ring_clients(const std::uint32_t* idx, std::size_t n) {
    std::uint16_t last = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint16_t s = shm::tag_of(r_.entry_at(idx[j])).slot;
      if (s == last || s < 1 || s > r_.max_clients())
        continue;
      auto& bell = ringers_[s];
      if (!bell)
        bell =
            std::make_unique<shm::futex_doorbell>(r_.slot_at(s), k_spin_none);
      bell->ring();
      last = s;
    }
  }

  shm::region& r_;
  shm::participant me_;
  shm::zone_lock lock_;
  shm::queue<shm::zone_lock> q_;
  shm::futex_doorbell bell_;
  std::vector<std::unique_ptr<shm::futex_doorbell>> ringers_;
};

/// The child's whole life: attach to the region (its own mapping, like a
/// second zone), claim slot 0, serve, release.
int service_main(const std::string& path, nanoseconds spin, int cpu) {
  pin_to(cpu);
  auto res = shm::region::open(region_opts(path, shm::create_mode::attach));
  if (!res)
    fail("cannot attach: " + res.message);
  shm::participant me;
  const auto st = shm::participant::claim_service(
      *res.value, k_service_zone, std::chrono::milliseconds(100), me);
  if (st != shm::status::ok)
    fail(std::string{"cannot claim the service slot: "} + shm::to_string(st));
  service svc{*res.value, me, spin};
  svc.run();
  return 0;
}

shm::participant claim_client_slot(shm::region& r) {
  shm::participant me;
  const auto st = shm::participant::claim_client(r, k_client_zone, me);
  if (st != shm::status::ok)
    fail(std::string{"cannot claim a client slot: "} + shm::to_string(st));
  return me;
}

/// The client zone (this process): one client slot, its own zone_lock, its
/// doorbell to wait on and the service's to ring. Payload block k of a
/// given capacity sits at partition start + k * capacity.
class client {
public:
  client(shm::region& r, nanoseconds spin)
      : r_(r),
        me_(claim_client_slot(r)),
        slot_(static_cast<std::uint16_t>(me_.index())),
        lock_(r, me_.index(), k_client_zone),
        q_(r, lock_),
        bell_(r.slot_at(me_.index()), spin),
        service_(r.slot_at(shm::k_service_slot), spin),
        base_(static_cast<std::uint32_t>(shm::partition_offset(r, slot_))) {}
  ~client() { me_.release(); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  std::size_t acquire(std::uint32_t* out, std::size_t n) {
    const auto got = q_.acquire(slot_, out, n);
    if (got.count == 0 || got.st == shm::status::corrupt)
      check(got, n, "acquire");
    return got.count;
  }

  /// Copies `len` bytes into payload block `block` and fills in the request
  /// of entry `e`. Returns its sequence number.
  std::uint64_t write(std::uint32_t e, std::uint32_t block,
                      const std::uint8_t* data, std::uint32_t len,
                      std::uint32_t cap,
                      std::uint32_t service = k_echo_service) {
    const std::uint32_t off = base_ + block * cap;
    std::memcpy(r_.payload() + off, data, len);
    const std::uint64_t seq = seq_++;
    shm::write_request(r_, e, seq, service, off, len, cap);
    return seq;
  }

  /// Submits and rings the service.
  void submit(const std::uint32_t* idx, std::size_t n) {
    check(q_.submit(slot_, idx, n), n, "submit");
    service_.ring();
  }

  std::size_t take(std::uint32_t* out, std::size_t n) {
    const auto got = q_.take_completed(slot_, out, n);
    if (got.st == shm::status::corrupt)
      fail("take_completed: corrupt queue");
    return got.count;
  }

  /// Validates the completion of entry `e` against what was asked, then
  /// copies the response out of block `block`.
  void read(std::uint32_t e, std::uint64_t seq, std::uint32_t block,
            std::uint8_t* out, std::uint32_t len, std::uint32_t cap) {
    shm::completion_view v;
    const char* why = "";
    if (shm::read_completion(r_, e, cap, v, &why) != shm::status::ok)
      fail(std::string{"invalid completion: "} + why);
    if (v.done_seq != seq || v.result != shm::wire_status::ok ||
        v.result_length != len)
      fail("completion of entry " + std::to_string(e) +
           " does not match its request");
    std::memcpy(out, r_.payload() + base_ + block * cap, len);
  }

  void release(const std::uint32_t* idx, std::size_t n) {
    check(q_.release(slot_, idx, n), n, "release");
  }

  /// The service process, checked while waiting for it.
  void watch(bench::child* peer) noexcept { peer_ = peer; }

  void wait();

  double round_trip(const std::uint8_t* src, std::uint8_t* dst,
                    std::uint32_t len, std::uint32_t service = k_echo_service);
  /// Sends the stop request and waits for its completion, so that nothing
  /// of this run is left on a list.
  void stop_service() {
    std::uint8_t none[1] = {};
    round_trip(none, none, 0, k_stop_service);
  }
  void check_idle();

  /// Doorbell counters of this side since construction: futex waits on our
  /// bell, futex wakes of the service.
  double sleeps() const {
    return static_cast<double>(bell_.stats().sleep_syscalls);
  }
  double wakes() const {
    return static_cast<double>(service_.stats().wake_syscalls);
  }

private:
  shm::region& r_;
  shm::participant me_;
  std::uint16_t slot_;
  shm::zone_lock lock_;
  shm::queue<shm::zone_lock> q_;
  shm::futex_doorbell bell_;
  shm::futex_doorbell service_;
  std::uint32_t base_;
  std::uint64_t seq_ = 1;
  bench::child* peer_ = nullptr;
};

/// Waits for a ring from the service, checking every 100 ms that the
/// service process is still there; fails after k_peer_timeout.
void client::wait() {
  const auto deadline = clock_type::now() + k_peer_timeout;
  for (;;) {
    const auto slice =
        std::min(deadline, clock_type::now() + std::chrono::milliseconds(100));
    const auto got = bell_.wait(slice);
    if (got == shm::wait_result::rung)
      return;
    if (got == shm::wait_result::error)
      fail("doorbell wait failed");
    if (peer_ != nullptr)
      check_running(*peer_, "service process");
    if (clock_type::now() >= deadline)
      fail("no ring from the service within 10 s");
  }
}

/// One request through the queue and back (the echo, or `service`);
/// returns its duration in ns. Contract: nothing else is in flight.
double client::round_trip(const std::uint8_t* src, std::uint8_t* dst,
                          std::uint32_t len, std::uint32_t service) {
  const std::uint32_t cap = std::max(len, k_small);
  const auto t0 = clock_type::now();
  std::uint32_t e = 0;
  acquire(&e, 1);
  const std::uint64_t seq = write(e, 0, src, len, cap, service);
  submit(&e, 1);
  std::uint32_t got = 0;
  while (take(&got, 1) == 0)
    wait();
  if (got != e)
    fail("completed entry " + std::to_string(got) + ", expected " +
         std::to_string(e));
  read(got, seq, 0, dst, len, cap);
  release(&got, 1);
  return elapsed_ns(t0, clock_type::now());
}

/// After a run every entry must be back on the free list.
void client::check_idle() {
  const auto c = q_.census();
  if (!c.consistent || c.free != r_.entry_count())
    fail("queue not idle after the run: " + std::to_string(c.free) + " of " +
         std::to_string(r_.entry_count()) + " entries free, " +
         (c.consistent ? "consistent" : "inconsistent"));
}

/// CPU time and involuntary context switches (preemptions) so far, of
/// this process or of its reaped children.
struct usage {
  double cpu_s = 0;
  double preempted = 0;
};

usage usage_of(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return {sec(ru.ru_utime) + sec(ru.ru_stime),
          static_cast<double>(ru.ru_nivcsw)};
}

/// What one run with a service process yields.
struct run_out {
  std::vector<double> samples; ///< round trips: us per round trip
  double rate = 0;             ///< pipelined: requests per second
  double sleeps_per_req = 0;   ///< client futex waits per request
  double wakes_per_req = 0;    ///< client futex wakes of the service per req
  // How much of a CPU each side got over the run (cpu time / wall time)
  // and how often it was preempted: a spinning side that got less than a
  // whole CPU shared it with other work, and its figures show that.
  double client_cpu = 0, service_cpu = 0;
  double client_preempted = 0, service_preempted = 0;
};

/// Runs `body(client&)` against a fresh service process with doorbell spin
/// `spin` on both sides, then stops the service and checks the queue.
template <class Body>
run_out with_service(bench_region& br, nanoseconds spin, const machine_info& m,
                     std::size_t requests, Body body) {
  const usage kids0 = usage_of(RUSAGE_CHILDREN);
  client c{br.get(), spin};
  bench::child svc;
  start(svc, [&] { return service_main(br.path(), spin, m.cpu_b); });
  c.watch(&svc);
  const usage self0 = usage_of(RUSAGE_SELF);
  const auto t0 = clock_type::now();
  run_out out = body(c);
  const double wall = elapsed_ns(t0, clock_type::now()) / 1e9;
  const usage self1 = usage_of(RUSAGE_SELF);
  out.sleeps_per_req = c.sleeps() / static_cast<double>(requests);
  out.wakes_per_req = c.wakes() / static_cast<double>(requests);
  c.stop_service();
  c.watch(nullptr);
  reap(svc, "service process");
  c.check_idle();
  // The service's whole life (attach and stop take microseconds) against
  // the wall time of the body.
  const usage kids1 = usage_of(RUSAGE_CHILDREN);
  out.client_cpu = (self1.cpu_s - self0.cpu_s) / wall;
  out.service_cpu = (kids1.cpu_s - kids0.cpu_s) / wall;
  out.client_preempted = self1.preempted - self0.preempted;
  out.service_preempted = kids1.preempted - kids0.preempted;
  return out;
}

// -- measure 2: round trips ---------------------------------------------------

/// `warm` untimed, then `n` timed round trips of `len` bytes; each response
/// is checked byte for byte (outside the timed part).
run_out round_trips(client& c, std::uint32_t len, std::size_t n,
                    std::size_t warm) {
  std::vector<std::uint8_t> src(len), dst(len);
  for (std::size_t i = 0; i < len; ++i)
    src[i] = static_cast<std::uint8_t>(i * 7 + 1);
  run_out out;
  out.samples.reserve(n);
  for (std::size_t i = 0; i < warm + n; ++i) {
    const double ns = c.round_trip(src.data(), dst.data(), len);
    if (i >= warm)
      out.samples.push_back(ns / 1e3);
    for (std::size_t k = 0; k < len; ++k)
      if (dst[k] != static_cast<std::uint8_t>(src[k] ^ k_xor))
        fail("round trip " + std::to_string(i) + ": wrong byte " +
             std::to_string(k) + " in the response");
    src[i % len] = static_cast<std::uint8_t>(src[i % len] + 1);
  }
  return out;
}

// -- measure 3: pipelined -----------------------------------------------------

/// The client's bookkeeping for k_window requests in flight, 64 B each.
class pipeline {
public:
  pipeline(client& c, std::size_t total, std::uint32_t entries)
      : c_(c), total_(total), seq_of_(entries), block_of_(entries) {
    for (std::uint32_t b = 0; b < k_window; ++b)
      free_blocks_.push_back(b);
    for (std::uint32_t k = 0; k < k_small; ++k)
      src_[k] = static_cast<std::uint8_t>(k * 3 + 5);
  }

  bool can_submit() const noexcept {
    return in_flight_ < k_window && submitted_ < total_;
  }
  bool done() const noexcept { return completed_ == total_; }
  std::size_t completed() const noexcept { return completed_; }

  /// Submits as many requests as the window allows, as one batch.
  void submit_batch() {
    if (!can_submit())
      return;
    std::array<std::uint32_t, k_window> idx{};
    const std::size_t n = c_.acquire(
        idx.data(), std::min(k_window - in_flight_, total_ - submitted_));
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint32_t e = entry(idx[j]);
      block_of_[e] = free_blocks_.back();
      free_blocks_.pop_back();
      seq_of_[e] = c_.write(e, block_of_[e], src_.data(), k_small, k_small);
    }
    c_.submit(idx.data(), n);
    submitted_ += n;
    in_flight_ += n;
  }

  /// Takes every completion there is (up to the window), as one batch;
  /// checks each response. Returns how many.
  std::size_t drain_batch() {
    std::array<std::uint32_t, k_window> idx{};
    const std::size_t n = c_.take(idx.data(), idx.size());
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint32_t e = entry(idx[j]);
      c_.read(e, seq_of_[e], block_of_[e], dst_.data(), k_small, k_small);
      for (std::uint32_t k = 0; k < k_small; ++k)
        if (dst_[k] != static_cast<std::uint8_t>(src_[k] ^ k_xor))
          fail("pipelined: wrong byte in the response");
      free_blocks_.push_back(block_of_[e]);
    }
    if (n > 0)
      c_.release(idx.data(), n);
    completed_ += n;
    in_flight_ -= n;
    return n;
  }

private:
  std::uint32_t entry(std::uint32_t e) const {
    if (e >= seq_of_.size())
      fail("entry index out of range");
    return e;
  }

  client& c_;
  std::size_t total_;
  std::size_t submitted_ = 0, completed_ = 0, in_flight_ = 0;
  std::vector<std::uint64_t> seq_of_;
  std::vector<std::uint32_t> block_of_;
  std::vector<std::uint32_t> free_blocks_;
  std::array<std::uint8_t, k_small> src_{}, dst_{};
};

/// `warm` + `n` requests through the window; the rate counts those completed
/// after the warm-up. Sleeps only when it can neither submit nor drain.
run_out pipelined(client& c, std::uint32_t entries, std::size_t n,
                  std::size_t warm) {
  pipeline pl{c, warm + n, entries};
  auto t0 = clock_type::now();
  std::size_t at_t0 = 0;
  bool timing = warm == 0;
  while (!pl.done()) {
    pl.submit_batch();
    const std::size_t got = pl.drain_batch();
    if (!timing && pl.completed() >= warm) {
      t0 = clock_type::now();
      at_t0 = pl.completed();
      timing = true;
    }
    if (got == 0 && !pl.can_submit())
      c.wait();
  }
  run_out out;
  const double ns = elapsed_ns(t0, clock_type::now());
  out.rate = static_cast<double>(pl.completed() - at_t0) / ns * 1e9;
  return out;
}

// -- the measures, one repetition at a time -----------------------------------

struct bench_env {
  const plan& p;
  const machine_info& m;
  arena& a;
  bench_region& br;
  results& res;
};

std::string lock_id(const char* what, lock_kind k) {
  return std::string{what} + "." + lock_name(k);
}

void bench_locks(bench_env& env, int rep) {
  progress("[rep " + std::to_string(rep + 1) + "] locks: uncontended");
  for (std::size_t i : rotated(k_lock_kinds.size(), rep)) {
    const lock_kind k = k_lock_kinds[i];
    with_lock(k, env.a, env.br.get(), 1, [&](auto& h) {
      env.res.add_latency(lock_id("lock", k),
                          time_uncontended(h, env.p.lock_batches));
    });
    check_locks(lock_name(k));
  }
  progress("[rep " + std::to_string(rep + 1) + "] locks: 2 threads");
  for (std::size_t i : rotated(k_lock_kinds.size(), rep)) {
    const lock_kind k = k_lock_kinds[i];
    auto out =
        run_contended(k, env.a, env.br.get(), env.p.contended_ops, env.m);
    check_locks(lock_name(k));
    env.res.add_rate(lock_id("contended_rate", k), out.mops);
    env.res.add_latency(lock_id("contended_ns", k), out.per_op_ns);
    env.res.add_counter(lock_id("contended_rate", k), "handoffs/op",
                        out.handoffs);
  }
}

/// A measure against a service process: round trips of `len` bytes, or
/// (len 0) 64 B requests pipelined through the window.
struct service_variant {
  const char* mode;
  nanoseconds spin;
  std::uint32_t len;
};

constexpr std::array<service_variant, 4> k_rt_variants{{
    {"polling", k_spin_forever, k_small},
    {"polling", k_spin_forever, k_large},
    {"doorbell", k_spin_none, k_small},
    {"doorbell", k_spin_none, k_large},
}};

constexpr std::array<service_variant, 2> k_pipe_variants{{
    {"polling", k_spin_forever, 0},
    {"doorbell", k_spin_50us, 0},
}};

std::string service_id(const service_variant& v) {
  return v.len
             ? std::string{"round_trip."} + v.mode + "." + std::to_string(v.len)
             : std::string{"pipelined."} + v.mode;
}

void declare(results& res, const plan& p, const service_variant& v) {
  if (v.len)
    res.declare(service_id(v),
                std::string{"round trip "} + v.mode + " " +
                    std::to_string(v.len) + " B",
                "us",
                std::to_string(p.round_trips) + "/rep, " +
                    (v.spin == k_spin_none ? "spin 0: both sleep"
                                           : "spin, never sleeps"),
                false);
  else
    res.declare(service_id(v), std::string{"pipelined "} + v.mode + " 64 B",
                "Mreq/s",
                "W=" + std::to_string(k_window) + ", " +
                    std::to_string(p.pipelined) + " req/rep, " +
                    (v.spin == k_spin_50us ? "spin 50 us" : "never sleeps"),
                true);
}

/// Each variant once, in the order of repetition `rep`.
template <std::size_t N>
void bench_service(bench_env& env, int rep,
                   const std::array<service_variant, N>& variants) {
  const std::uint32_t entries = env.br.get().entry_count();
  for (std::size_t i : rotated(N, rep)) {
    const service_variant& v = variants[i];
    const bool rt = v.len > 0;
    const std::size_t n = rt ? env.p.round_trips : env.p.pipelined;
    const std::size_t warm = rt ? std::max<std::size_t>(20, n / 10) : n / 10;
    progress("[rep " + std::to_string(rep + 1) + "] " +
             (rt ? "round trips: " + std::string{v.mode} + ", " +
                       std::to_string(v.len) + " B"
                 : "pipelined: " + std::string{v.mode}));
    auto out = with_service(env.br, v.spin, env.m, warm + n, [&](client& c) {
      return rt ? round_trips(c, v.len, n, warm)
                : pipelined(c, entries, n, warm);
    });
    const std::string id = service_id(v);
    if (rt)
      env.res.add_latency(id, out.samples);
    else
      env.res.add_rate(id, out.rate / 1e6);
    for (const auto& [name, value] :
         {std::pair<const char*, double>{"sleeps/req", out.sleeps_per_req},
          {"wakes/req", out.wakes_per_req},
          {"cpu c", out.client_cpu},
          {"cpu s", out.service_cpu},
          {"preempt c", out.client_preempted},
          {"preempt s", out.service_preempted}})
      env.res.add_counter(id, name, value);
  }
}

void bench_floor(bench_env& env, int rep) {
  progress("[rep " + std::to_string(rep + 1) + "] cache-line ping-pong");
  env.res.add_latency("floor.ping_pong",
                      ping_pong(env.a, env.p.pingpong_batches, env.m));
}

void declare_rows(results& res, const plan& p) {
  const std::string batch = "batches of " + std::to_string(k_lock_batch) +
                            " ops, " + std::to_string(p.lock_batches) + "/rep";
  const std::string two = "2 threads x " + std::to_string(p.contended_ops) +
                          " ops, ++counter inside";
  for (lock_kind k : k_lock_kinds)
    res.declare(lock_id("lock", k),
                std::string{"lock uncontended: "} + lock_name(k), "ns/op",
                batch, false);
  for (lock_kind k : k_lock_kinds)
    res.declare(lock_id("contended_rate", k),
                std::string{"lock contended: "} + lock_name(k), "Mops/s", two,
                true);
  for (lock_kind k : k_lock_kinds)
    res.declare(lock_id("contended_ns", k),
                std::string{"lock contended: "} + lock_name(k), "ns/op",
                two + ", per thread", false);
  for (const auto& v : k_rt_variants)
    declare(res, p, v);
  for (const auto& v : k_pipe_variants)
    declare(res, p, v);
  res.declare("floor.ping_pong", "floor: cache-line ping-pong", "ns",
              "2 procs, batches of " + std::to_string(k_pingpong_batch) +
                  " round trips",
              false);
}

// -- JSON ---------------------------------------------------------------------

json figures(const std::vector<double>& v) {
  json out = json::array();
  for (double x : v)
    out.push_back(bench::figure(x));
  return out;
}

/// One row; counters (per repetition) follow as extra keys.
json row_json(const row& r) {
  const summary s = summarize(r);
  json j = {{"id", r.id},
            {"measure", r.measure},
            {"unit", r.unit},
            {"settings", r.settings},
            {"kind", r.rate ? "rate" : "latency"},
            {"median", bench::figure(s.median)},
            {"p99", bench::figure(s.p99)},
            {"spread_min", bench::figure(s.spread.min)},
            {"spread_max", bench::figure(s.spread.max)},
            {"samples", r.samples.size()},
            {"per_repetition",
             {{"median", figures(r.rep_median)}, {"p99", figures(r.rep_p99)}}}};
  for (const auto& [name, v] : r.counters)
    j[name] = figures(v);
  return j;
}

json settings_json(const options& o, const plan& p, const std::string& region) {
  return {
      {"quick", o.quick},
      {"repetitions", p.reps},
      {"lock_batch_ops", k_lock_batch},
      {"lock_batches", p.lock_batches},
      {"contended_ops_per_thread", p.contended_ops},
      {"pingpong_batch", k_pingpong_batch},
      {"pingpong_batches", p.pingpong_batches},
      {"round_trips", p.round_trips},
      {"pipelined_requests", p.pipelined},
      {"window", k_window},
      {"service_batch", k_service_batch},
      {"region",
       {{"path", region},
        {"entries", k_entries},
        {"max_clients", k_clients},
        {"payload_bytes", k_payload_bytes}}},
      {"warm_up", "lock/ping-pong: 10 batches; round trips: max(20, n/10); "
                  "pipelined: n/10"},
      {"statistics",
       "nearest-rank median and p99 over the per-op samples of all "
       "repetitions; spread = min..max of the per-repetition medians; rates: "
       "median and spread of the per-repetition figures"},
      {"counters",
       "per repetition; handoffs/op: share of lock acquisitions that went to "
       "the other thread; sleeps/req: futex waits of the client; wakes/req: "
       "futex wakes of the service by the client (both including warm-up); "
       "cpu c, cpu s: CPU time of client and service over wall time of the "
       "run; preempt c, preempt s: their involuntary context switches"}};
}

void write_json(const options& o, const plan& p, const machine_info& m,
                const std::string& region, const results& res) {
  json rows = json::array();
  for (const row& r : res.rows())
    rows.push_back(row_json(r));
  const json doc = {{"tool", "shm-bench"},
                    {"schema", 1},
                    {"date", m.date},
                    {"git_revision", m.git_revision},
                    {"git_dirty", m.git_dirty},
                    {"command", o.command},
                    {"machine",
                     {{"nproc", m.allowed_cpus.size()},
                      {"cpus_used", {m.cpu_a, m.cpu_b}},
                      {"uname", m.uname},
                      {"cpu_model", m.cpu_model},
                      {"clocksource", m.clocksource},
                      {"steady_clock_now_ns", bench::figure(m.clock_now_ns)},
                      {"loadavg_before", m.load_start},
                      {"loadavg_after", m.load_end}}},
                    {"settings", settings_json(o, p, region)},
                    {"results", std::move(rows)}};
  if (const auto err = bench::write_json(o.json_path, doc); !err.empty())
    fail(err);
}

// -- command line and main ----------------------------------------------------

std::string help_text() {
  const plan& f = k_full_plan;
  char buf[4096];
  std::snprintf(
      buf, sizeof buf,
      "usage: shm-bench [--quick] [--json FILE] [--region PATH] [--help]\n"
      "\n"
      "Measures the hyperamp shm layer on this host; the two zones are two\n"
      "processes (fork) mapping one region file. Prints a table on stdout,\n"
      "progress on stderr, and writes every figure with the settings, the\n"
      "machine (nproc, uname, CPU model), the date and the git revision of\n"
      "the current directory to a JSON file.\n"
      "\n"
      "Measures (%d repetitions; within one, the variants run side by side):\n"
      "  1. lock()+unlock(), one thread, timed in batches of %zu ops:\n"
      "     hyperamp zone_lock (in the region), a process-shared\n"
      "     pthread_mutex, a std::atomic_flag spinlock and hvisor-tool's\n"
      "     ByteFlag (CAS 0x0A->0x0F, sched_yield on failure). Then the\n"
      "     same locks taken by two threads on two CPUs, %zu times each,\n"
      "     around a shared counter: ops/s and ns per op.\n"
      "  2. round trip client -> service -> client through the queue with\n"
      "     64 B and 4096 B payloads (the service XORs every byte), polling\n"
      "     (nobody sleeps) and futex doorbell with spin 0 (both sides\n"
      "     sleep): %zu round trips per variant.\n"
      "  3. pipelined: %zu requests in flight, 64 B, polling and futex\n"
      "     doorbell with a 50 us spin: %zu requests per variant.\n"
      "  4. the floor: a two-process cache-line ping-pong round trip.\n"
      "This process runs on the first CPU it may use, the peer process or\n"
      "thread on the second. A full run takes one to two minutes.\n"
      "\n"
      "options:\n"
      "  --quick        1 repetition, tiny counts: a smoke test (seconds)\n"
      "  --json FILE    results file; default bench/results/shm-bench.json\n"
      "                 relative to the current directory (directories are\n"
      "                 created)\n"
      "  --region PATH  region file to create; it must not exist and is\n"
      "                 removed at exit; default\n"
      "                 /dev/shm/hyperamp-bench-<pid>\n"
      "  --help, -h     this text\n"
      "\n"
      "exit status: 0 done, 1 a measurement failed, 2 bad arguments\n",
      f.reps, k_lock_batch, f.contended_ops, f.round_trips, k_window,
      f.pipelined);
  return buf;
}

int run(const options& o) {
  const plan& p = o.quick ? k_quick_plan : k_full_plan;
  if (const auto err = bench::make_parent_dir(o.json_path); !err.empty())
    fail(err);
  machine_info m = probe_machine();
  if (std::atof(m.load_start.c_str()) >= 0.5)
    progress("warning: 1-minute load average " +
             m.load_start.substr(0, m.load_start.find(' ')) +
             ": other work is running, figures will be noisy");
  if (m.cpu_b < 0)
    progress("warning: only one CPU available; spinning peers share it, "
             "so polling figures mean little");
  pin_to(m.cpu_a);
  install_signal_handlers();
  bench::shared<arena> a;
  if (!a.ok())
    fail(errno_text("mmap of " + std::to_string(sizeof(arena)) +
                    " shared bytes"));
  bench_region br{o.region_path};
  results res;
  declare_rows(res, p);
  bench_env env{p, m, *a, br, res};
  for (int rep = 0; rep < p.reps; ++rep) {
    progress("repetition " + std::to_string(rep + 1) + " of " +
             std::to_string(p.reps));
    bench_locks(env, rep);
    bench_floor(env, rep);
    bench_service(env, rep, k_rt_variants);
    bench_service(env, rep, k_pipe_variants);
  }
  m.load_end = bench::loadavg();
  print_table(res, p.reps, m);
  write_json(o, p, m, br.path(), res);
  progress("wrote " + o.json_path);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  bench::command_line cl{"bench/results/shm-bench.json"};
  options o;
  cl.app.add_option("--region", o.region_path)->check(bench::non_empty());
  if (const int rc =
          cl.parse(argc, argv, help_text(), " (see shm-bench --help)");
      rc >= 0)
    return rc;
  o.quick = cl.quick;
  o.json_path = cl.json;
  o.command = "shm-bench";
  for (int i = 1; i < argc; ++i)
    o.command += std::string{" "} + argv[i];
  if (o.region_path.empty())
    o.region_path = bench::region_path();
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shm-bench: error: %s\n", e.what());
    return 1;
  }
}

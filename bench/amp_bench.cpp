// amp-bench: request/response figures through the full actor path (client
// actor -> client bridge -> shared queue -> service bridge -> worker and
// back), between two real processes, next to the floor (no actors) and two
// baselines (a Unix socket, a replica of the seed's design), and the seed's
// own benchmark run with amp-node processes. Prints one table; writes every
// figure to JSON. Method and results: docs/benchmarks.md.
//
//   amp-bench [SCENARIO...] [--quick] [--json FILE] [--reps N] [--threads N]
//
// Every measurement forks first (the parent has no thread and no
// actor_system at that point): the child runs the service zone with its
// own actor_system, the parent the client zone with another
// (zone_runner.cpp, the only translation unit here that uses CAF).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/amp_bench_ports.hpp"
#include "bench/amp_bench_raw.hpp"
#include "bench/common/args.hpp"
#include "bench/common/machine.hpp"
#include "bench/common/memory.hpp"
#include "bench/common/proc.hpp"
#include "bench/common/report.hpp"
#include "bench/common/stats.hpp"
#include "bench/zone_runner.hpp"

#ifndef HYPERAMP_SOURCE_DIR
#  define HYPERAMP_SOURCE_DIR "."
#endif

const char* const hyperamp::bench::tool_name = "amp-bench";

using namespace hyperamp::bench;
namespace shm = hyperamp::shm;

namespace {

using clock_type = std::chrono::steady_clock;

const char* const k_usage =
    "usage: amp-bench [SCENARIO...] [--quick] [--json FILE] [--reps N]\n"
    "                 [--threads N] [--help]\n"
    "\n"
    "Scenarios (default: all, run in this order):\n"
    "  latency     one request in flight, 64 B and 4 KiB echo, polling and\n"
    "              doorbell, worker and inline service: p50/p99 round trip\n"
    "  shells      64 B echo latency (3 wait modes, inline and worker) and\n"
    "              8-actor inline throughput, threaded and scheduled bridges\n"
    "  throughput  pipelined 64 B echo, 1/2/4/8 client actors x 1/2/4 "
    "workers\n"
    "  encrypt     service 1 (encrypt), 4 KiB and 64 KiB, pipelined: GB/s\n"
    "  compat      hvisor-tool's v1 layout (window file, FIFO doorbell)\n"
    "              next to hyperamp's own: 64 B echo round trip and\n"
    "              pipelined\n"
    "  seed        the seed's benchmark with amp-node processes (100 x\n"
    "              hyper_amp_test, hyper_amp_test_mt 4 threads, mixed load)\n"
    "  floor       no actors: cache-line ping-pong, the shm queue alone\n"
    "  baseline    Unix-domain socket echo; a replica of the seed's design\n"
    "  remote      64 B echo through a gateway on loopback (three processes:\n"
    "              service zone, client zone + gateway, remote caller), round\n"
    "              trip and pipelined, next to the same requests sent\n"
    "              locally, a bare CAF remote actor echo and a Unix socket\n"
    "  contention  1/2/4/8 client processes pipelining 64 B echo through the\n"
    "              ports (no actors), locked and partitioned layout side by\n"
    "              side; queue_lock hold times and contention; port latency\n"
    "\n"
    "Options:\n"
    "  --quick      tiny counts, 1 repetition (a smoke test; < 20 s)\n"
    "  --json FILE  where to write the results\n"
    "               (default bench/results/amp-bench.json)\n"
    "  --reps N     repetitions per measurement (default 5)\n"
    "  --threads N  CAF scheduler.max-threads in each zone (default 2)\n"
    "  --help       this text\n"
    "\n"
    "Progress goes to stderr, the table to stdout. Exit code: 0 all\n"
    "measurements ran, 1 some failed, 2 bad arguments.\n";

struct options {
  std::vector<std::string> scenarios; ///< in the order given, no repeats
  bool quick = false;
  std::string json;
  int reps = 5;
  std::size_t threads = 2;
};

// -- rows --------------------------------------------------------------------

enum class kind { latency, rate, gbytes, seconds, ratio };

using settings_list = json; ///< an object of strings

/// One line of the table: what it measures (scenario, id, measure, kind,
/// settings), and the figure of each repetition.
struct row {
  std::string scenario;
  std::string id;
  std::string measure;
  kind k = kind::latency;
  settings_list settings;
  std::string brief; ///< the settings for the table
  std::string note{};
  std::vector<run_result> reps{};
};

const char* unit_of(kind k) {
  const char* const units[] = {"us", "req/s", "GB/s", "s", "x"};
  return units[static_cast<int>(k)];
}

/// The per-repetition figure of a row (p50 for latency rows).
double rep_value(kind k, const run_result& r) {
  switch (k) {
  case kind::latency:
    return percentile(r.lat_us, 0.50);
  case kind::rate:
    return r.seconds > 0 ? static_cast<double>(r.count) / r.seconds : NAN;
  case kind::gbytes:
    return r.seconds > 0 ? static_cast<double>(r.bytes) / r.seconds / 1e9 : NAN;
  case kind::seconds:
  case kind::ratio:
    return r.value;
  }
  return NAN;
}

/// What the table and the JSON say about a row.
struct summary {
  std::vector<double> values;
  double median = NAN, p99 = NAN, min = NAN, max = NAN;
  double load_p50_us = NAN, load_p99_us = NAN; ///< latency under load
  std::size_t failed_reps = 0;
  std::uint64_t failed_requests = 0;
  std::string first_error;
};

summary summarise(const row& r) {
  summary s;
  std::vector<double> p99s, load_p50, load_p99;
  for (const auto& x : r.reps) {
    s.failed_requests += x.failed;
    if (!x.ok) {
      ++s.failed_reps;
      if (s.first_error.empty())
        s.first_error = x.error;
      continue;
    }
    s.values.push_back(rep_value(r.k, x));
    if (r.k == kind::latency)
      p99s.push_back(percentile(x.lat_us, 0.99));
    else if (!x.lat_us.empty()) {
      load_p50.push_back(percentile(x.lat_us, 0.50));
      load_p99.push_back(percentile(x.lat_us, 0.99));
    }
  }
  if (s.values.empty())
    return s;
  s.median = median(s.values);
  s.p99 = median(p99s);
  const auto range = spread_of(s.values);
  s.min = range.min;
  s.max = range.max;
  s.load_p50_us = median(load_p50);
  s.load_p99_us = median(load_p99);
  return s;
}

std::string fmt(double v, kind k) {
  if (std::isnan(v))
    return "-";
  std::ostringstream o;
  if (k == kind::rate) {
    if (v >= 1e6)
      o << std::fixed << std::setprecision(2) << v / 1e6 << " M";
    else if (v >= 1e3)
      o << std::fixed << std::setprecision(1) << v / 1e3 << " k";
    else
      o << std::fixed << std::setprecision(0) << v;
    return o.str();
  }
  const double a = std::fabs(v);
  o << std::fixed
    << std::setprecision(a >= 100  ? 0
                         : a >= 10 ? 1
                         : a >= 1  ? 2
                                   : 3)
    << v;
  return o.str();
}

std::string rep_line(const row& r, const run_result& x) {
  if (!x.ok)
    return "FAILED: " + x.error;
  std::ostringstream o;
  o << fmt(rep_value(r.k, x), r.k) << " " << unit_of(r.k);
  if (r.k == kind::latency)
    o << " p50, " << fmt(percentile(x.lat_us, 0.99), r.k) << " us p99";
  if (x.count > 0)
    o << " (" << x.count << " requests in " << fmt(x.seconds, kind::seconds)
      << " s)";
  if (x.failed > 0)
    o << ", " << x.failed << " failed: " << x.error;
  return o.str();
}

// -- the plan: rows, the measurements that fill them, the runner ------------

/// One measurement: fills one repetition of each of its rows.
struct task {
  std::vector<std::size_t> rows;
  std::function<std::vector<run_result>()> fn;
};

/// The rows, the measurements that fill them and what to do after the last
/// repetition. The repetitions are the outer loop, so a change in the
/// machine's load spreads over all rows instead of biasing some.
struct plan {
  std::vector<row> rows;
  std::vector<task> tasks;
  std::vector<std::function<void(plan&)>> finish;
  int reps = 5;
};

/// A row of a scenario's table: the row, the measurement that fills it,
/// and what to do with it after the last repetition.
struct spec {
  row r;
  std::function<run_result()> fn;
  std::function<void(row&)> finish{};
};

void add(plan& pl, std::vector<spec> specs) {
  for (auto& s : specs) {
    const std::size_t i = pl.rows.size();
    pl.rows.push_back(std::move(s.r));
    pl.tasks.push_back({{i}, [fn = std::move(s.fn)] {
                          return std::vector<run_result>{fn()};
                        }});
    if (s.finish)
      pl.finish.push_back(
          [i, f = std::move(s.finish)](plan& p) { f(p.rows[i]); });
  }
}

void run_plan(plan& pl) {
  for (int i = 0; i < pl.reps; ++i) {
    const std::string n = std::to_string(i + 1) + "/" + std::to_string(pl.reps);
    progress("repetition " + n);
    for (auto& t : pl.tasks) {
      auto res = t.fn();
      for (std::size_t k = 0; k < t.rows.size(); ++k) {
        row& r = pl.rows[t.rows[k]];
        r.reps.push_back(k < res.size() ? res[k] : failure("no result"));
        progress("[" + r.scenario + "] " + r.measure + ": rep " + n + ": " +
                 rep_line(r, r.reps.back()));
      }
    }
  }
  for (auto& f : pl.finish)
    f(pl);
}

// -- rows through the actor path ---------------------------------------------

std::string size_text(std::uint64_t b) {
  if (b >= (1u << 20) && b % (1u << 20) == 0)
    return std::to_string(b >> 20) + " MiB";
  if (b >= 1024 && b % 1024 == 0)
    return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " B";
}

settings_list settings_of(const path_config& p) {
  const std::string caf_text = "stealing, max-threads " +
                               std::to_string(p.threads) +
                               ", moderate-poll-attempts 0";
  return {
      {"layout", p.v1 ? "hvisor-tool-v1 (window file)" : "hyperamp"},
      {"bell", p.v1 ? "fifo to the service, the client polls (spin " +
                          std::to_string(p.spin.count()) + " us)"
               : p.polling
                   ? "futex, spin 1 s (both sides poll)"
                   : "futex, spin " + std::to_string(p.spin.count()) + " us"},
      {"caf", caf_text},
      {"service_id", std::to_string(p.service_id)},
      {"payload", size_text(p.payload)},
      {"client_actors", std::to_string(p.actors)},
      {"max_in_flight", std::to_string(p.in_flight)},
      {"workers", std::to_string(p.workers)},
      {"worker_capacity", std::to_string(p.worker_capacity)},
      {"batch", std::to_string(p.batch)},
      {"inline_trivial", p.inline_trivial ? "true" : "false"},
      {"layout", shm::to_string(p.layout)},
      {"bridges", p.threaded ? "threaded (each on its own thread)"
                             : "scheduled (CAF workers, waiter thread)"},
      {"region", "entries " + std::to_string(p.entries) + ", max_clients " +
                     std::to_string(p.max_clients) + ", payload " +
                     size_text(p.payload_size)},
  };
}

std::string brief_of(const path_config& p) {
  std::string s = p.v1 ? "v1: fifo + client polls"
                  : p.polling
                      ? "poll"
                      : "futex spin " + std::to_string(p.spin.count()) + "us";
  s += "; " + std::to_string(p.actors) + "x" + std::to_string(p.in_flight) +
       " in flight; " + std::to_string(p.workers) + " wrk";
  if (p.inline_trivial)
    s += "; inline";
  if (p.layout == shm::wire_layout::partitioned)
    s += "; partitioned";
  if (!p.threaded)
    s += "; sched";
  return s;
}

spec path_spec(const std::string& scenario, const std::string& id,
               const std::string& measure, kind k, const path_config& p,
               const budget& b) {
  return {row{scenario, id, measure, k, settings_of(p), brief_of(p)},
          [p, b] { return actor_path(p, b); }};
}

path_config path_of(const options& o) {
  path_config p;
  p.threads = o.threads;
  p.spin = std::chrono::microseconds{50};
  return p;
}

std::string plural(std::uint32_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n > 1 ? "s" : "");
}

// -- scenarios: latency, throughput, encrypt ---------------------------------

void run_latency(plan& pl, const options& o) {
  const budget b = o.quick ? budget{300, 50, 100, 0.3, 2.0}
                           : budget{20000, 1000, 2000, 1.0, 2.0};
  /// The three ways both zones wait for each other.
  struct wait_mode {
    const char* tag;
    const char* name;
    bool polling;
    int spin_us;
  };
  const wait_mode modes[] = {{"polling", "polling", true, 0},
                             {"doorbell", "doorbell", false, 0},
                             {"spin50", "spin 50 us", false, 50}};
  std::vector<spec> rows;
  for (bool inl : {false, true})
    for (const auto& m : modes)
      for (std::uint32_t size : {64u, 4096u}) {
        path_config p = path_of(o);
        p.polling = m.polling;
        p.spin = std::chrono::microseconds{m.spin_us};
        p.payload = size;
        p.inline_trivial = inl;
        budget bb = b;
        if (p.polling) // time-sliced on 2 cores: ms per request
          bb.max_factor = 1.5;
        const std::string in = inl ? ".inline" : "";
        rows.push_back(path_spec("latency",
                                 std::string{"latency."} + m.tag + "." +
                                     std::to_string(size) + in,
                                 "echo " + size_text(size) + " round trip, " +
                                     m.name + (inl ? ", inline" : ""),
                                 kind::latency, p, bb));
        if (size != 64 || m.spin_us != 0)
          continue;
        // The same through the partitioned layout.
        p.layout = shm::wire_layout::partitioned;
        rows.push_back(path_spec(
            "latency", std::string{"latency.partitioned."} + m.tag + ".64" + in,
            "echo 64 B round trip, " + std::string{m.name} +
                (inl ? ", inline" : "") + ", partitioned",
            kind::latency, p, bb));
      }
  add(pl, std::move(rows));
}

void run_throughput(plan& pl, const options& o) {
  const budget b = o.quick ? budget{1000000000, 200, 100, 0.15}
                           : budget{1000000000, 2000, 1000, 0.6};
  // Through 1, 2 and 4 workers; then the product's default: echo up to
  // service.inline_max bytes runs inside the service bridge (no worker hop).
  const std::pair<std::uint32_t, bool> services[] = {
      {1, false}, {2, false}, {4, false}, {4, true}};
  std::vector<spec> rows;
  for (const auto& [workers, inl] : services)
    for (std::uint32_t actors : {1u, 2u, 4u, 8u}) {
      path_config p = path_of(o);
      p.workers = workers;
      p.actors = actors;
      // 64 in flight in batches of 16: the depth these rows always had (two
      // overlapping loads of 32 each before a client actor had one budget).
      p.in_flight = 64;
      p.call_batch = 16;
      p.inline_trivial = inl;
      const std::string c = "throughput.c" + std::to_string(actors);
      rows.push_back(
          path_spec("throughput",
                    inl ? c + ".inline" : c + ".w" + std::to_string(workers),
                    "echo 64 B pipelined, " + plural(actors, "client actor") +
                        ", " + (inl ? "inline" : plural(workers, "worker")),
                    kind::rate, p, b));
    }
  add(pl, std::move(rows));
}

void run_encrypt(plan& pl, const options& o) {
  const budget b = o.quick ? budget{1000000000, 16, 16, 0.15}
                           : budget{1000000000, 256, 200, 0.8};
  std::vector<spec> rows;
  for (std::uint32_t size : {4096u, 65536u})
    for (bool inl : {false, true}) {
      path_config p = path_of(o);
      p.service_id = 1;
      p.payload = size;
      p.workers = 2;
      p.actors = 4;
      // As for throughput: twice the old per-load bound, same batches.
      p.in_flight = size > 4096 ? 8 : 32;
      p.call_batch = size > 4096 ? 2 : 8;
      p.payload_size = 64u << 20;
      p.max_clients = 4;
      // inline_max_bytes stays 4096: the 64 KiB row goes to the workers
      // either way, as with amp-node's defaults.
      p.inline_trivial = inl;
      rows.push_back(path_spec(
          "encrypt", "encrypt." + std::to_string(size) + (inl ? ".inline" : ""),
          "encrypt " + size_text(size) + " pipelined, payload" +
              (inl ? ", inline" : ""),
          kind::gbytes, p, b));
    }
  add(pl, std::move(rows));
}

// -- scenario: compat ---------------------------------------------------------

/// hvisor-tool's v1 layout next to hyperamp's own, in the same run: both
/// zones are hyperamp's (actors, pools), only the wire differs.
void run_compat(plan& pl, const options& o) {
  const budget lat = o.quick ? budget{300, 50, 100, 0.3, 2.0}
                             : budget{20000, 1000, 2000, 1.0, 2.0};
  const budget rate = o.quick ? budget{1000000000, 200, 100, 0.15}
                              : budget{1000000000, 2000, 1000, 0.6};
  std::vector<spec> rows;
  for (const bool v1 : {false, true}) {
    path_config p = path_of(o);
    p.v1 = v1;
    // The v1 layout's fifo doorbell cannot wake its own zone: its bridges
    // run scheduled (what amp-node's automatic shell picks for it).
    p.threaded = !v1;
    p.inline_trivial = true; // amp-node's default for echo
    const std::string layout = v1 ? "v1" : "hyperamp";
    rows.push_back(path_spec(
        "compat", "compat.latency." + layout,
        "echo 64 B round trip, " +
            std::string{v1 ? "hvisor-tool-v1 layout" : "hyperamp layout"},
        kind::latency, p, lat));
  }
  for (const bool v1 : {false, true}) {
    path_config p = path_of(o);
    p.v1 = v1;
    p.threaded = !v1;
    p.inline_trivial = true;
    p.actors = 4;
    p.in_flight = 8;
    p.call_batch = 4;
    const std::string layout = v1 ? "v1" : "hyperamp";
    rows.push_back(path_spec(
        "compat", "compat.rate." + layout,
        "echo 64 B pipelined, 4 client actors, " +
            std::string{v1 ? "hvisor-tool-v1 layout" : "hyperamp layout"},
        kind::rate, p, rate));
  }
  add(pl, std::move(rows));
}

// -- scenario: shells ---------------------------------------------------------

/// The latency rows' 64 B echo and the busiest inline throughput row, once
/// with each bridge shell, side by side in one run.
void run_shells(plan& pl, const options& o) {
  const budget lat = o.quick ? budget{300, 50, 100, 0.3, 2.0}
                             : budget{20000, 1000, 2000, 1.0, 2.0};
  const budget tp = o.quick ? budget{1000000000, 200, 100, 0.15}
                            : budget{1000000000, 2000, 1000, 0.6};
  const std::pair<const char*, bool> shells[] = {{"threaded", true},
                                                 {"scheduled", false}};
  struct wait_mode {
    const char* tag;
    const char* name;
    bool polling;
    int spin_us;
  };
  const wait_mode modes[] = {{"polling", "polling", true, 0},
                             {"doorbell", "doorbell", false, 0},
                             {"spin50", "spin 50 us", false, 50}};
  std::vector<spec> rows;
  for (bool inl : {true, false})
    for (const auto& m : modes)
      for (const auto& [tag, threaded] : shells) {
        path_config p = path_of(o);
        p.polling = m.polling;
        p.spin = std::chrono::microseconds{m.spin_us};
        p.inline_trivial = inl;
        p.threaded = threaded;
        budget bb = lat;
        if (p.polling)
          bb.max_factor = 1.5;
        rows.push_back(path_spec("shells",
                                 std::string{"shells."} + m.tag + ".64" +
                                     (inl ? ".inline" : "") + "." + tag,
                                 std::string{"echo 64 B round trip, "} +
                                     m.name + (inl ? ", inline" : "") + ", " +
                                     tag + " bridges",
                                 kind::latency, p, bb));
      }
  for (const auto& [tag, threaded] : shells) {
    path_config p = path_of(o);
    p.actors = 8;
    p.in_flight = 64;
    p.call_batch = 16;
    p.inline_trivial = true;
    p.threaded = threaded;
    rows.push_back(path_spec("shells",
                             std::string{"shells.throughput.c8.inline."} + tag,
                             std::string{"echo 64 B pipelined, 8 client "
                                         "actors, inline, "} +
                                 tag + " bridges",
                             kind::rate, p, tp));
  }
  add(pl, std::move(rows));
}

// -- scenarios: floor and baseline -------------------------------------------

/// The seed replica's share of requests that slept in usleep(1000).
void note_slept(row& r) {
  std::vector<double> v;
  for (const auto& x : r.reps)
    if (x.ok)
      v.push_back(x.value);
  if (v.empty())
    return;
  std::ostringstream o;
  o << std::fixed << std::setprecision(0) << 100 * median(v)
    << "% of requests slept in usleep(1000)";
  r.note = o.str();
  r.settings["slept"] = o.str();
}

void run_floor(plan& pl, const options& o) {
  const budget lat =
      o.quick ? budget{2000, 200, 500, 0.1} : budget{20000, 1000, 2000, 1.0};
  const budget pp = o.quick ? budget{20000, 1000, 1000, 0.1}
                            : budget{2000000, 10000, 100000, 1.0};
  const budget tp = o.quick ? budget{1000000000, 1000, 1000, 0.1}
                            : budget{1000000000, 20000, 20000, 1.0};
  const std::string path =
      "zone_lock queue, payload allocator, wire validation; one thread per "
      "side";
  add(pl, {{row{"floor",
                "floor.cacheline",
                "cache-line ping-pong round trip",
                kind::latency,
                {{"method", "two spinning processes, one shared line; "
                            "samples are means over 100 round trips"}},
                "2 spinning processes"},
            [pp] { return floor_cacheline(pp); }},
           {row{"floor",
                "floor.queue.polling.64",
                "shm queue 64 B round trip, no actors, polling",
                kind::latency,
                {{"bell", "polling, spin 1 s"}, {"path", path}},
                "poll; 1 thread/side"},
            [lat] { return floor_queue_latency(lat, true, 64); }},
           {row{"floor",
                "floor.queue.doorbell.64",
                "shm queue 64 B round trip, no actors, doorbell",
                kind::latency,
                {{"bell", "futex, spin 0"}, {"path", path}},
                "futex spin 0; 1 thread/side"},
            [lat] { return floor_queue_latency(lat, false, 64); }},
           {row{"floor",
                "floor.queue.throughput",
                "shm queue 64 B pipelined, no actors",
                kind::rate,
                {{"bell", "polling, spin 1 s"},
                 {"window", "256"},
                 {"batch", "up to 64 per lock acquisition"}},
                "poll; window 256"},
            [tp] { return floor_queue_throughput(tp, 256); }}});
}

void run_baseline(plan& pl, const options& o) {
  const budget lat =
      o.quick ? budget{2000, 200, 500, 0.1} : budget{20000, 1000, 2000, 1.0};
  const budget tp = o.quick ? budget{1000000000, 1000, 1000, 0.1}
                            : budget{1000000000, 20000, 20000, 1.0};
  const budget seed_lat =
      o.quick ? budget{50, 5, 20, 0.1} : budget{2000, 20, 200, 1.5};
  const budget seed_tp = o.quick ? budget{1000000000, 8, 20, 0.2}
                                 : budget{1000000000, 40, 200, 1.5};
  const std::string socket = "AF_UNIX SOCK_SEQPACKET, blocking read/write";
  const settings_list seed = {
      {"design", "ByteFlag queue_lock 0x0A/0x0F, one entry per wake-up, "
                 "client polls deal_state with usleep(1000)"},
      {"doorbell", "futex counter standing in for ioctl/IRQ/poll(hshm0)"}};
  auto with = [](settings_list s, const std::string& k, const std::string& v) {
    s[k] = v;
    return s;
  };
  add(pl,
      {{row{"baseline",
            "baseline.uds.latency",
            "Unix socket 64 B echo round trip",
            kind::latency,
            {{"socket", socket}},
            "seqpacket, blocking"},
        [lat] { return baseline_uds_latency(lat); }},
       {row{"baseline",
            "baseline.uds.throughput",
            "Unix socket 64 B echo pipelined",
            kind::rate,
            {{"socket", socket}, {"window", "32"}},
            "seqpacket; window 32"},
        [tp] { return baseline_uds_throughput(tp, 32); }},
       {row{"baseline", "baseline.seed.latency",
            "seed replica 64 B round trip, 1 client thread", kind::latency,
            with(seed, "client_threads", "1"), "usleep(1000) poll; 1 thread"},
        [seed_lat] { return baseline_seed(seed_lat, 1); }, note_slept},
       {row{"baseline", "baseline.seed.throughput",
            "seed replica 64 B, 4 client threads", kind::rate,
            with(seed, "client_threads", "4"), "usleep(1000) poll; 4 threads"},
        [seed_tp] { return baseline_seed(seed_tp, 4); }, note_slept}});
}

// -- scenario: contention (ports, no actors) ---------------------------------

std::string processes(std::uint32_t n) {
  return std::to_string(n) + (n == 1 ? " client process" : " client processes");
}

settings_list settings_of(const ports_config& c) {
  return {{"layout", shm::to_string(c.layout)},
          {"client_processes", std::to_string(c.clients)},
          {"window", std::to_string(c.window) + " per client"},
          {"payload", size_text(c.payload)},
          {"bell", c.polling ? "futex, spin 1 s (both sides poll)"
                             : "futex, spin 50 us"},
          {"path", "queue ports (acquire, submit, take, complete, release), "
                   "no actors; one process per zone"},
          {"region", "entries 1024, max_clients 16, payload 16 MiB"},
          {"queue_lock", c.measure_lock ? "measured (two clock reads per "
                                          "acquisition)"
                                        : "not measured"}};
}

std::string brief_of(const ports_config& c) {
  return std::string{shm::to_string(c.layout)} + "; " + processes(c.clients) +
         " x " + std::to_string(c.window) + " in flight" +
         (c.measure_lock ? "; lock measured" : "");
}

/// The ratio row's repetitions: partitioned / locked, repetition by
/// repetition.
void fill_ratio(const row& locked, const row& part, row& ratio) {
  for (std::size_t i = 0; i < locked.reps.size() && i < part.reps.size(); ++i) {
    run_result x;
    const double a = rep_value(locked.k, locked.reps[i]);
    const double b = rep_value(part.k, part.reps[i]);
    if (!locked.reps[i].ok || !part.reps[i].ok || !(a > 0))
      x = failure("needs both rows");
    else
      x.value = b / a;
    ratio.reps.push_back(x);
  }
}

/// The contention rows for `n` client processes: locked (throughput,
/// queue_lock hold times, contention), partitioned, and their ratio.
void contention_rows(plan& pl, const budget& b, std::uint32_t n) {
  ports_config locked;
  locked.clients = n;
  ports_config part = locked;
  part.layout = shm::wire_layout::partitioned;
  ports_config measured = locked;
  measured.measure_lock = true;
  const std::string c = ".c" + std::to_string(n);
  const std::string who = processes(n);
  const std::size_t first = pl.rows.size();
  pl.rows.push_back({"contention", "contention.locked" + c,
                     "echo 64 B pipelined, " + who + ", locked", kind::rate,
                     settings_of(locked), brief_of(locked)});
  pl.rows.push_back({"contention", "contention.partitioned" + c,
                     "echo 64 B pipelined, " + who + ", partitioned",
                     kind::rate, settings_of(part), brief_of(part)});
  pl.rows.push_back(
      {"contention",
       "contention.ratio" + c,
       "partitioned / locked, " + who,
       kind::ratio,
       {{"of", "contention.partitioned" + c + " / contention.locked" + c}},
       "same repetition"});
  pl.rows.push_back({"contention", "contention.lock_hold" + c,
                     "queue_lock hold time, " + who, kind::latency,
                     settings_of(measured), brief_of(measured)});
  pl.rows.push_back({"contention", "contention.lock_contended" + c,
                     "queue_lock acquisitions that found it held, " + who,
                     kind::ratio, settings_of(measured), brief_of(measured)});
  pl.tasks.push_back({{first}, [locked, b] {
                        return std::vector<run_result>{ports_run(locked, b)};
                      }});
  pl.tasks.push_back({{first + 1}, [part, b] {
                        return std::vector<run_result>{ports_run(part, b)};
                      }});
  pl.tasks.push_back({{first + 3, first + 4}, [measured, b] {
                        lock_result lr;
                        const run_result r = ports_run(measured, b, &lr);
                        if (!r.ok)
                          return std::vector<run_result>{r, r};
                        run_result share;
                        share.value = lr.contended;
                        std::ostringstream note;
                        note << std::fixed << std::setprecision(2)
                             << lr.per_request << " acquisitions and "
                             << lr.yields_per_request << " yields per request";
                        share.error = note.str();
                        return std::vector<run_result>{lr.hold, share};
                      }});
  pl.finish.push_back([first](plan& p) {
    fill_ratio(p.rows[first], p.rows[first + 1], p.rows[first + 2]);
    row& share = p.rows[first + 4];
    for (const auto& x : share.reps)
      if (x.ok && !x.error.empty())
        share.note = x.error; // the last repetition's counts
  });
}

/// One request at a time through the ports of both layouts.
void port_latency_rows(plan& pl, const budget& b) {
  std::vector<spec> rows;
  for (auto layout :
       {shm::wire_layout::hyperamp, shm::wire_layout::partitioned})
    for (bool polling : {true, false}) {
      ports_config c;
      c.layout = layout;
      c.window = 1;
      c.polling = polling;
      const std::string mode = polling ? "polling" : "doorbell";
      rows.push_back(
          {row{"contention",
               "ports.latency." + std::string{shm::to_string(layout)} + "." +
                   mode,
               "ports 64 B round trip, " + mode + ", " + shm::to_string(layout),
               kind::latency, settings_of(c), brief_of(c)},
           [c, b] { return ports_run(c, b); }});
    }
  add(pl, std::move(rows));
}

void run_contention(plan& pl, const options& o) {
  const budget b = o.quick ? budget{0, 0, 0, 0.2} : budget{0, 0, 0, 1.5};
  port_latency_rows(pl, b);
  for (std::uint32_t n : {1u, 2u, 4u, 8u})
    contention_rows(pl, b, n);
}

// -- scenario: seed (amp-node processes) --------------------------------------

struct seed_counts {
  int sequential = 100;
  int mt_threads = 4;
  int mixed_each = 50;
};

/// amp-node (next to amp-bench), and the temporary directory with the role
/// files and amp-node's messages.
struct seed_env {
  std::string amp_node;
  std::string error; ///< why the scenario cannot run
  std::string dir;
  std::string service_toml, client_toml, log, region;
};

using command = std::vector<std::string>;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f{path};
  f << text;
}

std::string region_toml(const std::string& path) {
  return "[region]\npath = \"" + path +
         "\"\nentries = 256\npayload_size = \"1MiB\"\nmax_clients = 256\n"
         "create = \"auto\"\n\n";
}

void write_roles(seed_env& e, std::size_t threads) {
  const std::string sched =
      "[scheduler]\nmax_threads = " + std::to_string(threads) + "\n";
  write_file(e.service_toml, "role = \"service\"\nzone_id = 1\n\n" +
                                 region_toml(e.region) +
                                 "[service]\nworkers = 4\n\n" + sched);
  write_file(e.client_toml,
             "role = \"client\"\nzone_id = 0\n\n" + region_toml(e.region) +
                 "[client]\nactors = 1\nmax_in_flight = 8\nmax_message = 256\n"
                 "\n[timeouts]\nrequest_ms = 60000\nattach_ms = 30000\n\n" +
                 sched);
}

/// Runs `cmds` one after the other, or all at once; run_result::value is
/// the wall time until the last one ended.
run_result timed_runs(const seed_env& e, const std::vector<command>& cmds,
                      bool at_once) {
  const auto t0 = clock_type::now();
  std::vector<pid_t> pids;
  int bad = 0;
  for (const auto& c : cmds) {
    pids.push_back(spawn(c, e.log));
    if (!at_once && (pids.back() < 0 || wait_exit(pids.back()) != 0))
      ++bad;
  }
  if (at_once)
    for (auto pid : pids)
      if (pid < 0 || wait_exit(pid) != 0)
        ++bad;
  run_result r;
  r.value = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (bad == 0)
    return r;
  return failure(
      at_once ? std::to_string(bad) + " of " + std::to_string(cmds.size()) +
                    " amp-node processes failed (see " + e.log + ")"
              : std::to_string(bad) + " hyper_amp_test runs failed (see " +
                    e.log + ")");
}

/// Starts `amp-node serve` and waits until it holds the service slot.
pid_t start_service(const seed_env& e, std::string* error) {
  const pid_t svc = spawn({e.amp_node, "serve", e.service_toml}, e.log);
  if (svc < 0) {
    *error = "cannot start " + e.amp_node;
    return -1;
  }
  const auto ro =
      region_options(e.region, 256, 256, 1u << 20, shm::create_mode::attach);
  if (wait_for_service(ro, std::chrono::seconds(15), error))
    return svc;
  ::kill(svc, SIGKILL);
  wait_exit(svc);
  return -1;
}

/// The four rows of the seed scenario: (a), (b), (a)/(b), (c).
std::vector<row> make_seed_rows(const seed_counts& n, const options& o) {
  const settings_list common = {
      {"service", "amp-node serve, 4 workers per service, futex spin 50 us, "
                  "max-threads " +
                      std::to_string(o.threads)},
      {"region", "entries 256, max_clients 256, payload 1 MiB"},
      {"client", "one amp-node process per command (CAF startup included)"}};
  auto mk = [&](const std::string& id, const std::string& m, kind k,
                const std::string& cmd) {
    auto s = common;
    s["command"] = cmd;
    return row{"seed", id, m, k, s, cmd};
  };
  const std::string seq = std::to_string(n.sequential);
  const std::string each = std::to_string(n.mixed_each);
  const std::string thr = std::to_string(n.mt_threads);
  return {
      mk("seed.sequential",
         "(a) " + seq + " sequential hyper_amp_test processes", kind::seconds,
         "hyper_amp_test <cfg> test 1, x" + seq),
      mk("seed.mt",
         "(b) hyper_amp_test_mt, " + thr + " threads, " + seq + " requests",
         kind::seconds, "hyper_amp_test_mt <cfg> test 1 " + thr + " " + seq),
      mk("seed.speedup", "speed-up (a)/(b)", kind::ratio,
         "check: mt < st/4 + one process start"),
      mk("seed.mixed",
         "(c) mixed load " + each + "+" + each + "+" + each +
             " processes at once",
         kind::seconds,
         "encrypt/decrypt/echo hyper_amp_test x" +
             std::to_string(3 * n.mixed_each)),
  };
}

/// The seed's expectation "mt < st/4 + overhead", with one process start
/// (st / n) as the overhead, on the medians of the repetitions.
void seed_check(const row& st, const row& mt, row& ratio,
                const seed_counts& n) {
  std::vector<double> sts, mts;
  for (std::size_t i = 0; i < st.reps.size() && i < mt.reps.size(); ++i)
    if (st.reps[i].ok && mt.reps[i].ok) {
      sts.push_back(st.reps[i].value);
      mts.push_back(mt.reps[i].value);
    }
  if (sts.empty())
    return;
  const double s = median(sts), m = median(mts);
  const double bound = s / 4 + s / n.sequential;
  std::ostringstream note;
  note << "mt " << fmt(m, kind::seconds) << " s " << (m < bound ? "<" : ">=")
       << " st/4 + overhead = " << fmt(bound, kind::seconds)
       << " s: " << (m < bound ? "holds" : "does not hold") << "; speed-up "
       << fmt(s / m, kind::ratio) << "x";
  ratio.note = note.str();
  ratio.settings["check"] = note.str();
}

/// One repetition: a fresh region and service, then (a), (b), (c).
std::vector<run_result> seed_once(seed_env& e, const seed_counts& n,
                                  std::size_t threads) {
  if (!e.error.empty())
    return std::vector<run_result>(4, failure(e.error));
  region_file file{fresh_region_path()};
  e.region = file.path();
  write_roles(e, threads);
  std::string err;
  const pid_t svc = start_service(e, &err);
  if (svc < 0)
    return std::vector<run_result>(4, failure(err));
  const std::string node = e.amp_node, cfg = e.client_toml;
  std::vector<run_result> out;
  // (a) the seed's `time for i in {1..100}; do hyper_amp_test ... test 1`
  out.push_back(timed_runs(
      e,
      std::vector<command>(static_cast<std::size_t>(n.sequential),
                           {node, "hyper_amp_test", cfg, "test", "1"}),
      false));
  // (b) hyper_amp_test_mt <cfg> test 1 4 100
  out.push_back(
      timed_runs(e,
                 {{node, "hyper_amp_test_mt", cfg, "test", "1",
                   std::to_string(n.mt_threads), std::to_string(n.sequential)}},
                 true));
  run_result ratio = failure("needs (a) and (b)");
  if (out[0].ok && out[1].ok) {
    ratio = run_result{};
    ratio.value = out[0].value / out[1].value;
  }
  out.push_back(ratio);
  // (c) 50 encrypt + 50 decrypt + 50 echo processes started at once
  std::vector<command> mix;
  for (int i = 1; i <= n.mixed_each; ++i)
    for (auto [name, sid] :
         {std::pair<const char*, const char*>{"encrypt", "1"},
          {"decrypt", "2"},
          {"echo", "66"}})
      mix.push_back({node, "hyper_amp_test", cfg,
                     std::string(name) + "_" + std::to_string(i), sid});
  out.push_back(timed_runs(e, mix, true));
  ::kill(svc, SIGTERM);
  if (wait_exit(svc) != 0)
    progress("[seed] amp-node serve did not exit cleanly (see " + e.log + ")");
  return out;
}

std::string self_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.find_last_of('/'));
}

/// Role files and amp-node's messages go to a temporary directory, removed
/// at the end unless amp-node wrote something there.
std::shared_ptr<seed_env> make_seed_env() {
  auto e = std::make_shared<seed_env>();
  e->amp_node = self_dir() + "/amp-node";
  char tmpl[] = "/tmp/amp-bench-XXXXXX";
  if (const char* dir = ::mkdtemp(tmpl)) {
    e->dir = dir;
    e->service_toml = e->dir + "/service.toml";
    e->client_toml = e->dir + "/client.toml";
    e->log = e->dir + "/amp-node.log";
  } else {
    e->error = "cannot create a temporary directory";
  }
  if (e->error.empty() && ::access(e->amp_node.c_str(), X_OK) != 0)
    e->error = e->amp_node + " not found next to amp-bench (build amp-node)";
  return e;
}

void cleanup(const seed_env& e) {
  if (e.dir.empty())
    return;
  std::error_code ec;
  const auto log_size = std::filesystem::file_size(e.log, ec);
  if (ec || log_size == 0)
    std::filesystem::remove_all(e.dir, ec);
  else
    progress("[seed] amp-node's messages are in " + e.log);
}

void run_seed(plan& pl, const options& o) {
  seed_counts n;
  if (o.quick)
    n = seed_counts{5, 4, 3};
  const std::size_t first = pl.rows.size();
  for (auto& r : make_seed_rows(n, o))
    pl.rows.push_back(std::move(r));
  auto env = make_seed_env();
  const std::size_t threads = o.threads;
  pl.tasks.push_back(
      {{first, first + 1, first + 2, first + 3},
       [env, n, threads] { return seed_once(*env, n, threads); }});
  pl.finish.push_back([env, n, first](plan& p) {
    seed_check(p.rows[first], p.rows[first + 1], p.rows[first + 2], n);
    cleanup(*env);
  });
}

// -- scenario: remote (through a gateway)
// ----------------------------------------

/// The remote round trip against the bare CAF remote echo of the same
/// repetition: "remote p50 / CAF echo p50".
void remote_ratio(const row& remote, const row& echo, row& ratio) {
  std::vector<double> v;
  for (std::size_t i = 0; i < remote.reps.size() && i < echo.reps.size(); ++i)
    if (remote.reps[i].ok && echo.reps[i].ok &&
        !remote.reps[i].lat_us.empty() && !echo.reps[i].lat_us.empty())
      v.push_back(percentile(remote.reps[i].lat_us, 0.50) /
                  percentile(echo.reps[i].lat_us, 0.50));
  ratio.reps.clear();
  for (double x : v) {
    run_result r;
    r.value = x;
    ratio.reps.push_back(r);
  }
  if (v.empty())
    ratio.reps.push_back(failure("needs both round trips"));
}

void run_remote(plan& pl, const options& o) {
  const budget lat =
      o.quick ? budget{300, 50, 100, 0.3, 2.0} : budget{20000, 500, 2000, 1.0};
  const budget tp = o.quick ? budget{1000000000, 200, 100, 0.15}
                            : budget{1000000000, 5000, 2000, 1.0};
  const budget sock_lat =
      o.quick ? budget{2000, 200, 500, 0.1} : budget{20000, 1000, 2000, 1.0};
  const budget sock_tp = o.quick ? budget{1000000000, 1000, 1000, 0.1}
                                 : budget{1000000000, 20000, 20000, 1.0};
  // The product's defaults: echo inline in the service bridge, bells spin
  // 50 us; the same settings for the local and the remote rows.
  path_config one = path_of(o);
  one.inline_trivial = true;
  path_config many = one;
  many.actors = 8;
  many.in_flight = 64;
  many.call_batch = 32;
  path_config echo_one = one;
  path_config echo_many = one;
  echo_many.in_flight = 256;
  const settings_list gateway = {
      {"processes", "service zone, client zone + gateway (caf::io::publish, "
                    "plain TCP on 127.0.0.1), remote caller (connect_remote)"}};
  auto with = [](settings_list s, const settings_list& more) {
    for (auto it = more.begin(); it != more.end(); ++it)
      s[it.key()] = it.value();
    return s;
  };
  const settings_list echo_settings = {
      {"echo", "an actor returning its bytes, caf::io::publish on 127.0.0.1; "
               "one message per request"},
      {"caf", "stealing, max-threads " + std::to_string(o.threads) +
                  ", moderate-poll-attempts 0"}};
  const std::size_t first = pl.rows.size();
  add(pl,
      {{row{"remote", "remote.latency.64",
            "echo 64 B round trip through the gateway", kind::latency,
            with(settings_of(one), gateway), "remote; " + brief_of(one)},
        [one, lat] { return remote_path(one, lat); }},
       {row{"remote", "remote.local.latency.64",
            "echo 64 B round trip, local client zone", kind::latency,
            settings_of(one), "local; " + brief_of(one)},
        [one, lat] { return actor_path(one, lat); }},
       {row{"remote", "remote.caf_echo.latency.64",
            "bare CAF remote actor echo 64 B round trip", kind::latency,
            echo_settings, "1 in flight"},
        [echo_one, lat] { return caf_echo_path(echo_one, lat); }},
       {row{"remote",
            "remote.uds.latency.64",
            "Unix socket 64 B echo round trip",
            kind::latency,
            {{"socket", "AF_UNIX SOCK_SEQPACKET, blocking read/write"}},
            "seqpacket, blocking"},
        [sock_lat] { return baseline_uds_latency(sock_lat); }},
       {row{"remote", "remote.throughput.64",
            "echo 64 B pipelined through the gateway", kind::rate,
            with(settings_of(many), gateway),
            "remote; " + brief_of(many) + "; batches of 32"},
        [many, tp] { return remote_path(many, tp); }},
       {row{"remote", "remote.local.throughput.64",
            "echo 64 B pipelined, local client zone", kind::rate,
            settings_of(many), "local; " + brief_of(many) + "; batches of 32"},
        [many, tp] { return actor_path(many, tp); }},
       {row{"remote", "remote.caf_echo.throughput.64",
            "bare CAF remote actor echo 64 B pipelined", kind::rate,
            with(echo_settings, {{"window", "256"}}), "window 256"},
        [echo_many, tp] { return caf_echo_path(echo_many, tp); }},
       {row{"remote",
            "remote.uds.throughput.64",
            "Unix socket 64 B echo pipelined",
            kind::rate,
            {{"socket", "AF_UNIX SOCK_SEQPACKET, blocking read/write"},
             {"window", "32"}},
            "seqpacket; window 32"},
        [sock_tp] { return baseline_uds_throughput(sock_tp, 32); }}});
  pl.rows.push_back(row{"remote",
                        "remote.latency.ratio",
                        "round trip: gateway / bare CAF echo",
                        kind::ratio,
                        {{"check", "target <= 1.5, per repetition"}},
                        "p50 over p50, same repetition"});
  pl.finish.push_back([first](plan& p) {
    remote_ratio(p.rows[first], p.rows[first + 2], p.rows[first + 8]);
  });
}

/// The scenarios, in the order they run.
const std::vector<std::pair<std::string, void (*)(plan&, const options&)>>
    k_scenarios = {
        {"latency", run_latency},       {"shells", run_shells},
        {"throughput", run_throughput}, {"encrypt", run_encrypt},
        {"compat", run_compat},         {"seed", run_seed},
        {"floor", run_floor},           {"baseline", run_baseline},
        {"remote", run_remote},         {"contention", run_contention}};

// -- table and JSON -----------------------------------------------------------

void print_rows(const plan& pl, std::ostream& out) {
  std::vector<std::vector<std::string>> cells = {
      {"scenario", "measure", "median", "p99", "spread (min..max)", "unit",
       "settings"}};
  for (const auto& r : pl.rows) {
    const auto s = summarise(r);
    if (s.values.empty()) {
      cells.push_back({r.scenario, r.measure, "FAILED", "-", "-", unit_of(r.k),
                       s.first_error});
      continue;
    }
    std::string notes = r.brief;
    if (s.failed_reps > 0)
      notes += "; " + std::to_string(s.failed_reps) + " reps failed";
    if (s.failed_requests > 0)
      notes += "; " + std::to_string(s.failed_requests) + " requests failed";
    if (!r.note.empty())
      notes += "; " + r.note;
    cells.push_back({r.scenario, r.measure, fmt(s.median, r.k), fmt(s.p99, r.k),
                     fmt(s.min, r.k) + " .. " + fmt(s.max, r.k), unit_of(r.k),
                     notes});
  }
  print_table(out, cells, {false, false, true, true, true, false, false});
}

json row_json(const row& r) {
  const auto s = summarise(r);
  json j = {{"scenario", r.scenario},     {"id", r.id},
            {"measure", r.measure},       {"unit", unit_of(r.k)},
            {"median", figure(s.median)}, {"p99", figure(s.p99)},
            {"min", figure(s.min)},       {"max", figure(s.max)}};
  if (!std::isnan(s.load_p50_us))
    j["latency_under_load_us"] = {{"p50", figure(s.load_p50_us)},
                                  {"p99", figure(s.load_p99_us)}};
  j["failed_reps"] = s.failed_reps;
  j["failed_requests"] = s.failed_requests;
  if (!s.first_error.empty())
    j["error"] = s.first_error;
  if (!r.note.empty())
    j["note"] = r.note;
  j["settings"] = r.settings;
  json& reps = j["reps"] = json::array();
  for (const auto& x : r.reps) {
    json rep = {{"ok", x.ok}};
    if (!x.ok) {
      rep["error"] = x.error;
    } else {
      rep["value"] = figure(rep_value(r.k, x));
      if (r.k == kind::latency)
        rep["p99"] = figure(percentile(x.lat_us, 0.99));
      if (x.count) {
        rep["requests"] = x.count;
        rep["seconds"] = figure(x.seconds);
      }
    }
    reps.push_back(std::move(rep));
  }
  return j;
}

json plan_json(const plan& pl, const machine& m, const std::string& git,
               const options& o) {
  json results = json::array();
  for (const auto& r : pl.rows)
    results.push_back(row_json(r));
  return {{"tool", "amp-bench"},
          {"format", 1},
          {"date", m.date},
          {"git", git},
          {"machine",
           {{"nproc", m.online_cpus},
            {"cpu", m.cpu_model},
            {"uname", m.uname},
            {"loadavg_start", m.load_start},
            {"loadavg_end", m.load_end}}},
          {"options",
           {{"quick", o.quick},
            {"reps", o.reps},
            {"threads", o.threads},
            {"scenarios", o.scenarios}}},
          {"results", std::move(results)}};
}

} // namespace

int main(int argc, char** argv) {
  command_line cl{"bench/results/amp-bench.json"};
  options o;
  cl.app.add_option("--reps", o.reps)->transform(decimal(1, 1000));
  cl.app.add_option("--threads", o.threads)->transform(decimal(1, 64));
  std::vector<std::string> names;
  for (const auto& sc : k_scenarios)
    names.push_back(sc.first);
  cl.app.add_option("SCENARIO", o.scenarios)->check(CLI::IsMember(names));
  if (const int rc =
          cl.parse(argc, argv, k_usage,
                   "\n(amp-bench --help lists the scenarios and options)");
      rc >= 0)
    return rc;
  o.quick = cl.quick;
  o.json = cl.json;
  if (o.quick)
    o.reps = 1;
  std::vector<std::string> given;
  for (const auto& s : o.scenarios)
    if (std::find(given.begin(), given.end(), s) == given.end())
      given.push_back(s);
  o.scenarios = given.empty() ? names : given;

  ::signal(SIGPIPE, SIG_IGN);
  machine m = probe_machine(HYPERAMP_SOURCE_DIR, 12);
  const std::string git = m.git_revision == "unknown"
                              ? m.git_revision
                              : m.git_revision + (m.git_dirty ? "-dirty" : "");
  plan pl;
  pl.reps = o.reps;
  const auto t0 = clock_type::now();
  for (const auto& [name, fn] : k_scenarios)
    if (std::find(o.scenarios.begin(), o.scenarios.end(), name) !=
        o.scenarios.end())
      fn(pl, o);
  run_plan(pl);
  m.load_end = loadavg();
  std::cout << "\namp-bench " << m.date << ", git " << git << ", "
            << m.online_cpus << " x " << m.cpu_model << ", " << m.uname
            << "\nload average " << m.load_start << " (start), " << m.load_end
            << " (end); " << o.reps << " repetition" << (o.reps > 1 ? "s" : "")
            << "; median of the repetitions, p99 = median of their p99, "
               "spread = min..max of the repetitions' medians\n\n";
  print_rows(pl, std::cout);
  const double total =
      std::chrono::duration<double>(clock_type::now() - t0).count();
  bool failed = false;
  for (const auto& r : pl.rows)
    for (const auto& x : r.reps)
      failed = failed || !x.ok || x.failed > 0;
  if (const auto err = write_json(o.json, plan_json(pl, m, git, o));
      !err.empty()) {
    progress("cannot write " + o.json + ": " + err);
    return 1;
  }
  std::cout << "\nresults: " << o.json << " (" << fmt(total, kind::seconds)
            << " s)\n";
  return failed ? 1 : 0;
}

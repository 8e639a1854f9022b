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
// own actor_system, the parent the client zone with another.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/client_actor.hpp"
#include "actors/fwd.hpp"
#include "actors/zone.hpp"
#include "apps/cli.hpp"
#include "bench/amp_bench_raw.hpp"
#include "services/registry.hpp"

#ifndef HYPERAMP_SOURCE_DIR
#  define HYPERAMP_SOURCE_DIR "."
#endif

extern char** environ;

using namespace hyperamp;
using bench::budget;
using bench::run_result;

namespace {

using clock_type = std::chrono::steady_clock;

const char* const k_usage =
    "usage: amp-bench [SCENARIO...] [--quick] [--json FILE] [--reps N]\n"
    "                 [--threads N] [--help]\n"
    "\n"
    "Scenarios (default: all, run in this order):\n"
    "  latency     one request in flight, 64 B and 4 KiB echo, polling and\n"
    "              doorbell, worker and inline service: p50/p99 round trip\n"
    "  throughput  pipelined 64 B echo, 1/2/4/8 client actors x 1/2/4 "
    "workers\n"
    "  encrypt     service 1 (encrypt), 4 KiB and 64 KiB, pipelined: GB/s\n"
    "  seed        the seed's benchmark with amp-node processes (100 x\n"
    "              hyper_amp_test, hyper_amp_test_mt 4 threads, mixed load)\n"
    "  floor       no actors: cache-line ping-pong, the shm queue alone\n"
    "  baseline    Unix-domain socket echo; a replica of the seed's design\n"
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

const std::vector<std::string> k_scenarios = {
    "latency", "throughput", "encrypt", "seed", "floor", "baseline"};

// -- options -----------------------------------------------------------------

struct options {
  std::vector<std::string> scenarios;
  bool quick = false;
  std::string json = "bench/results/amp-bench.json";
  int reps = 5;
  std::size_t threads = 2;
  bool help = false;
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

long parse_int(const std::string& flag, const std::string& text, long lo,
               long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw usage_error(flag + ": '" + text + "' is not a number in " +
                      std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

options parse_args(int argc, char** argv) {
  options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], val;
    const auto eq = a.find('=');
    const bool has_val = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_val) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto value = [&]() -> std::string {
      if (has_val)
        return val;
      if (i + 1 >= args.size())
        throw usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h")
      o.help = true;
    else if (a == "--quick" && !has_val)
      o.quick = true;
    else if (a == "--json")
      o.json = value();
    else if (a == "--reps")
      o.reps = static_cast<int>(parse_int(a, value(), 1, 1000));
    else if (a == "--threads")
      o.threads = static_cast<std::size_t>(parse_int(a, value(), 1, 64));
    else if (a.rfind("-", 0) == 0)
      throw usage_error("unknown option '" + args[i] + "'");
    else if (std::find(k_scenarios.begin(), k_scenarios.end(), a) ==
             k_scenarios.end())
      throw usage_error("unknown scenario '" + a +
                        "' (scenarios: latency, throughput, encrypt, seed, "
                        "floor, baseline)");
    else if (std::find(o.scenarios.begin(), o.scenarios.end(), a) ==
             o.scenarios.end())
      o.scenarios.push_back(a);
  }
  if (o.json.empty())
    throw usage_error("--json needs a file name");
  if (o.scenarios.empty())
    o.scenarios = k_scenarios;
  if (o.quick)
    o.reps = 1;
  return o;
}

bool wants(const options& o, const std::string& s) {
  return std::find(o.scenarios.begin(), o.scenarios.end(), s) !=
         o.scenarios.end();
}

// -- results -----------------------------------------------------------------

enum class kind { latency, rate, gbytes, seconds, ratio };

using settings_list = std::vector<std::pair<std::string, std::string>>;

/// One line of the table: a figure measured `reps` times.
struct row {
  std::string scenario;
  std::string id;
  std::string measure;
  kind k = kind::latency;
  settings_list settings;
  std::string brief; ///< the settings for the table
  std::vector<run_result> reps;
  std::string note;
};

const char* unit_of(kind k) {
  switch (k) {
  case kind::latency:
    return "us";
  case kind::rate:
    return "req/s";
  case kind::gbytes:
    return "GB/s";
  case kind::seconds:
    return "s";
  case kind::ratio:
    return "x";
  }
  return "";
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(p * static_cast<double>(v.size()));
  const auto i = static_cast<std::size_t>(std::max(rank, 1.0)) - 1;
  return v[std::min(i, v.size() - 1)];
}

double median(const std::vector<double>& v) {
  if (v.empty())
    return NAN;
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  const std::size_t n = s.size();
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
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
  std::vector<double> values, p99s, load_p50, load_p99;
  double median = NAN, p99 = NAN, min = NAN, max = NAN;
  double load_p50_us = NAN, load_p99_us = NAN; ///< latency under load
  std::size_t failed_reps = 0;
  std::uint64_t failed_requests = 0;
  std::string first_error;
};

summary summarise(const row& r) {
  summary s;
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
      s.p99s.push_back(percentile(x.lat_us, 0.99));
    else if (!x.lat_us.empty()) {
      s.load_p50.push_back(percentile(x.lat_us, 0.50));
      s.load_p99.push_back(percentile(x.lat_us, 0.99));
    }
  }
  if (s.values.empty())
    return s;
  s.median = median(s.values);
  s.p99 = median(s.p99s);
  s.min = *std::min_element(s.values.begin(), s.values.end());
  s.max = *std::max_element(s.values.begin(), s.values.end());
  s.load_p50_us = median(s.load_p50);
  s.load_p99_us = median(s.load_p99);
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

void progress(const std::string& line) {
  std::cerr << "amp-bench: " << line << std::endl;
}

// -- CAF and the zones -------------------------------------------------------

/// How both zones of an actor-path measurement are set up.
struct path_config {
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
  std::uint32_t in_flight = 1;
  std::uint32_t entries = 1024;
  std::uint32_t max_clients = 4;
  std::uint64_t payload_size = 8u << 20;
};

std::unique_ptr<caf::actor_system_config> caf_config(const path_config& p) {
  auto c = std::make_unique<caf::actor_system_config>();
  c->set("scheduler.max-threads", p.threads);
  c->set("scheduler.policy", caf::atom("stealing"));
  // Also in polling mode: busy-polling CAF workers (aggressive-poll-attempts
  // 1e9) made six hot threads on two cores and every round trip a multiple
  // of the 4 ms scheduler tick; sleeping workers woken by the (yielding)
  // spinning waiter are ~300x faster here.
  c->set("work-stealing.moderate-poll-attempts", std::size_t{0});
  actors::register_errors(*c);
  return c;
}

actors::bell_settings bell_of(const path_config& p) {
  actors::bell_settings b;
  b.kind = actors::bell_kind::futex;
  b.spin = p.polling ? std::chrono::nanoseconds(std::chrono::seconds(1))
                     : std::chrono::nanoseconds(p.spin);
  return b;
}

shm::region_options region_of(const path_config& p, const std::string& path) {
  shm::region_options o;
  o.path = path;
  o.entries = p.entries;
  o.max_clients = p.max_clients;
  o.payload_size = p.payload_size;
  o.create = shm::create_mode::auto_;
  o.attach_timeout = std::chrono::seconds(10);
  return o;
}

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
      {"bell", p.polling
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
      {"region", "entries " + std::to_string(p.entries) + ", max_clients " +
                     std::to_string(p.max_clients) + ", payload " +
                     size_text(p.payload_size)},
  };
}

std::string brief_of(const path_config& p) {
  std::string s = p.polling
                      ? "poll"
                      : "futex spin " + std::to_string(p.spin.count()) + "us";
  s += "; " + std::to_string(p.actors) + "x" + std::to_string(p.in_flight) +
       " in flight; " + std::to_string(p.workers) + " wrk";
  if (p.inline_trivial)
    s += "; inline";
  return s;
}

/// The service zone in the child: its own actor_system until "stop".
int service_child(const path_config& p, const shm::region_options& ro,
                  int ready, int stop) {
  actors::service_settings s;
  s.workers = p.workers;
  s.worker_capacity = p.worker_capacity;
  s.batch = p.batch;
  s.inline_trivial = p.inline_trivial;
  s.bell = bell_of(p);
  int rc = 0;
  {
    auto cfg = caf_config(p);
    caf::actor_system sys{*cfg};
    auto spawned = actors::spawn_service_zone(sys, ro, s, services::registry());
    if (!spawned) {
      bench::report_error(ready, actors::describe(spawned.error()));
      rc = 1;
    } else {
      auto bridge = *spawned;
      bench::report_ready(ready);
      bench::wait_stop(stop);
      caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
      bridge = nullptr;
      sys.await_all_actors_done();
    }
  }
  return rc;
}

// -- the client side: loads in chunks ----------------------------------------

using handle = caf::response_handle<caf::blocking_actor, caf::message, true>;

/// Feeds client actors chunks of requests (two outstanding per actor, so
/// the pipeline never drains) until the budget is spent.
class driver {
public:
  driver(caf::scoped_actor& self, std::vector<caf::actor>& clients,
         const path_config& p)
      : self_(self),
        clients_(clients),
        p_(p),
        data_(p.payload, static_cast<std::uint8_t>(0x5a)) {
    const std::size_t by_size =
        (4u << 20) / std::max<std::uint32_t>(p.payload, 1);
    chunk_ = p.in_flight == 1
                 ? 20
                 : std::max<std::size_t>(4 * p.in_flight,
                                         std::min<std::size_t>(256, by_size));
  }

  run_result run(const budget& b) {
    run_result r;
    chunk_ = std::max<std::size_t>(
        1, std::min<std::size_t>(chunk_, b.requests / (2 * clients_.size())));
    warm_up(b);
    const auto t0 = clock_type::now();
    for (std::size_t a = 0; a < clients_.size(); ++a)
      for (int k = 0; k < 2; ++k)
        send(a, chunk_);
    bool more = true;
    while (!out_.empty()) {
      auto [a, h] = out_.front();
      out_.pop_front();
      collect(h, r);
      if (more && bench::enough(b, r.count + r.failed, seconds_since(t0)))
        more = false;
      if (more)
        send(a, chunk_);
    }
    r.seconds = seconds_since(t0);
    if (r.failed > 0 && r.count == 0)
      r.ok = false;
    return r;
  }

private:
  static double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
  }

  /// Rounds of one chunk per actor until `warmup` requests are done or a
  /// quarter of the time budget is spent; their figures are dropped. With
  /// one request in flight the chunks start at 2 and double, and the timed
  /// part then uses chunks of about a tenth of the time budget, so a slow
  /// configuration still stops on time.
  void warm_up(const budget& b) {
    const bool sequential = p_.in_flight == 1;
    const auto t0 = clock_type::now();
    run_result ignored;
    std::size_t per = sequential ? 2 : chunk_;
    double per_request = 0;
    while (ignored.count + ignored.failed < b.warmup &&
           seconds_since(t0) < b.seconds / 4) {
      const auto t1 = clock_type::now();
      for (std::size_t a = 0; a < clients_.size(); ++a)
        send(a, per);
      while (!out_.empty()) {
        collect(out_.front().second, ignored);
        out_.pop_front();
      }
      per_request = seconds_since(t1) / static_cast<double>(per);
      if (sequential)
        per = std::min(2 * per, chunk_);
    }
    if (sequential && per_request > 0)
      chunk_ = std::clamp<std::size_t>(
          static_cast<std::size_t>(b.seconds / 10 / per_request), 1, chunk_);
  }

  void send(std::size_t a, std::size_t n) {
    std::vector<actors::call_spec> load(n, {p_.service_id, data_});
    out_.emplace_back(a,
                      self_->request(clients_[a], caf::infinite,
                                     actors::run_atom::value, std::move(load)));
  }

  void collect(handle& h, run_result& r) {
    h.receive(
        [&](actors::outcomes& got) {
          for (auto& o : got) {
            if (!o.ok || o.data.size() != p_.payload) {
              ++r.failed;
              if (r.error.empty())
                r.error = o.ok ? "response of " +
                                     std::to_string(o.data.size()) + " bytes"
                               : actors::describe(o.error);
              continue;
            }
            ++r.count;
            r.bytes += o.data.size();
            r.lat_us.push_back(static_cast<double>(o.latency_ns) / 1e3);
          }
        },
        [&](caf::error& e) {
          ++r.failed;
          if (r.error.empty())
            r.error = actors::describe(e);
        });
  }

  caf::scoped_actor& self_;
  std::vector<caf::actor>& clients_;
  const path_config& p_;
  actors::bytes data_;
  std::size_t chunk_ = 256;
  std::deque<std::pair<std::size_t, handle>> out_;
};

run_result client_zone(const path_config& p, const shm::region_options& ro,
                       const budget& b) {
  auto cfg = caf_config(p);
  caf::actor_system sys{*cfg};
  if (auto err = actors::wait_for_service(ro, std::chrono::seconds(10)))
    return bench::failure(actors::describe(err));
  actors::client_settings cs;
  cs.bell = bell_of(p);
  cs.pending_limit = 1u << 20;
  cs.request_timeout = std::chrono::seconds(30);
  auto spawned = actors::spawn_client_zone(sys, ro, cs);
  if (!spawned)
    return bench::failure(actors::describe(spawned.error()));
  auto bridge = *spawned;
  std::vector<caf::actor> clients;
  for (std::uint32_t i = 0; i < p.actors; ++i)
    clients.push_back(actors::spawn_client_actor(sys, bridge, p.in_flight));
  run_result r;
  {
    caf::scoped_actor self{sys};
    driver d{self, clients, p};
    r = d.run(b);
  }
  for (auto& c : clients)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  clients.clear();
  bridge = nullptr;
  sys.await_all_actors_done();
  return r;
}

/// One repetition through the full actor path: fork the service zone, run
/// the client zone here, stop the child, remove the region.
run_result actor_path(const path_config& p, const budget& b) {
  const std::string path = bench::region_path();
  const auto ro = region_of(p, path);
  bench::child_proc child;
  std::string err;
  if (!bench::fork_child(
          [&](int ready, int stop) {
            return service_child(p, ro, ready, stop);
          },
          child, &err))
    return bench::failure(err);
  run_result r;
  if (!bench::await_ready(child, 15000, &err))
    r = bench::failure(err);
  else
    r = client_zone(p, ro, b);
  const int rc = bench::stop_child(child, 10000);
  if (rc != 0 && r.ok)
    r = bench::failure("the service process exited with " + std::to_string(rc));
  bench::remove_region(path);
  return r;
}

// -- the runner --------------------------------------------------------------

/// One measurement: fills one repetition of each of its rows.
struct task {
  std::vector<std::size_t> rows;
  std::function<std::vector<run_result>()> fn;
};

/// The rows, the measurements that fill them and what to do after the last
/// repetition. The repetitions are the outer loop, so a change in the
/// machine's load spreads over all rows instead of biasing some.
struct report {
  std::vector<row> rows;
  std::vector<task> tasks;
  std::vector<std::function<void(report&)>> finish;
  int reps = 5;
};

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

/// Adds a row and the measurement that fills it.
void measure(report& rep, row r, std::function<run_result()> fn) {
  rep.rows.push_back(std::move(r));
  rep.tasks.push_back({{rep.rows.size() - 1}, [fn = std::move(fn)] {
                         return std::vector<run_result>{fn()};
                       }});
}

void run_plan(report& rep) {
  for (int i = 0; i < rep.reps; ++i) {
    const std::string n =
        std::to_string(i + 1) + "/" + std::to_string(rep.reps);
    progress("repetition " + n);
    for (auto& t : rep.tasks) {
      auto res = t.fn();
      for (std::size_t k = 0; k < t.rows.size(); ++k) {
        row& r = rep.rows[t.rows[k]];
        r.reps.push_back(k < res.size() ? res[k] : bench::failure("no result"));
        progress("[" + r.scenario + "] " + r.measure + ": rep " + n + ": " +
                 rep_line(r, r.reps.back()));
      }
    }
  }
  for (auto& f : rep.finish)
    f(rep);
}

row path_row(const std::string& scenario, const std::string& id,
             const std::string& measure, kind k, const path_config& p) {
  row r;
  r.scenario = scenario;
  r.id = id;
  r.measure = measure;
  r.k = k;
  r.settings = settings_of(p);
  r.brief = brief_of(p);
  return r;
}

// -- scenario: latency --------------------------------------------------------

/// The three ways both zones wait for each other in the latency rows.
enum class wait_mode { polling, doorbell, spin50 };

const char* mode_name(wait_mode m) {
  return m == wait_mode::polling    ? "polling"
         : m == wait_mode::doorbell ? "doorbell"
                                    : "spin 50 us";
}

void run_latency(report& rep, const options& o) {
  budget b;
  if (o.quick)
    b = budget{300, 50, 100, 0.3, 2.0};
  else
    b = budget{20000, 1000, 2000, 1.0, 2.0};
  for (bool inl : {false, true})
    for (auto mode :
         {wait_mode::polling, wait_mode::doorbell, wait_mode::spin50})
      for (std::uint32_t size : {64u, 4096u}) {
        path_config p;
        p.threads = o.threads;
        p.polling = mode == wait_mode::polling;
        p.spin = std::chrono::microseconds{mode == wait_mode::spin50 ? 50 : 0};
        p.payload = size;
        p.inline_trivial = inl;
        const std::string tag =
            mode == wait_mode::spin50 ? "spin50" : mode_name(mode);
        const std::string id = "latency." + tag + "." + std::to_string(size) +
                               (inl ? ".inline" : "");
        const std::string m = "echo " + size_text(size) + " round trip, " +
                              mode_name(mode) + (inl ? ", inline" : "");
        budget bb = b;
        if (p.polling) // time-sliced on 2 cores: ms per request
          bb.max_factor = 1.5;
        measure(rep, path_row("latency", id, m, kind::latency, p),
                [p, bb] { return actor_path(p, bb); });
      }
}

// -- scenario: throughput -----------------------------------------------------

void run_throughput(report& rep, const options& o) {
  budget b;
  if (o.quick)
    b = budget{1000000000, 200, 100, 0.15};
  else
    b = budget{1000000000, 2000, 1000, 0.6};
  for (std::uint32_t workers : {1u, 2u, 4u})
    for (std::uint32_t actors : {1u, 2u, 4u, 8u}) {
      path_config p;
      p.threads = o.threads;
      p.spin = std::chrono::microseconds{50};
      p.workers = workers;
      p.actors = actors;
      p.in_flight = 32;
      const std::string id = "throughput.c" + std::to_string(actors) + ".w" +
                             std::to_string(workers);
      const std::string m = "echo 64 B pipelined, " + std::to_string(actors) +
                            " client actor" + (actors > 1 ? "s" : "") + ", " +
                            std::to_string(workers) + " worker" +
                            (workers > 1 ? "s" : "");
      measure(rep, path_row("throughput", id, m, kind::rate, p),
              [p, b] { return actor_path(p, b); });
    }
  // The product's default: echo up to service.inline_max bytes runs inside
  // the service bridge (no worker hop).
  for (std::uint32_t actors : {1u, 2u, 4u, 8u}) {
    path_config p;
    p.threads = o.threads;
    p.spin = std::chrono::microseconds{50};
    p.actors = actors;
    p.in_flight = 32;
    p.inline_trivial = true;
    const std::string id = "throughput.c" + std::to_string(actors) + ".inline";
    const std::string m = "echo 64 B pipelined, " + std::to_string(actors) +
                          " client actor" + (actors > 1 ? "s" : "") +
                          ", inline";
    measure(rep, path_row("throughput", id, m, kind::rate, p),
            [p, b] { return actor_path(p, b); });
  }
}

// -- scenario: encrypt --------------------------------------------------------

void run_encrypt(report& rep, const options& o) {
  budget b;
  if (o.quick)
    b = budget{1000000000, 16, 16, 0.15};
  else
    b = budget{1000000000, 256, 200, 0.8};
  for (std::uint32_t size : {4096u, 65536u})
    for (bool inl : {false, true}) {
      path_config p;
      p.threads = o.threads;
      p.spin = std::chrono::microseconds{50};
      p.service_id = 1;
      p.payload = size;
      p.workers = 2;
      p.actors = 4;
      p.in_flight = size > 4096 ? 4 : 16;
      p.payload_size = 64u << 20;
      p.max_clients = 4;
      // inline_max_bytes stays 4096: the 64 KiB row goes to the workers
      // either way, as with amp-node's defaults.
      p.inline_trivial = inl;
      const std::string id =
          "encrypt." + std::to_string(size) + (inl ? ".inline" : "");
      const std::string m = "encrypt " + size_text(size) +
                            " pipelined, payload" + (inl ? ", inline" : "");
      measure(rep, path_row("encrypt", id, m, kind::gbytes, p),
              [p, b] { return actor_path(p, b); });
    }
}

// -- scenario: floor and baseline ---------------------------------------------

row raw_row(const std::string& scenario, const std::string& id,
            const std::string& measure, kind k, settings_list s,
            std::string brief) {
  row r;
  r.scenario = scenario;
  r.id = id;
  r.measure = measure;
  r.k = k;
  r.settings = std::move(s);
  r.brief = std::move(brief);
  return r;
}

void run_floor(report& rep, const options& o) {
  const budget lat =
      o.quick ? budget{2000, 200, 500, 0.1} : budget{20000, 1000, 2000, 1.0};
  const budget pp = o.quick ? budget{20000, 1000, 1000, 0.1}
                            : budget{2000000, 10000, 100000, 1.0};
  const budget tp = o.quick ? budget{1000000000, 1000, 1000, 0.1}
                            : budget{1000000000, 20000, 20000, 1.0};
  measure(rep,
          raw_row("floor", "floor.cacheline", "cache-line ping-pong round trip",
                  kind::latency,
                  {{"method", "two spinning processes, one shared line; "
                              "samples are means over 100 round trips"}},
                  "2 spinning processes"),
          [pp] { return bench::floor_cacheline(pp); });
  for (bool polling : {true, false}) {
    const std::string mode = polling ? "polling" : "doorbell";
    measure(rep,
            raw_row("floor", "floor.queue." + mode + ".64",
                    "shm queue 64 B round trip, no actors, " + mode,
                    kind::latency,
                    {{"bell", polling ? "polling, spin 1 s" : "futex, spin 0"},
                     {"path", "zone_lock queue, payload allocator, wire "
                              "validation; one thread per side"}},
                    polling ? "poll; 1 thread/side"
                            : "futex spin 0; 1 thread/side"),
            [lat, polling] {
              return bench::floor_queue_latency(lat, polling, 64);
            });
  }
  measure(rep,
          raw_row("floor", "floor.queue.throughput",
                  "shm queue 64 B pipelined, no actors", kind::rate,
                  {{"bell", "polling, spin 1 s"},
                   {"window", "256"},
                   {"batch", "up to 64 per lock acquisition"}},
                  "poll; window 256"),
          [tp] { return bench::floor_queue_throughput(tp, 256); });
}

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
  r.settings.emplace_back("slept", o.str());
}

void run_baseline(report& rep, const options& o) {
  const budget lat =
      o.quick ? budget{2000, 200, 500, 0.1} : budget{20000, 1000, 2000, 1.0};
  const budget tp = o.quick ? budget{1000000000, 1000, 1000, 0.1}
                            : budget{1000000000, 20000, 20000, 1.0};
  const budget seed_lat =
      o.quick ? budget{50, 5, 20, 0.1} : budget{2000, 20, 200, 1.5};
  const budget seed_tp = o.quick ? budget{1000000000, 8, 20, 0.2}
                                 : budget{1000000000, 40, 200, 1.5};
  measure(rep,
          raw_row("baseline", "baseline.uds.latency",
                  "Unix socket 64 B echo round trip", kind::latency,
                  {{"socket", "AF_UNIX SOCK_SEQPACKET, blocking read/write"}},
                  "seqpacket, blocking"),
          [lat] { return bench::baseline_uds_latency(lat); });
  measure(rep,
          raw_row("baseline", "baseline.uds.throughput",
                  "Unix socket 64 B echo pipelined", kind::rate,
                  {{"socket", "AF_UNIX SOCK_SEQPACKET, blocking read/write"},
                   {"window", "32"}},
                  "seqpacket; window 32"),
          [tp] { return bench::baseline_uds_throughput(tp, 32); });
  const settings_list seed = {
      {"design", "ByteFlag queue_lock 0x0A/0x0F, one entry per wake-up, "
                 "client polls deal_state with usleep(1000)"},
      {"doorbell", "futex counter standing in for ioctl/IRQ/poll(hshm0)"}};
  auto with = [&](const std::string& k, const std::string& v) {
    auto s = seed;
    s.emplace_back(k, v);
    return s;
  };
  measure(rep,
          raw_row("baseline", "baseline.seed.latency",
                  "seed replica 64 B round trip, 1 client thread",
                  kind::latency, with("client_threads", "1"),
                  "usleep(1000) poll; 1 thread"),
          [seed_lat] { return bench::baseline_seed(seed_lat, 1); });
  rep.finish.push_back(
      [i = rep.rows.size() - 1](report& r) { note_slept(r.rows[i]); });
  measure(rep,
          raw_row("baseline", "baseline.seed.throughput",
                  "seed replica 64 B, 4 client threads", kind::rate,
                  with("client_threads", "4"), "usleep(1000) poll; 4 threads"),
          [seed_tp] { return bench::baseline_seed(seed_tp, 4); });
  rep.finish.push_back(
      [i = rep.rows.size() - 1](report& r) { note_slept(r.rows[i]); });
}

// -- scenario: seed (amp-node processes) --------------------------------------

std::string self_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.find_last_of('/'));
}

/// Starts `argv` with stdout and stderr to `log` (appended).
pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

/// Waits for `pid`; its exit code, or -1.
int reap(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct seed_env {
  std::string amp_node;
  std::string error; ///< why the scenario cannot run
  std::string dir;
  std::string service_toml, client_toml, log, region;
};

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

/// Runs all of `cmds` at once; the wall time until the last one ends, or a
/// negative value if any failed.
double run_all(const seed_env& e,
               const std::vector<std::vector<std::string>>& cmds,
               std::string* error) {
  const auto t0 = clock_type::now();
  std::vector<pid_t> pids;
  for (const auto& c : cmds)
    pids.push_back(spawn(c, e.log));
  int bad = 0;
  for (auto pid : pids)
    if (pid < 0 || reap(pid) != 0)
      ++bad;
  const double s =
      std::chrono::duration<double>(clock_type::now() - t0).count();
  if (bad > 0) {
    *error = std::to_string(bad) + " of " + std::to_string(cmds.size()) +
             " amp-node processes failed (see " + e.log + ")";
    return -1;
  }
  return s;
}

struct seed_counts {
  int sequential = 100;
  int mt_threads = 4;
  int mixed_each = 50;
};

/// Starts `amp-node serve` and waits until it holds the service slot.
pid_t start_service(const seed_env& e, std::string* error) {
  const pid_t svc = spawn({e.amp_node, "serve", e.service_toml}, e.log);
  if (svc < 0) {
    *error = "cannot start " + e.amp_node;
    return -1;
  }
  shm::region_options ro;
  ro.path = e.region;
  ro.entries = 256;
  ro.max_clients = 256;
  ro.payload_size = 1u << 20;
  ro.create = shm::create_mode::attach;
  auto err = actors::wait_for_service(ro, std::chrono::seconds(15));
  if (!err)
    return svc;
  *error = actors::describe(err);
  ::kill(svc, SIGKILL);
  reap(svc);
  return -1;
}

/// (a) the seed's `time for i in {1..100}; do hyper_amp_test ... test 1`.
run_result seed_sequential(const seed_env& e, const seed_counts& n) {
  const auto t0 = clock_type::now();
  int bad = 0;
  for (int i = 0; i < n.sequential; ++i) {
    const pid_t p = spawn(
        {e.amp_node, "hyper_amp_test", e.client_toml, "test", "1"}, e.log);
    if (p < 0 || reap(p) != 0)
      ++bad;
  }
  if (bad > 0)
    return bench::failure(std::to_string(bad) + " hyper_amp_test runs failed" +
                          " (see " + e.log + ")");
  run_result r;
  r.value = std::chrono::duration<double>(clock_type::now() - t0).count();
  return r;
}

/// A wall time measured by run_all as a run_result.
run_result wall(double s, const std::string& error) {
  if (s < 0)
    return bench::failure(error);
  run_result r;
  r.value = s;
  return r;
}

/// (b) hyper_amp_test_mt <cfg> test 1 4 100.
run_result seed_mt(const seed_env& e, const seed_counts& n) {
  std::string err;
  const double s =
      run_all(e,
              {{e.amp_node, "hyper_amp_test_mt", e.client_toml, "test", "1",
                std::to_string(n.mt_threads), std::to_string(n.sequential)}},
              &err);
  return wall(s, err);
}

/// (c) 50 encrypt + 50 decrypt + 50 echo processes started at once.
run_result seed_mixed(const seed_env& e, const seed_counts& n) {
  std::vector<std::vector<std::string>> mix;
  for (int i = 1; i <= n.mixed_each; ++i)
    for (auto [name, sid] :
         {std::pair<const char*, const char*>{"encrypt", "1"},
          {"decrypt", "2"},
          {"echo", "66"}})
      mix.push_back({e.amp_node, "hyper_amp_test", e.client_toml,
                     std::string(name) + "_" + std::to_string(i), sid});
  std::string err;
  const double s = run_all(e, mix, &err);
  return wall(s, err);
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
    s.emplace_back("command", cmd);
    return raw_row("seed", id, m, k, s, cmd);
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
  ratio.settings.emplace_back("check", note.str());
}

/// One repetition: a fresh region and service, then (a), (b), (c).
std::vector<run_result> seed_once(seed_env& e, const seed_counts& n,
                                  std::size_t threads) {
  if (!e.error.empty())
    return std::vector<run_result>(4, bench::failure(e.error));
  e.region = bench::region_path();
  write_roles(e, threads);
  std::string err;
  const pid_t svc = start_service(e, &err);
  if (svc < 0) {
    bench::remove_region(e.region);
    return std::vector<run_result>(4, bench::failure(err));
  }
  std::vector<run_result> out;
  out.push_back(seed_sequential(e, n));
  out.push_back(seed_mt(e, n));
  const auto &st = out[0], &mt = out[1];
  out.push_back(st.ok && mt.ok ? wall(st.value / mt.value, "")
                               : bench::failure("needs (a) and (b)"));
  out.push_back(seed_mixed(e, n));
  ::kill(svc, SIGTERM);
  if (reap(svc) != 0)
    progress("[seed] amp-node serve did not exit cleanly (see " + e.log + ")");
  bench::remove_region(e.region);
  return out;
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

void run_seed(report& rep, const options& o) {
  seed_counts n;
  if (o.quick)
    n = seed_counts{5, 4, 3};
  const std::size_t first = rep.rows.size();
  for (auto& r : make_seed_rows(n, o))
    rep.rows.push_back(std::move(r));
  auto env = make_seed_env();
  const std::size_t threads = o.threads;
  rep.tasks.push_back(
      {{first, first + 1, first + 2, first + 3},
       [env, n, threads] { return seed_once(*env, n, threads); }});
  rep.finish.push_back([env, n, first](report& r) {
    seed_check(r.rows[first], r.rows[first + 1], r.rows[first + 2], n);
    cleanup(*env);
  });
}

// -- machine, table, JSON -----------------------------------------------------

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  return s.substr(i);
}

std::string command_output(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f))
      out += buf;
    ::pclose(f);
  }
  return trim(out);
}

std::string first_line(const std::string& path) {
  std::ifstream f{path};
  std::string line;
  std::getline(f, line);
  return trim(line);
}

struct machine {
  long nproc = 0;
  std::string cpu, uname, date, git, load_start, load_end;
};

machine describe_machine() {
  machine m;
  m.nproc = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::ifstream f{"/proc/cpuinfo"};
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      m.cpu = trim(line.substr(line.find(':') + 1));
      break;
    }
  utsname u{};
  if (::uname(&u) == 0)
    m.uname = std::string(u.sysname) + " " + u.release + " " + u.version + " " +
              u.machine;
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  m.date = buf;
  const std::string src = HYPERAMP_SOURCE_DIR;
  m.git = command_output("git -C '" + src +
                         "' rev-parse --short=12 HEAD "
                         "2>/dev/null");
  if (m.git.empty())
    m.git = "unknown";
  else if (!command_output("git -C '" + src +
                           "' status --porcelain --untracked-files=no "
                           "2>/dev/null")
                .empty())
    m.git += "-dirty";
  m.load_start = first_line("/proc/loadavg");
  return m;
}

void print_table(const report& rep, std::ostream& out) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"scenario", "measure", "median", "p99", "spread (min..max)",
                   "unit", "settings"});
  for (const auto& r : rep.rows) {
    const auto s = summarise(r);
    if (s.values.empty()) {
      cells.push_back({r.scenario, r.measure, "FAILED", "-", "-", unit_of(r.k),
                       s.first_error});
      continue;
    }
    std::string spread = fmt(s.min, r.k) + " .. " + fmt(s.max, r.k);
    std::string notes = r.brief;
    if (s.failed_reps > 0)
      notes += "; " + std::to_string(s.failed_reps) + " reps failed";
    if (s.failed_requests > 0)
      notes += "; " + std::to_string(s.failed_requests) + " requests failed";
    if (!r.note.empty())
      notes += "; " + r.note;
    cells.push_back({r.scenario, r.measure, fmt(s.median, r.k), fmt(s.p99, r.k),
                     spread, unit_of(r.k), notes});
  }
  std::vector<std::size_t> w(cells[0].size(), 0);
  for (const auto& c : cells)
    for (std::size_t i = 0; i < c.size(); ++i)
      w[i] = std::max(w[i], c[i].size());
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const auto& c = cells[k];
    for (std::size_t i = 0; i < c.size(); ++i) {
      const bool right = i >= 2 && i <= 4;
      out << (right ? std::right : std::left)
          << std::setw(static_cast<int>(w[i])) << c[i]
          << (i + 1 < c.size() ? "  " : "\n");
    }
    if (k == 0) {
      std::size_t total = 0;
      for (auto x : w)
        total += x + 2;
      out << std::string(total - 2, '-') << "\n";
    }
  }
}

std::string json_str(const std::string& s) {
  return "\"" + apps::json_escape(s) + "\"";
}

std::string json_num(double v) {
  if (std::isnan(v) || std::isinf(v))
    return "null";
  std::ostringstream o;
  o << std::setprecision(6) << v;
  return o.str();
}

void json_row(std::ostream& j, const row& r) {
  const auto s = summarise(r);
  j << "    {\"scenario\": " << json_str(r.scenario)
    << ", \"id\": " << json_str(r.id)
    << ", \"measure\": " << json_str(r.measure)
    << ",\n     \"unit\": " << json_str(unit_of(r.k))
    << ", \"median\": " << json_num(s.median)
    << ", \"p99\": " << json_num(s.p99) << ", \"min\": " << json_num(s.min)
    << ", \"max\": " << json_num(s.max);
  if (!std::isnan(s.load_p50_us))
    j << ",\n     \"latency_under_load_us\": {\"p50\": "
      << json_num(s.load_p50_us) << ", \"p99\": " << json_num(s.load_p99_us)
      << "}";
  j << ",\n     \"failed_reps\": " << s.failed_reps
    << ", \"failed_requests\": " << s.failed_requests;
  if (!s.first_error.empty())
    j << ", \"error\": " << json_str(s.first_error);
  if (!r.note.empty())
    j << ", \"note\": " << json_str(r.note);
  j << ",\n     \"settings\": {";
  for (std::size_t i = 0; i < r.settings.size(); ++i)
    j << (i ? ", " : "") << json_str(r.settings[i].first) << ": "
      << json_str(r.settings[i].second);
  j << "},\n     \"reps\": [";
  for (std::size_t i = 0; i < r.reps.size(); ++i) {
    const auto& x = r.reps[i];
    j << (i ? ", " : "") << "{\"ok\": " << (x.ok ? "true" : "false");
    if (x.ok) {
      j << ", \"value\": " << json_num(rep_value(r.k, x));
      if (r.k == kind::latency)
        j << ", \"p99\": " << json_num(percentile(x.lat_us, 0.99));
      if (x.count)
        j << ", \"requests\": " << x.count
          << ", \"seconds\": " << json_num(x.seconds);
    } else {
      j << ", \"error\": " << json_str(x.error);
    }
    j << "}";
  }
  j << "]}";
}

bool write_json(const std::string& path, const report& rep, const machine& m,
                const options& o) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent, ec);
  std::ofstream j{path};
  if (!j)
    return false;
  j << "{\n  \"tool\": \"amp-bench\",\n  \"format\": 1,\n  \"date\": "
    << json_str(m.date) << ",\n  \"git\": " << json_str(m.git)
    << ",\n  \"machine\": {\"nproc\": " << m.nproc
    << ", \"cpu\": " << json_str(m.cpu) << ", \"uname\": " << json_str(m.uname)
    << ", \"loadavg_start\": " << json_str(m.load_start)
    << ", \"loadavg_end\": " << json_str(m.load_end)
    << "},\n  \"options\": {\"quick\": " << (o.quick ? "true" : "false")
    << ", \"reps\": " << o.reps << ", \"threads\": " << o.threads
    << ", \"scenarios\": [";
  for (std::size_t i = 0; i < o.scenarios.size(); ++i)
    j << (i ? ", " : "") << json_str(o.scenarios[i]);
  j << "]},\n  \"results\": [\n";
  for (std::size_t i = 0; i < rep.rows.size(); ++i) {
    json_row(j, rep.rows[i]);
    j << (i + 1 < rep.rows.size() ? ",\n" : "\n");
  }
  j << "  ]\n}\n";
  return static_cast<bool>(j);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse_args(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "amp-bench: " << e.what()
              << "\n(amp-bench --help lists the scenarios and options)\n";
    return 2;
  }
  if (o.help) {
    std::cout << k_usage;
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);
  machine m = describe_machine();
  report rep;
  rep.reps = o.reps;
  const auto t0 = clock_type::now();
  using runner = void (*)(report&, const options&);
  const std::vector<std::pair<std::string, runner>> all = {
      {"latency", run_latency}, {"throughput", run_throughput},
      {"encrypt", run_encrypt}, {"seed", run_seed},
      {"floor", run_floor},     {"baseline", run_baseline}};
  for (const auto& [name, fn] : all)
    if (wants(o, name))
      fn(rep, o);
  run_plan(rep);
  m.load_end = first_line("/proc/loadavg");
  std::cout << "\namp-bench " << m.date << ", git " << m.git << ", " << m.nproc
            << " x " << m.cpu << ", " << m.uname << "\nload average "
            << m.load_start << " (start), " << m.load_end << " (end); "
            << o.reps << " repetition" << (o.reps > 1 ? "s" : "")
            << "; median of the repetitions, p99 = median of their p99, "
               "spread = min..max of the repetitions' medians\n\n";
  print_table(rep, std::cout);
  const double total =
      std::chrono::duration<double>(clock_type::now() - t0).count();
  bool failed = false;
  for (const auto& r : rep.rows)
    for (const auto& x : r.reps)
      failed = failed || !x.ok || x.failed > 0;
  if (!write_json(o.json, rep, m, o)) {
    std::cerr << "amp-bench: cannot write " << o.json << "\n";
    return 1;
  }
  std::cout << "\nresults: " << o.json << " (" << fmt(total, kind::seconds)
            << " s)\n";
  return failed ? 1 : 0;
}

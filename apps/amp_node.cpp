// amp-node: runs one zone (client or service) from a TOML role file.
// Argument parsing and wiring only; the zone itself is actors/.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <poll.h>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/client_actor.hpp"
#include "actors/fwd.hpp"
#include "actors/gateway.hpp"
#include "actors/zone.hpp"
#include "apps/cli.hpp"
#include "apps/inspect_view.hpp"
#include "apps/tls_check.hpp"
#include "apps/wiring.hpp"
#include "config/role.hpp"
#include "services/registry.hpp"
#include "shm/inspect.hpp"
#include "shm/region.hpp"

using namespace hyperamp;
using apps::command;

namespace {

using clock_type = std::chrono::steady_clock;

/// Waits for SIGINT/SIGTERM on a thread of its own (the signals are blocked
/// in every thread, CAF's included) and calls `on_signal` once. Destroying
/// it wakes the thread with SIGUSR2 (also blocked), so nothing lingers.
class signal_watch {
public:
  explicit signal_watch(std::function<void(int)> on_signal)
      : on_signal_(std::move(on_signal)) {
    thread_ = std::thread{[this] { run(); }};
  }
  ~signal_watch() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }
  bool fired() const { return fired_; }

private:
  void run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (sig == SIGUSR2)
        return;
      fired_ = true;
      on_signal_(sig);
      return;
    }
  }
  std::function<void(int)> on_signal_;
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2); // signal_watch's own wake-up
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string hex(std::uint64_t n) {
  std::ostringstream out;
  out << "0x" << std::hex << n;
  return out.str();
}

/// What a zone works on, for its first line.
std::string where(const config::role_config& cfg) {
  if (cfg.region.layout != config::region_layout::hvisor_v1)
    return cfg.region.path;
  return "hvisor-tool's queue at " + hex(cfg.v1.queue_addr) + " (buffer " +
         hex(cfg.v1.buffer_addr) + ", readiness word " +
         hex(cfg.v1.ready_addr) + ") through " + cfg.region.path;
}

/// Why a service zone ends: the first of a signal and its bridge's exit.
struct service_end {
  std::promise<caf::error> why;
  std::atomic<bool> ended{false};
  void end(caf::error reason) {
    if (!ended.exchange(true))
      why.set_value(std::move(reason));
  }
};

int run_service(caf::actor_system& sys, const config::role_config& cfg) {
  auto spawned = actors::spawn_service_zone(sys, apps::region_options(cfg),
                                            apps::service_settings(cfg),
                                            services::registry());
  if (!spawned) {
    std::cerr << "amp-node: " << actors::describe(spawned.error()) << "\n";
    return 1;
  }
  auto bridge = *spawned;
  std::cout << "service zone " << cfg.zone_id << " serving " << where(cfg)
            << " (" << apps::service_list() << "; " << cfg.service.workers
            << " workers per service)" << std::endl;
  // Ends on a signal, or when the bridge stops by itself (its zone was
  // replaced in the region: 0 would be a lie then). The functor attached to
  // the bridge runs while CAF cleans the bridge up, which can be after
  // await_all_actors_done returned and this frame is gone: it owns a share
  // of the state rather than pointing into the frame.
  auto ending = std::make_shared<service_end>();
  auto got = ending->why.get_future();
  caf::actor_cast<caf::abstract_actor*>(bridge)->attach_functor(
      [ending](const caf::error& reason) {
        ending->end(reason ? reason
                           : caf::make_error(caf::exit_reason::normal));
      });
  signal_watch watch{[&cfg, ending](int sig) {
    std::cout << "service zone " << cfg.zone_id << ": signal " << sig
              << ", shutting down" << std::endl;
    ending->end(caf::error{});
  }};
  const caf::error why = got.get();
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  if (!why)
    return 0;
  std::cerr << "amp-node: the service zone stopped: " << actors::describe(why)
            << "\n";
  return 1;
}

/// Waits for the service zone and spawns this client zone's bridge; prints
/// why and returns an invalid handle if either fails.
caf::actor start_client_zone(caf::actor_system& sys,
                             const config::role_config& cfg) {
  // Waits up to timeouts.attach_ms for the service (client_settings).
  auto bridge = actors::spawn_client_zone(sys, apps::region_options(cfg),
                                          apps::client_settings(cfg));
  if (bridge)
    return *bridge;
  std::cerr << "amp-node: " << actors::describe(bridge.error()) << "\n";
  return {};
}

struct call_summary {
  std::size_t requests = 0, ok = 0, failed = 0;
  double total_ms = 0;
  double p50_us = 0, p99_us = 0;
  /// Failures by their description (a handful of kinds at most).
  std::map<std::string, std::size_t> errors;
};

/// Per-request output (lines or JSON results) is kept in memory until the
/// end; beyond this many requests only --quiet (a summary) is taken.
constexpr std::size_t k_max_listed = 1'000'000;
/// Without per-request output, each actor's share is run in rounds of at
/// most this many requests, so memory stays bounded for any --requests.
constexpr std::size_t k_round = 65'536;

/// Latencies for the percentiles: all of them up to k_max_listed, then a
/// uniform sample of that size (reservoir sampling, fixed seed).
class latency_sample {
public:
  void add(std::int64_t ns) {
    ++seen_;
    if (v_.size() < k_max_listed) {
      v_.push_back(ns);
      return;
    }
    const std::uint64_t j = rng_() % seen_;
    if (j < v_.size())
      v_[j] = ns;
  }
  double percentile(double p) {
    if (v_.empty())
      return 0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(v_.size() - 1));
    std::nth_element(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(i),
                     v_.end());
    return static_cast<double>(v_[i]) / 1000.0;
  }

private:
  std::vector<std::int64_t> v_;
  std::uint64_t seen_ = 0;
  std::mt19937_64 rng_{42};
};

/// How a response other than --expect's is reported.
const char* const k_wrong = "response differs from --expect";

/// Why a request failed, for its line or JSON result.
std::string failure_of(const actors::call_outcome& r) {
  return r.error ? actors::describe(r.error) : k_wrong;
}

void print_call(const apps::options& o, const actors::outcomes& all,
                const call_summary& s) {
  const double rps = s.total_ms > 0
                         ? 1000.0 * static_cast<double>(s.requests) / s.total_ms
                         : 0;
  if (o.json) {
    nlohmann::ordered_json j;
    j["requests"] = s.requests;
    j["ok"] = s.ok;
    j["failed"] = s.failed;
    j["total_ms"] = s.total_ms;
    j["requests_per_s"] = rps;
    j["p50_us"] = s.p50_us;
    j["p99_us"] = s.p99_us;
    nlohmann::ordered_json errors = nlohmann::ordered_json::object();
    for (const auto& [why, n] : s.errors)
      errors[why] = n;
    j["errors"] = std::move(errors);
    if (!o.quiet) {
      nlohmann::ordered_json results = nlohmann::ordered_json::array();
      for (std::size_t i = 0; i < all.size(); ++i) {
        const auto& r = all[i];
        nlohmann::ordered_json one;
        one["index"] = i;
        one["ok"] = r.ok;
        one["latency_us"] = static_cast<double>(r.latency_ns) / 1e3;
        if (r.ok) {
          one["hex"] = apps::to_hex(r.data);
          one["text"] = apps::render_payload(r.data);
        } else {
          one["error"] = failure_of(r);
          if (!r.error)
            one["hex"] = apps::to_hex(r.data);
        }
        results.push_back(std::move(one));
      }
      j["results"] = std::move(results);
    }
    // Invalid UTF-8 (none is expected: text is printable ASCII) as U+FFFD.
    std::cout << j.dump(-1, ' ', false,
                        nlohmann::ordered_json::error_handler_t::replace)
              << std::endl;
    return;
  }
  if (o.hvisor_output && all.size() == 1) {
    // hyper_amp / hyper_amp_test: hvisor-tool's lines, for its scripts.
    const auto& r = all[0];
    if (r.ok) {
      std::cout << apps::hvisor_result_lines(r.data);
      if (o.service_id == 1 && !r.data.empty() && r.data.size() <= 64)
        std::cout << "To decrypt, use: amp-node hyper_amp_test " << o.role_file
                  << " hex:" << apps::to_hex(r.data) << " 2\n";
    } else {
      std::cout << "error : HyperAMP service failed [service_id = "
                << o.service_id << "]\n";
      std::cerr << "amp-node: " << actors::describe(r.error) << "\n";
    }
  } else if (!o.quiet)
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto& r = all[i];
      if (r.ok)
        std::cout << "[" << i << "] ok (" << r.data.size()
                  << " bytes): " << apps::render_payload(r.data) << "\n";
      else
        std::cout << "[" << i << "] failed: " << failure_of(r) << "\n";
    }
  std::cout << s.requests << " requests: " << s.ok << " ok, " << s.failed
            << " failed; total " << s.total_ms << " ms, " << rps
            << " requests/s; latency p50 " << s.p50_us << " us, p99 "
            << s.p99_us << " us" << std::endl;
  for (const auto& [why, n] : s.errors)
    std::cout << "  " << n << " failed: " << why << "\n";
}

/// What `call` sends, and the response every request must get (--expect).
struct call_input {
  actors::bytes payload;
  std::optional<actors::bytes> expect;
};

/// Decodes the data and --expect within `limit`, and refuses a listing too
/// long to keep; nullopt after saying why (exit code 2).
std::optional<call_input> read_call_input(const apps::options& o,
                                          const apps::payload_limit& limit) {
  const std::uint32_t threads = o.threads.value_or(1);
  const std::uint32_t requests = o.requests.value_or(threads);
  call_input in;
  try {
    if (!o.quiet && requests > k_max_listed)
      throw apps::cli_error(
          "--requests " + std::to_string(requests) +
          " would list every result; more than " +
          std::to_string(k_max_listed) +
          " requests need --quiet (a summary only, in bounded memory)");
    in.payload = apps::decode_payload(o.data, limit);
    if (o.expect)
      in.expect = apps::decode_payload(*o.expect, limit);
  } catch (const apps::cli_error& e) {
    std::cerr << "amp-node: call: " << e.what() << "\n";
    return std::nullopt;
  }
  return in;
}

/// The load of `call`: N client actors with `budget` requests in flight
/// each send M requests through `target` (a bridge or a remote link);
/// prints the results and returns the exit code. A signal stops `target`
/// (what it holds is answered), which ends the load; `target` is stopped at
/// the end.
int call_load(caf::actor_system& sys, const caf::actor& target,
              const apps::options& o, const call_input& in,
              std::uint32_t budget) {
  const auto& payload = in.payload;
  const auto& expect = in.expect;
  const std::uint32_t threads = o.threads.value_or(1);
  const std::uint32_t requests = o.requests.value_or(threads);
  const bool listed = !o.quiet;
  signal_watch watch{[&](int) {
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  }};
  // Request i goes to actor i % threads; each actor generates its share as
  // its budget allows, in rounds when nothing is listed.
  std::vector<std::size_t> left(threads, requests / threads);
  for (std::uint32_t t = 0; t < requests % threads; ++t)
    ++left[t];
  std::vector<caf::actor> clients;
  for (std::uint32_t t = 0; t < threads; ++t)
    clients.push_back(actors::spawn_client_actor(sys, target, budget));
  caf::scoped_actor self{sys};
  call_summary s;
  latency_sample lat;
  actors::outcomes all(listed ? requests : 0);
  std::vector<std::size_t> done(threads, 0); // requests finished, per actor
  const auto t0 = clock_type::now();
  auto last_progress = t0;
  for (bool more = requests > 0; more;) {
    std::vector<std::size_t> n(threads);
    std::vector<caf::response_handle<caf::blocking_actor, caf::message, true>>
        handles;
    for (std::uint32_t t = 0; t < threads; ++t) {
      n[t] = listed ? left[t] : std::min(left[t], k_round);
      handles.push_back(
          self->request(clients[t], caf::infinite, actors::run_atom::value,
                        actors::load_spec{o.service_id, payload, n[t]}));
    }
    for (std::uint32_t t = 0; t < threads; ++t) {
      auto record = [&](std::size_t k, actors::call_outcome& r) {
        const bool wrong = r.ok && expect && r.data != *expect;
        if (wrong)
          r.ok = false; // and no error: "differs from --expect"
        (r.ok ? s.ok : s.failed)++;
        if (!r.ok)
          ++s.errors[wrong ? k_wrong : actors::describe(r.error)];
        lat.add(r.latency_ns);
        if (listed)
          all[(done[t] + k) * threads + t] = std::move(r);
      };
      handles[t].receive(
          [&](actors::outcomes& got) {
            for (auto& r : got)
              record(r.index, r);
          },
          [&](caf::error& e) {
            for (std::size_t k = 0; k < n[t]; ++k) {
              actors::call_outcome r;
              r.error = e;
              record(k, r);
            }
          });
      done[t] += n[t];
      left[t] -= n[t];
    }
    s.requests = s.ok + s.failed;
    more = s.requests < requests && !watch.fired(); // a signal: stop
    const auto now = clock_type::now();
    if (more && now - last_progress >= std::chrono::seconds(1)) {
      last_progress = now;
      std::cerr << "amp-node: call: " << s.requests << " of " << requests
                << " requests done, " << s.failed << " failed" << std::endl;
    }
  }
  s.total_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  s.p50_us = lat.percentile(0.50);
  s.p99_us = lat.percentile(0.99);
  print_call(o, all, s);
  for (auto& c : clients)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  self->send_exit(self, caf::exit_reason::normal);
  return s.failed == 0 && !watch.fired() ? 0 : 1;
}

int run_call(caf::actor_system& sys, const config::role_config& cfg,
             const apps::options& o) {
  const auto in = read_call_input(
      o, apps::max_message_limit(cfg.client.max_message, cfg.source));
  if (!in)
    return 2;
  auto bridge = start_client_zone(sys, cfg);
  if (!bridge)
    return 1;
  return call_load(sys, bridge, o, *in, cfg.client.max_in_flight);
}

/// call --remote: the same load through a gateway. The actors share the
/// connection's credit equally.
int run_remote_call(caf::actor_system& sys, const apps::options& o,
                    const call_input& in, bool tls) {
  const auto where = apps::parse_host_port(o.remote);
  actors::remote_options ro;
  ro.tls = tls;
  auto link = actors::connect_remote(sys, where.host, where.port, ro);
  if (!link) {
    std::cerr << "amp-node: call: " << actors::describe(link.error()) << "\n";
    return 1;
  }
  std::uint32_t credit = 1;
  {
    caf::scoped_actor self{sys};
    self->request(*link, std::chrono::seconds(30), caf::get_atom::value)
        .receive([&](actors::session_grant& g) { credit = g.credit; },
                 [&](caf::error&) {});
  }
  const std::uint32_t threads = o.threads.value_or(1);
  return call_load(sys, *link, o, in, std::max(1u, credit / threads));
}

/// amp-node call --remote: no role file, an actor system of its own.
int remote_main(const apps::options& o) {
  // The zone's client.max_message is not known here: the gateway answers
  // too_large beyond it (its grant says how much that is).
  const auto in = read_call_input(o, apps::payload_limit{});
  if (!in)
    return 2;
  const actors::tls_files tls{o.tls_ca, o.tls_cert, o.tls_key};
  if (tls.enabled()) {
    const auto why = apps::tls_problem({tls.certificate, tls.key, tls.ca,
                                        "--tls-cert", "--tls-key", "--tls-ca"});
    if (!why.empty()) {
      std::cerr << "amp-node: call: " << why << "\n";
      return 2;
    }
  }
  block_signals(); // before CAF starts threads: they inherit the mask
  int rc = 0;
  {
    auto caf_cfg = apps::remote_caf_config(tls);
    caf::actor_system sys{*caf_cfg};
    rc = run_remote_call(sys, o, *in, tls.enabled());
    sys.await_all_actors_done();
  }
  return rc;
}

/// amp-node gateway: the client zone and its gateway until a signal.
int run_gateway(caf::actor_system& sys, const config::role_config& cfg,
                const apps::options& o) {
  auto bridge = start_client_zone(sys, cfg);
  if (!bridge)
    return 1;
  const auto settings = apps::gateway_settings(cfg, o);
  auto gw = actors::start_gateway(sys, bridge, settings);
  if (!gw) {
    std::cerr << "amp-node: gateway: " << actors::describe(gw.error()) << "\n";
    caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::cout << "gateway listening on "
            << (settings.bind.find(':') != std::string::npos
                    ? "[" + settings.bind + "]"
                    : settings.bind)
            << ":" << gw->port << " (" << (settings.tls ? "TLS" : "plain TCP")
            << ") for client zone " << cfg.zone_id << " on " << cfg.region.path
            << std::endl;
  std::promise<int> got;
  signal_watch watch{[&](int sig) { got.set_value(sig); }};
  const int sig = got.get_future().get();
  actors::gateway_stats st;
  {
    caf::scoped_actor self{sys};
    self->request(gw->keeper, std::chrono::seconds(10),
                  actors::stats_atom::value)
        .receive([&](actors::gateway_stats& x) { st = x; },
                 [&](caf::error&) {});
  }
  caf::anon_send_exit(gw->keeper, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  std::cout << "gateway: signal " << sig << ", shutting down; sessions "
            << st.sessions_opened << " opened, " << st.sessions_refused
            << " refused, " << st.sessions_live << " live; requests "
            << st.requests << " forwarded, " << st.not_allowed
            << " not allowed, " << st.overloaded << " overloaded"
            << (st.republished > 0
                    ? "; gateway replaced " + std::to_string(st.republished) +
                          " times"
                    : std::string{})
            << std::endl;
  return 0;
}

/// A client zone without a subcommand: "<service_id> <data>" lines on stdin.
int run_client_lines(caf::actor_system& sys, const config::role_config& cfg) {
  auto bridge = start_client_zone(sys, cfg);
  if (!bridge)
    return 1;
  std::atomic<bool> stop{false};
  signal_watch watch{[&](int) { stop = true; }};
  std::cout << "client zone " << cfg.zone_id << " on " << where(cfg)
            << ": type \"<service_id> <data|@file|hex:HEX>\" per line"
            << std::endl;
  caf::scoped_actor self{sys};
  const auto limit =
      apps::max_message_limit(cfg.client.max_message, cfg.source);
  // Bounded lines: input without a newline does not grow a buffer forever.
  const std::size_t max_line = apps::max_line_length(cfg.client.max_message);
  apps::line_splitter lines{max_line};
  int failures = 0;
  bool eof = false;
  while (!stop && !eof) {
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    char chunk[4096];
    const ssize_t n = ::read(0, chunk, sizeof chunk);
    eof = n <= 0;
    if (eof)
      lines.finish();
    else
      lines.feed(chunk, static_cast<std::size_t>(n));
    while (auto line = lines.next()) {
      if (line->too_long) {
        std::cout << "error: line longer than " << max_line
                  << " bytes (2 x client.max_message + 4096) skipped"
                  << std::endl;
        ++failures;
        continue;
      }
      std::istringstream in{line->text};
      std::string sid, data;
      if (!(in >> sid))
        continue;
      std::getline(in >> std::ws, data);
      try {
        auto id = apps::parse_count(sid, "service_id", 0, 0xFFFFFFFFu);
        auto r =
            actors::call(self, bridge, id, apps::decode_payload(data, limit));
        if (r)
          std::cout << apps::render_payload(*r) << std::endl;
        else
          std::cout << "error: " << actors::describe(r.error()) << std::endl,
              ++failures;
      } catch (const apps::cli_error& e) {
        std::cout << "error: " << e.what() << std::endl;
        ++failures;
      }
    }
  }
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  return failures == 0 ? 0 : 1;
}

/// amp-node inspect: looks (read-only) once, or every --watch seconds
/// until a signal. Exit code of the last look (see amp-node help inspect).
int run_inspect(const config::role_config& cfg, const apps::options& o) {
  if (cfg.region.layout != config::region_layout::hyperamp) {
    std::cerr << "amp-node inspect: " << cfg.source << ": region.layout is \""
              << config::to_string(cfg.region.layout)
              << "\"; inspect reads hyperamp's own layout only\n";
    return 2;
  }
  auto ro = apps::region_options(cfg);
  ro.read_only = true;
  ro.create = shm::create_mode::attach;
  ro.attach_timeout = std::chrono::milliseconds(0);
  ro.channel.clear(); // shown, not enforced: the point is to look
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  signal_watch signals{[&](int) {
    std::lock_guard<std::mutex> g{m};
    stop = true;
    cv.notify_all();
  }};
  int rc = 0;
  for (;;) {
    auto r = shm::region::open(ro);
    if (!r) {
      std::cerr << "amp-node inspect: " << r.message << "\n";
      rc = 1;
    } else {
      auto v = shm::inspect(*r.value);
      shm::sample_heartbeats(*r.value, v, std::chrono::milliseconds(200));
      rc = v.lists.consistent ? 0 : 1;
      if (o.json)
        std::cout << apps::render_json(v, cfg.channel).dump() << std::endl;
      else
        std::cout << apps::render_text(v, cfg.channel) << std::flush;
    }
    if (!o.watch)
      return rc;
    std::unique_lock<std::mutex> g{m};
    if (cv.wait_for(g, std::chrono::seconds(*o.watch), [&] { return stop; }))
      return rc;
    if (!o.json)
      std::cout << "\n";
  }
}

} // namespace

int main(int argc, char** argv) {
  apps::options o;
  try {
    o = apps::parse(std::vector<std::string>(argv, argv + argc));
  } catch (const apps::cli_error& e) {
    std::cerr << "amp-node: " << e.what() << "\n";
    return 2;
  }
  if (o.cmd == command::help) {
    std::cout << apps::help(o.help_topic);
    return 0;
  }
  if (o.cmd == command::call && !o.remote.empty())
    return remote_main(o);
  config::role_config cfg;
  try {
    // A role file, or hvisor-tool's shm_config.json (whose side is the
    // command's: it does not say).
    std::optional<config::role_kind> side;
    if (o.cmd == command::serve)
      side = config::role_kind::service;
    else if (o.cmd == command::call)
      side = config::role_kind::client;
    cfg = config::load_config(o.role_file, side);
    if (o.workers)
      cfg.service.workers = *o.workers;
    apps::check_role(cfg, o);
  } catch (const std::exception& e) {
    std::cerr << "amp-node: " << e.what() << "\n";
    return 2;
  }
  const auto tls = apps::gateway_tls(cfg);
  if (o.cmd == command::gateway) {
    if (tls.enabled()) {
      const auto why = apps::tls_problem(
          {tls.certificate, tls.key, tls.ca,
           cfg.source + ": gateway.tls_certificate",
           cfg.source + ": gateway.tls_key", cfg.source + ": gateway.tls_ca"});
      if (!why.empty()) {
        std::cerr << "amp-node: " << why << "\n";
        return 2;
      }
    }
    // A socket per connection: the soft limit (often 1024) would stop
    // accepting long before max_connections sessions.
    if (const auto why = apps::raise_file_limit(); !why.empty())
      std::cerr << "amp-node: gateway: cannot raise the open-file limit: "
                << why << "\n";
  }
  block_signals(); // before CAF starts threads: they inherit the mask
  if (o.cmd == command::inspect)
    return run_inspect(cfg, o);
  int rc = 0;
  {
    auto caf_cfg = apps::caf_config(cfg);
    if (o.cmd == command::gateway)
      actors::configure_network(*caf_cfg, tls);
    caf::actor_system sys{*caf_cfg};
    if (cfg.role == config::role_kind::service)
      rc = run_service(sys, cfg);
    else if (o.cmd == command::gateway)
      rc = run_gateway(sys, cfg, o);
    else if (o.cmd == command::call)
      rc = run_call(sys, cfg, o);
    else
      rc = run_client_lines(sys, cfg);
    sys.await_all_actors_done();
  }
  return rc;
}

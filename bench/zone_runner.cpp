// The full actor path (zone_runner.hpp). Everything amp-bench calls from
// actors/ is in the first section; the rest uses CAF only.
#include "bench/zone_runner.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/client_actor.hpp"
#include "actors/zone.hpp"
#include "bench/common/memory.hpp"
#include "bench/common/proc.hpp"
#include "services/registry.hpp"

namespace hyperamp::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using handle = caf::response_handle<caf::blocking_actor, caf::message, true>;

// -- actors/: everything amp-bench uses of it --------------------------------

} // namespace

bool wait_for_service(const shm::region_options& ro,
                      std::chrono::milliseconds timeout, std::string* error) {
  auto err = actors::wait_for_service(ro, timeout);
  if (err)
    *error = actors::describe(err);
  return !err;
}

namespace {

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

shm::bell_settings bell_of(const path_config& p) {
  shm::bell_settings b;
  b.kind = shm::bell_kind::futex;
  b.spin = p.polling ? std::chrono::nanoseconds(std::chrono::seconds(1))
                     : std::chrono::nanoseconds(p.spin);
  return b;
}

actors::bridge_shell shell_of(const path_config& p) {
  return p.threaded ? actors::bridge_shell::threaded
                    : actors::bridge_shell::scheduled;
}

/// The service zone's bridge; an invalid actor and *error if it failed.
caf::actor spawn_service(caf::actor_system& sys, const path_config& p,
                         const shm::region_options& ro, std::string* error) {
  actors::service_settings s;
  s.workers = p.workers;
  s.worker_capacity = p.worker_capacity;
  s.batch = p.batch;
  s.inline_trivial = p.inline_trivial;
  s.bell = bell_of(p);
  s.shell = shell_of(p);
  auto bridge = actors::spawn_service_zone(sys, ro, s, services::registry());
  if (bridge)
    return *bridge;
  *error = actors::describe(bridge.error());
  return caf::actor{};
}

/// The client zone's bridge once the service is there; an invalid actor
/// and *error if it failed.
caf::actor spawn_client(caf::actor_system& sys, const path_config& p,
                        const shm::region_options& ro, std::string* error) {
  if (!wait_for_service(ro, std::chrono::seconds(10), error))
    return caf::actor{};
  actors::client_settings cs;
  cs.bell = bell_of(p);
  cs.shell = shell_of(p);
  cs.pending_limit = 1u << 20;
  cs.request_timeout = std::chrono::seconds(30);
  auto bridge = actors::spawn_client_zone(sys, ro, cs);
  if (bridge)
    return *bridge;
  *error = actors::describe(bridge.error());
  return caf::actor{};
}

caf::actor spawn_client_actor(caf::actor_system& sys, const caf::actor& bridge,
                              std::uint32_t in_flight) {
  return actors::spawn_client_actor(sys, bridge, in_flight);
}

/// Asks client actor `a` to run `n` requests of `data` for `service_id`.
handle send_load(caf::scoped_actor& self, const caf::actor& a, std::size_t n,
                 std::uint32_t service_id,
                 const std::vector<std::uint8_t>& data, std::size_t batch) {
  return self->request(a, caf::infinite, actors::run_atom::value,
                       actors::load_spec{service_id, data, n, batch});
}

/// Waits for the answer to a load and counts it into `r`; a response must
/// have `size` bytes.
void collect(handle& h, std::size_t size, run_result& r) {
  h.receive(
      [&](actors::outcomes& got) {
        for (auto& o : got) {
          if (!o.ok || o.data.size() != size) {
            ++r.failed;
            if (r.error.empty())
              r.error = o.ok ? "response of " + std::to_string(o.data.size()) +
                                   " bytes"
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

} // namespace

// -- the zones ---------------------------------------------------------------

namespace {

/// The service zone in the child: its own actor_system until "stop".
int service_child(const path_config& p, const shm::region_options& ro,
                  int ready, int stop) {
  auto cfg = caf_config(p);
  caf::actor_system sys{*cfg};
  std::string err;
  auto bridge = spawn_service(sys, p, ro, &err);
  if (!bridge) {
    report_error(ready, err);
    return 1;
  }
  report_ready(ready);
  wait_stop(stop);
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  bridge = nullptr;
  sys.await_all_actors_done();
  return 0;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

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
      collect(h, p_.payload, r);
      if (more && enough(b, r.count + r.failed, seconds_since(t0)))
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
        collect(out_.front().second, p_.payload, ignored);
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
    out_.emplace_back(a, send_load(self_, clients_[a], n, p_.service_id, data_,
                                   p_.call_batch));
  }

  caf::scoped_actor& self_;
  std::vector<caf::actor>& clients_;
  const path_config& p_;
  std::vector<std::uint8_t> data_;
  std::size_t chunk_ = 256;
  std::deque<std::pair<std::size_t, handle>> out_;
};

run_result client_zone(const path_config& p, const shm::region_options& ro,
                       const budget& b) {
  auto cfg = caf_config(p);
  caf::actor_system sys{*cfg};
  std::string err;
  auto bridge = spawn_client(sys, p, ro, &err);
  if (!bridge)
    return failure(err);
  std::vector<caf::actor> clients;
  for (std::uint32_t i = 0; i < p.actors; ++i)
    clients.push_back(spawn_client_actor(sys, bridge, p.in_flight));
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

} // namespace

run_result actor_path(const path_config& p, const budget& b) {
  region_file file{fresh_region_path()};
  const auto ro =
      region_options(file.path(), p.entries, p.max_clients, p.payload_size,
                     shm::create_mode::auto_, std::chrono::seconds(10));
  child service;
  std::string err;
  if (!service.start(
          [&](int ready, int stop) {
            return service_child(p, ro, ready, stop);
          },
          &err))
    return failure(err);
  run_result r =
      service.await_ready(15000, &err) ? client_zone(p, ro, b) : failure(err);
  const int rc = service.stop(10000);
  if (rc != 0 && r.ok)
    r = failure("the service process exited with " + std::to_string(rc));
  return r;
}

} // namespace hyperamp::bench

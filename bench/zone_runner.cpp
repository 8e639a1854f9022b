// The full actor path (zone_runner.hpp). Everything amp-bench calls from
// actors/ is in the first section; the rest uses CAF only.
#include "bench/zone_runner.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/client_actor.hpp"
#include "actors/gateway.hpp"
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

shm::bell_settings bell_of(const path_config& p, const std::string& fifo) {
  shm::bell_settings b;
  b.kind = p.v1 ? shm::bell_kind::fifo : shm::bell_kind::futex;
  b.fifo_path = fifo;
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
                         const shm::region_options& ro, const std::string& fifo,
                         std::string* error) {
  actors::service_settings s;
  s.workers = p.workers;
  s.worker_capacity = p.worker_capacity;
  s.batch = p.batch;
  s.inline_trivial = p.inline_trivial;
  s.bell = bell_of(p, fifo);
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
                        const shm::region_options& ro, const std::string& fifo,
                        std::string* error) {
  if (!wait_for_service(ro, std::chrono::seconds(10), error))
    return caf::actor{};
  actors::client_settings cs;
  cs.bell = bell_of(p, fifo);
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

/// The client zone's gateway on 127.0.0.1:port; an invalid keeper and
/// *error if it failed. Its credit covers every client actor's budget.
actors::gateway start_gateway(caf::actor_system& sys, const caf::actor& bridge,
                              const path_config& p, std::uint16_t port,
                              std::string* error) {
  actors::gateway_settings s;
  s.port = port;
  s.bind = "127.0.0.1";
  s.max_in_flight = std::max<std::uint32_t>(p.actors * p.in_flight, 1);
  s.deadline = std::chrono::seconds(30);
  s.max_message = std::max<std::uint32_t>(p.payload, 1);
  auto g = actors::start_gateway(sys, bridge, s);
  if (g)
    return *g;
  *error = actors::describe(g.error());
  return {};
}

/// A link to the gateway at 127.0.0.1:port; invalid and *error if not.
caf::actor connect_gateway(caf::actor_system& sys, std::uint16_t port,
                           std::string* error) {
  auto link = actors::connect_remote(sys, "127.0.0.1", port);
  if (link)
    return *link;
  *error = actors::describe(link.error());
  return caf::actor{};
}

/// CAF's config of a zone or caller that talks over the network.
void configure_network(caf::actor_system_config& cfg) {
  actors::configure_network(cfg);
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
                  const std::string& fifo, int ready, int stop) {
  auto cfg = caf_config(p);
  caf::actor_system sys{*cfg};
  std::string err;
  auto bridge = spawn_service(sys, p, ro, fifo, &err);
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

/// Drives p's client actors on `target` (a bridge or a link), then stops
/// them and `target`.
run_result drive(caf::actor_system& sys, caf::actor target,
                 const path_config& p, const budget& b) {
  std::vector<caf::actor> clients;
  for (std::uint32_t i = 0; i < p.actors; ++i)
    clients.push_back(spawn_client_actor(sys, target, p.in_flight));
  run_result r;
  {
    caf::scoped_actor self{sys};
    driver d{self, clients, p};
    r = d.run(b);
  }
  for (auto& c : clients)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  return r;
}

run_result client_zone(const path_config& p, const shm::region_options& ro,
                       const std::string& fifo, const budget& b) {
  auto cfg = caf_config(p);
  caf::actor_system sys{*cfg};
  std::string err;
  auto bridge = spawn_client(sys, p, ro, fifo, &err);
  if (!bridge)
    return failure(err);
  auto r = drive(sys, std::move(bridge), p, b);
  sys.await_all_actors_done();
  return r;
}

// -- through a gateway
// ---------------------------------------------------------

/// A free TCP port on loopback: bound, read and closed (the gateway binds it
/// again with SO_REUSEADDR); 0 if none.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

/// The client zone and its gateway in a child: its own actor_system until
/// "stop".
int gateway_child(const path_config& p, const shm::region_options& ro,
                  std::uint16_t port, int ready, int stop) {
  auto cfg = caf_config(p);
  configure_network(*cfg);
  caf::actor_system sys{*cfg};
  std::string err;
  auto bridge = spawn_client(sys, p, ro, "", &err);
  if (!bridge) {
    report_error(ready, err);
    return 1;
  }
  auto gw = start_gateway(sys, bridge, p, port, &err);
  if (!gw.keeper) {
    report_error(ready, err);
    caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
    return 1;
  }
  report_ready(ready);
  wait_stop(stop);
  caf::anon_send_exit(gw.keeper, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  gw.keeper = nullptr;
  bridge = nullptr;
  sys.await_all_actors_done();
  return 0;
}

run_result remote_caller(const path_config& p, std::uint16_t port,
                         const budget& b) {
  auto cfg = caf_config(p);
  configure_network(*cfg);
  caf::actor_system sys{*cfg};
  std::string err;
  auto link = connect_gateway(sys, port, &err);
  if (!link)
    return failure(err);
  auto r = drive(sys, std::move(link), p, b);
  sys.await_all_actors_done();
  return r;
}

// -- a bare CAF remote echo
// ----------------------------------------------------

using bytes = std::vector<std::uint8_t>;
using ping_atom = caf::atom_constant<caf::atom("ping_n")>;

caf::behavior echo_actor(caf::event_based_actor*) {
  return {[](bytes& b) { return std::move(b); }};
}

/// Sends `n` requests to the echo, `window` at once; answers with each
/// one's latency (ns), in completion order, and the count of wrong
/// answers, or an error.
struct pinger_state {
  caf::actor echo;
  bytes data;
  std::uint64_t n = 0, sent = 0;
  std::vector<std::int64_t> lat;
  std::size_t bad = 0;
  caf::response_promise rp;
  static inline const char* name = "pinger";
};

using pinger_ptr = caf::stateful_actor<pinger_state>*;

void ping(pinger_ptr self) {
  auto& st = self->state;
  ++st.sent;
  const auto t0 = clock_type::now();
  self->request(st.echo, std::chrono::seconds(30), st.data)
      .then(
          [self, t0](bytes& back) {
            auto& s = self->state;
            s.lat.push_back(
                std::chrono::duration_cast<std::chrono::nanoseconds>(
                    clock_type::now() - t0)
                    .count());
            s.bad += back.size() != s.data.size();
            if (s.sent < s.n)
              ping(self);
            if (s.lat.size() == s.n)
              s.rp.deliver(std::move(s.lat), s.bad);
          },
          [self](caf::error& e) {
            self->state.rp.deliver(std::move(e));
            self->quit();
          });
}

caf::behavior pinger(pinger_ptr self, caf::actor echo, std::uint32_t payload) {
  self->state.echo = std::move(echo);
  self->state.data = bytes(payload, 0x5a);
  return {
      [self](ping_atom, std::uint64_t n, std::uint32_t window) {
        auto& st = self->state;
        st.rp = self->make_response_promise();
        st.n = n;
        st.sent = 0;
        st.bad = 0;
        st.lat.clear();
        st.lat.reserve(n);
        for (std::uint64_t k = 0; k < std::min<std::uint64_t>(window, n); ++k)
          ping(self);
      },
  };
}

int echo_child(const path_config& p, std::uint16_t port, int ready, int stop) {
  auto cfg = caf_config(p);
  configure_network(*cfg); // the middleman; bytes is not built into CAF
  caf::actor_system sys{*cfg};
  auto echo = sys.spawn(echo_actor);
  auto got = caf::io::publish(echo, port, "127.0.0.1", true);
  if (!got) {
    report_error(ready, sys.render(got.error()));
    caf::anon_send_exit(echo, caf::exit_reason::kill);
    return 1;
  }
  report_ready(ready);
  wait_stop(stop);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  echo = nullptr;
  sys.await_all_actors_done();
  return 0;
}

run_result echo_caller(const path_config& p, std::uint16_t port,
                       const budget& b) {
  auto cfg = caf_config(p);
  configure_network(*cfg);
  caf::actor_system sys{*cfg};
  auto echo = sys.middleman().remote_actor("127.0.0.1", port);
  if (!echo)
    return failure("remote_actor: " + sys.render(echo.error()));
  auto pg = sys.spawn(pinger, *echo, p.payload);
  const std::uint32_t window = std::max<std::uint32_t>(p.in_flight, 1);
  run_result r;
  {
    caf::scoped_actor self{sys};
    // n requests; their figures go into `into` (dropped when null).
    auto batch = [&](std::uint64_t n, run_result* into) {
      bool ok = true;
      self->request(pg, caf::infinite, ping_atom::value, n, window)
          .receive(
              [&](std::vector<std::int64_t>& lat, std::size_t bad) {
                if (into == nullptr)
                  return;
                into->failed += bad;
                into->count += lat.size() - bad;
                into->bytes += (lat.size() - bad) * p.payload;
                for (auto ns : lat)
                  into->lat_us.push_back(static_cast<double>(ns) / 1e3);
              },
              [&](caf::error& e) {
                ok = false;
                r = failure(sys.render(e));
              });
      return ok;
    };
    const auto w0 = clock_type::now();
    std::uint64_t warm = 0;
    while (warm < b.warmup && seconds_since(w0) < b.seconds / 4) {
      const std::uint64_t n = std::max<std::uint64_t>(window, 64);
      if (!batch(n, nullptr))
        break;
      warm += n;
    }
    if (r.ok) {
      const std::uint64_t chunk =
          window == 1 ? 200 : std::max<std::uint64_t>(4096, 4 * window);
      const auto t0 = clock_type::now();
      while (!enough(b, r.count + r.failed, seconds_since(t0)))
        if (!batch(chunk, &r))
          break;
      r.seconds = seconds_since(t0);
    }
  }
  caf::anon_send_exit(pg, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  return r;
}

} // namespace

run_result actor_path(const path_config& p, const budget& b) {
  region_file file{fresh_region_path()};
  // v1: `file` stands for the physical window (hvisor-tool's default
  // addresses, from the lowest on), `bell` is the FIFO doorbell.
  region_file bell{file.path() + ".bell"};
  auto ro =
      region_options(file.path(), p.entries, p.max_clients, p.payload_size,
                     shm::create_mode::auto_, std::chrono::seconds(10));
  ro.layout = p.v1 ? shm::region_layout::hvisor_v1 : p.layout;
  child service;
  std::string err;
  if (!service.start(
          [&](int ready, int stop) {
            return service_child(p, ro, bell.path(), ready, stop);
          },
          &err))
    return failure(err);
  run_result r = service.await_ready(15000, &err)
                     ? client_zone(p, ro, bell.path(), b)
                     : failure(err);
  const int rc = service.stop(10000);
  if (rc != 0 && r.ok)
    r = failure("the service process exited with " + std::to_string(rc));
  return r;
}

run_result remote_path(const path_config& p, const budget& b) {
  region_file file{fresh_region_path()};
  const auto ro =
      region_options(file.path(), p.entries, p.max_clients, p.payload_size,
                     shm::create_mode::auto_, std::chrono::seconds(10));
  const std::uint16_t port = free_port();
  if (port == 0)
    return failure("no free TCP port on loopback");
  child service, gateway;
  std::string err;
  if (!service.start(
          [&](int ready, int stop) {
            return service_child(p, ro, "", ready, stop);
          },
          &err) ||
      !service.await_ready(15000, &err))
    return failure(err);
  if (!gateway.start(
          [&](int ready, int stop) {
            return gateway_child(p, ro, port, ready, stop);
          },
          &err) ||
      !gateway.await_ready(15000, &err))
    return failure(err);
  run_result r = remote_caller(p, port, b);
  const int grc = gateway.stop(10000);
  const int src = service.stop(10000);
  if (grc != 0 && r.ok)
    r = failure("the gateway process exited with " + std::to_string(grc));
  if (src != 0 && r.ok)
    r = failure("the service process exited with " + std::to_string(src));
  return r;
}

run_result caf_echo_path(const path_config& p, const budget& b) {
  const std::uint16_t port = free_port();
  if (port == 0)
    return failure("no free TCP port on loopback");
  child echo;
  std::string err;
  if (!echo.start(
          [&](int ready, int stop) { return echo_child(p, port, ready, stop); },
          &err) ||
      !echo.await_ready(15000, &err))
    return failure(err);
  run_result r = echo_caller(p, port, b);
  const int rc = echo.stop(10000);
  if (rc != 0 && r.ok)
    r = failure("the echo process exited with " + std::to_string(rc));
  return r;
}

} // namespace hyperamp::bench

// The bridge shells on real threads: both zones in one process (one actor
// system, CAF's threaded scheduler), each zone on a mapping of its own.
// Unlike the protocol suites these run the bridges' threads for real: a
// lost mailbox message or a lost ring shows as a call that times out. The
// zones' tick (the safety net that would pick up a lost wake-up) is 30 s,
// the calls' deadlines 3 s: far beyond a round trip, far below the tick.
// A thread that misses its exit shows as a hang of await_all_actors_done
// (the suite's timeout). Nothing sleeps: every step waits for an answer.
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "actors/client_actor.hpp"
#include "actors/client_bridge.hpp"
#include "actors/service_bridge.hpp"
#include "actors/zone.hpp"
#include "services/registry.hpp"
#include "shm/region.hpp"

namespace hyperamp::actors {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t k_echo = 66;
/// Longer than any test here: no tick rescues a lost wake-up.
constexpr auto k_tick = 30s;
/// A call's deadline: a round trip takes microseconds to milliseconds.
constexpr auto k_deadline = 3s;

std::string unique_path() {
  static std::atomic<unsigned> counter{0};
  return "/dev/shm/hyperamp-shelltest-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

struct zone_setup {
  shm::bell_settings bell;
  bridge_shell shell = bridge_shell::automatic;
  bool inline_trivial = false;
};

caf::actor_system_config& threaded_config(caf::actor_system_config& cfg) {
  cfg.set("scheduler.max-threads", std::size_t{2});
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  register_errors(cfg);
  return cfg;
}

template <class Bridge>
bridge_shell shell_of(const caf::actor& a) {
  auto* p = dynamic_cast<Bridge*>(caf::actor_cast<caf::abstract_actor*>(a));
  REQUIRE(p != nullptr);
  return p->shell();
}

/// A service zone and a client zone on one region, in one actor system.
struct live_zones {
  caf::actor_system_config cfg;
  caf::actor_system sys{threaded_config(cfg)};
  std::string path = unique_path();
  shm::region_options region;
  caf::actor service;
  caf::actor client;
  std::vector<caf::actor> client_actors;

  explicit live_zones(const zone_setup& z) {
    region.path = path;
    region.entries = 64;
    region.max_clients = 4;
    region.payload_size = 4 * 65536;
    region.create = shm::create_mode::auto_;
    service_settings ss;
    ss.workers = 2;
    ss.inline_trivial = z.inline_trivial;
    ss.bell = z.bell;
    ss.shell = z.shell;
    ss.heartbeat = k_tick;
    ss.peer_dead = 4 * k_tick;
    auto s = spawn_service_zone(sys, region, ss, services::registry());
    REQUIRE_MESSAGE(s, describe(s.error()));
    service = *s;
    client_settings cs;
    cs.bell = z.bell;
    cs.shell = z.shell;
    cs.heartbeat = k_tick;
    cs.peer_dead = 4 * k_tick;
    cs.wait_for_service = 10s;
    auto c = spawn_client_zone(sys, region, cs);
    REQUIRE_MESSAGE(c, describe(c.error()));
    client = *c;
  }

  ~live_zones() {
    stop();
    ::unlink(path.c_str());
  }

  /// Stops every actor; returns once all terminated (or hangs the test).
  void stop() {
    for (auto& a : client_actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto* a : {&client, &service})
      if (*a)
        caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
    client_actors.clear();
    client = nullptr;
    service = nullptr;
    sys.await_all_actors_done();
  }
};

bytes payload_of(std::size_t thread, std::size_t i) {
  bytes b(16 + (i % 48));
  for (std::size_t k = 0; k < b.size(); ++k)
    b[k] = static_cast<std::uint8_t>(thread * 31 + i + k);
  return b;
}

/// `threads` threads, each a scoped actor making `n` calls straight to the
/// client bridge; returns the calls answered with their own payload.
std::size_t concurrent_calls(live_zones& z, std::size_t threads,
                             std::size_t n) {
  std::atomic<std::size_t> good{0};
  std::vector<std::thread> ts;
  for (std::size_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      caf::scoped_actor self{z.sys};
      for (std::size_t i = 0; i < n; ++i) {
        const auto data = payload_of(t, i);
        auto r = call(self, z.client, k_echo, data, k_deadline);
        if (r && *r == data)
          good.fetch_add(1);
      }
    });
  for (auto& t : ts)
    t.join();
  return good.load();
}

/// A client actor runs a load of `n` requests; returns the good answers.
std::size_t load_through_client_actor(live_zones& z, std::size_t n,
                                      std::uint32_t in_flight) {
  auto a = spawn_client_actor(z.sys, z.client, in_flight);
  z.client_actors.push_back(a);
  const bytes data(64, 0x5a);
  std::size_t good = 0;
  caf::scoped_actor self{z.sys};
  self->request(a, k_deadline * 4, run_atom::value, load_spec{k_echo, data, n})
      .receive(
          [&](outcomes& got) {
            for (auto& o : got)
              if (o.ok && o.data == data)
                ++good;
          },
          [&](caf::error& err) { FAIL("load failed: " << describe(err)); });
  return good;
}

shm::bell_settings futex_bell(std::chrono::nanoseconds spin) {
  shm::bell_settings b;
  b.kind = shm::bell_kind::futex;
  b.spin = spin;
  return b;
}

} // namespace

TEST_CASE("threaded shells, both zones asleep between requests: every call "
          "of concurrent requesters and a pipelined load is answered") {
  // Spin 0: every ring and every message from another thread must wake a
  // thread that sleeps in futex; the pool's answers (workers, no inline)
  // come from CAF's workers, i.e. from other threads too.
  live_zones z{{futex_bell(0ns), bridge_shell::threaded, false}};
  CHECK(shell_of<client_bridge>(z.client) == bridge_shell::threaded);
  CHECK(shell_of<service_bridge>(z.service) == bridge_shell::threaded);
  CHECK(concurrent_calls(z, 4, 150) == 600);
  CHECK(load_through_client_actor(z, 600, 8) == 600);
  // A second load: the client actor is run by the bridge's thread now.
  CHECK(load_through_client_actor(z, 300, 1) == 300);
}

TEST_CASE("threaded shells with polling doorbells: naps end for local mail") {
  shm::bell_settings b;
  b.kind = shm::bell_kind::polling;
  b.spin = 0ns; // straight to the naps (1 us doubling up to 1 ms)
  live_zones z{{b, bridge_shell::automatic, true}};
  CHECK(shell_of<client_bridge>(z.client) == bridge_shell::threaded);
  CHECK(shell_of<service_bridge>(z.service) == bridge_shell::threaded);
  CHECK(concurrent_calls(z, 2, 100) == 200);
  CHECK(load_through_client_actor(z, 200, 4) == 200);
}

TEST_CASE("the scheduled shell, forced, runs the same bridges") {
  live_zones z{{futex_bell(50us), bridge_shell::scheduled, true}};
  CHECK(shell_of<client_bridge>(z.client) == bridge_shell::scheduled);
  CHECK(shell_of<service_bridge>(z.service) == bridge_shell::scheduled);
  CHECK(concurrent_calls(z, 2, 100) == 200);
  CHECK(load_through_client_actor(z, 200, 4) == 200);
}

TEST_CASE("a threaded zone stops on an exit message: its thread ends and "
          "the service slot is left") {
  live_zones z{{futex_bell(0ns), bridge_shell::threaded, true}};
  CHECK(concurrent_calls(z, 1, 20) == 20);
  const auto t0 = std::chrono::steady_clock::now();
  z.stop(); // hangs here if a bridge thread missed its exit
  // The exit message woke the sleeping threads; no tick was needed.
  CHECK(std::chrono::steady_clock::now() - t0 < k_tick / 3);
  CHECK(z.sys.registry().running() == 0);
  auto err = wait_for_service(z.region, 50ms);
  CHECK(err); // nobody holds the service slot any more
}

TEST_CASE("client actors are recognised as guests, bridges are not") {
  live_zones z{{futex_bell(0ns), bridge_shell::threaded, true}};
  auto a = spawn_client_actor(z.sys, z.client, 1);
  z.client_actors.push_back(a);
  auto as_resumable = [](const caf::actor& h) {
    return dynamic_cast<caf::resumable*>(
        caf::actor_cast<caf::abstract_actor*>(h));
  };
  CHECK(is_client_actor(as_resumable(a)));
  CHECK_FALSE(is_client_actor(as_resumable(z.client)));
  CHECK_FALSE(is_client_actor(as_resumable(z.service)));
}

} // namespace hyperamp::actors

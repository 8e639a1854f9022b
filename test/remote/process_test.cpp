// The C++ API against real processes: a service zone and `amp-node gateway`
// (test/integration/harness.hpp), and this process's actor system calling
// through connect_remote. The client zone with the gateway is killed under
// load: the requests in flight fail `disconnected` within their deadline,
// and the link reconnects once a gateway is back on the port.
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <string>

#include "actors/client_actor.hpp"
#include "actors/zone.hpp"
#include "harness.hpp"
#include "remote_harness.hpp"
#include "vocab/remote.hpp"

using namespace hyperamp::actors;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

bytes to_bytes(const std::string& s) {
  return bytes(s.begin(), s.end());
}

} // namespace

TEST_CASE("kill -9 of the client zone under load: requests fail "
          "disconnected within the deadline, and the link reconnects after "
          "a restart") {
  it::role_params p;
  p.request_ms = 5000;
  p.heartbeat_ms = 10;
  p.peer_dead_ms = 300;
  it::zone_env env{p};
  auto svc = env.start_service();
  auto gw = it::start_gateway(it::write_gateway_toml(env, {}));
  const auto port = gw.port;

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", std::size_t{2});
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  configure_network(cfg);
  caf::actor_system sys{cfg};
  remote_options o;
  o.retry = 10ms;
  o.retry_max = 100ms;
  auto link = connect_remote(sys, "127.0.0.1", port, o);
  REQUIRE_MESSAGE(link, describe(link.error()));
  caf::scoped_actor self{sys};
  std::chrono::milliseconds deadline{0};
  self->request(*link, 30s, caf::get_atom::value)
      .receive(
          [&](session_grant& g) {
            deadline = std::chrono::milliseconds{g.deadline_ms} + 1s;
          },
          [&](caf::error& e) { FAIL(describe(e)); });
  CHECK(deadline == 6s);
  auto first = call(self, *link, 1, to_bytes("hello"));
  REQUIRE_MESSAGE(first, describe(first.error()));
  CHECK(*first == to_bytes(it::from_hex("164e2c2f12")));

  // A short load is answered in full: batches flow through the link.
  auto client = spawn_client_actor(sys, *link, 128);
  self->request(client, caf::infinite, run_atom::value,
                load_spec{66, to_bytes("hello"), 512})
      .receive(
          [&](outcomes& all) {
            CHECK(all.size() == 512u);
            CHECK(std::all_of(all.begin(), all.end(),
                              [](const call_outcome& x) { return x.ok; }));
          },
          [&](caf::error& e) { FAIL(describe(e)); });

  // A load that cannot finish before the kill (about 10 s at 100 k/s).
  // Whether any of it is answered before the kill is a race (the service
  // may have completed requests whose answers are still on their way), so
  // only its end is checked.
  constexpr std::size_t load_count = 1000000;
  auto load = self->request(client, caf::infinite, run_atom::value,
                            load_spec{66, to_bytes("hello"), load_count});
  auto view = hyperamp::shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  const auto base = it::completion_rings(*view.value);
  REQUIRE_MESSAGE(it::wait_rings(*view.value, *gw.proc, base, 50),
                  gw.proc->describe());
  gw.proc->signal(SIGKILL);
  REQUIRE(gw.proc->wait(30s));
  CHECK(gw.proc->term_signal() == SIGKILL);

  // Every request of the load ends: answered before the kill, or failed;
  // the ones in flight fail disconnected, each within its deadline (how
  // long the rest of the load takes to fail is a matter of speed, not of
  // the promise: under qemu it is seconds).
  std::map<std::string, std::size_t> errors;
  std::size_t ok = 0;
  std::int64_t slowest_failure_ns = 0; // a request's time until its error
  load.receive(
      [&](outcomes& all) {
        CHECK(all.size() == load_count);
        for (const auto& x : all) {
          if (x.ok) {
            ++ok;
            continue;
          }
          ++errors[describe(x.error)];
          slowest_failure_ns = std::max(slowest_failure_ns, x.latency_ns);
        }
      },
      [&](caf::error& e) { FAIL(describe(e)); });
  CHECK_MESSAGE(std::chrono::nanoseconds{slowest_failure_ns} < deadline,
                "a request failed " << slowest_failure_ns / 1000000
                                    << " ms after it was sent");
  CHECK(ok < load_count);
  CHECK(errors["disconnected"] > 0u);
  for (const auto& [name, n] : errors) {
    INFO("error " << name << " x " << n);
    CHECK((name == "disconnected" || name == "overloaded"));
  }
  // While there is no gateway, calls fail fast.
  auto down = call(self, *link, 66, to_bytes("x"));
  REQUIRE_FALSE(down);
  CHECK(is(down.error(), amp_errc::disconnected));

  // The client zone comes back on the same port (its old slot is reaped by
  // the service meanwhile): the link finds it.
  auto gw2 = it::start_gateway(it::write_gateway_toml(env, {}, "again.toml"),
                               {"--port", std::to_string(port)});
  CHECK(gw2.port == port);
  caf::expected<bytes> back{caf::make_error(amp_errc::disconnected)};
  const auto until = clock_type::now() + 60s;
  while (!back && clock_type::now() < until) {
    back = call(self, *link, 2, to_bytes(it::from_hex("164e2c2f12")), 10s);
    if (!back) {
      CHECK_MESSAGE(is(back.error(), amp_errc::disconnected),
                    describe(back.error()));
      gw2.proc->pump(10ms); // a bounded wait for the reconnect
    }
  }
  REQUIRE_MESSAGE(back, describe(back.error()));
  CHECK(*back == to_bytes("hello"));

  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*link, caf::exit_reason::user_shutdown);
  it::stop_gateway(gw2);
  it::stop_service(*svc);
  view.value.reset();
  env.check_region_clean();
}

// Failures and shutdown with real processes: the service killed (SIGKILL)
// or stopped (SIGTERM) under load and restarted, requests aborted for a
// client that has left, a client killed under load, orderly exits on
// SIGTERM and SIGINT, a second service on a live region, mismatched region
// geometry, a client without a service. Every test that ran a service ends
// with the region checked: every entry free, no slot claimed.
#include <csignal>
#include <doctest/doctest.h>
#include <map>
#include <sched.h>

#include "harness.hpp"
#include "shm/layout.hpp"
#include "shm/lists.hpp"
#include "shm/participant.hpp"
#include "shm/zone_lock.hpp"

using namespace it;
namespace shm = hyperamp::shm;

namespace {

using clock_type = std::chrono::steady_clock;

/// True while requests sit in the region's submitted or in_service list.
/// Read without the queue lock: only a hint that work is in flight.
bool in_flight(shm::region& r) {
  auto& h = r.header();
  return __atomic_load_n(&h.submitted_head, __ATOMIC_ACQUIRE) != shm::k_nil ||
         __atomic_load_n(&h.in_service_head, __ATOMIC_ACQUIRE) != shm::k_nil;
}

/// Completion batches the service has delivered: the sum of the client
/// slots' doorbell counters (the service rings a client after completing).
std::uint64_t rings(shm::region& r) {
  std::uint64_t n = 0;
  for (std::uint32_t s = 1; s <= r.max_clients(); ++s)
    n += r.slot_at(s).bell_seq.load(std::memory_order_acquire);
  return n;
}

/// Polls the region (reading the client's output meanwhile) until the
/// service has delivered `batches` completion batches since `base` and
/// requests are in flight: the service is busy. False if the client exits
/// first or 60 s pass.
bool wait_busy(shm::region& r, child& client, std::uint64_t base,
               std::uint64_t batches) {
  const auto until = clock_type::now() + 60s;
  while (clock_type::now() < until) {
    if (rings(r) >= base + batches && in_flight(r))
      return true;
    if (client.exited())
      return false;
    client.pump(1ms);
  }
  return false;
}

/// Writes `line` to a stdin client and returns the next line it prints
/// ("" if none comes within 60 s).
std::string next_line(child& c, const std::string& line) {
  const std::size_t from = c.out().size();
  c.send(line);
  const auto until = clock_type::now() + 60s;
  while (clock_type::now() < until && !c.exited()) {
    const auto nl = c.out().find('\n', from);
    if (nl != std::string::npos)
      return c.out().substr(from, nl - from);
    c.pump(10ms);
  }
  return "";
}

} // namespace

TEST_CASE("kill -9 of the service under load: the client fails fast and a "
          "restarted service takes over") {
  role_params p;
  p.actors = 4;
  p.request_ms = 3000;
  p.heartbeat_ms = 10;
  p.peer_dead_ms = 300;
  p.attach_ms = 5000;
  zone_env env{p};
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);

  // Far more requests than can finish before the kill lands: at ~200k
  // requests/s unloaded the client needs about a second for them.
  constexpr std::size_t total = 200000;
  auto client =
      child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                  "--requests", std::to_string(total), "--json"});
  // The event: completions flow back and more requests are queued.
  const std::uint64_t base = rings(*view.value);
  REQUIRE_MESSAGE(wait_busy(*view.value, *client, base, 50),
                  client->describe());
  svc->signal(SIGKILL);
  REQUIRE(svc->wait(30s));
  CHECK(svc->term_signal() == SIGKILL);

  // Every request ends: completed before the kill, or peer_down once the
  // heartbeat stops (or timeout). Deadline: request_ms + peer_dead_ms and
  // generous slack for a loaded machine; never a timing assertion.
  auto r = finish_call(*client, ms(p.request_ms + p.peer_dead_ms) + 60s, 1);
  CHECK(r.requests == total);
  CHECK(r.ok > 0u);
  CHECK(r.failed > 0u);
  std::map<std::string, std::size_t> errors;
  std::size_t wrong = 0;
  for (const auto& x : r.results) {
    if (x.ok)
      wrong += x.hex != "164e2c2f12";
    else
      ++errors[x.error];
  }
  CHECK(wrong == 0u);
  for (const auto& kv : errors) {
    INFO("error " << kv.first << " x " << kv.second);
    CHECK((kv.first == "peer_down" || kv.first == "timeout"));
  }
  MESSAGE("before the kill: " << r.ok << " ok; after: " << errors["peer_down"]
                              << " peer_down, " << errors["timeout"]
                              << " timeout");

  // The same role file again: it takes over the dead service's slot (after
  // peer_dead_ms without a beat) and aborts what the dead one held.
  auto svc2 = env.start_service();
  auto after = child::amp({"call", env.client_toml(), "hello", "1", "--threads",
                           "4", "--requests", "100", "--json"});
  auto r2 = finish_call(*after);
  CHECK(r2.ok == 100u);
  for (const auto& x : r2.results)
    CHECK(x.hex == "164e2c2f12");
  stop_service(*svc2);
  view.value.reset();
  // Nothing leaked: whatever the killed service held came back.
  env.check_region_clean();
}

TEST_CASE("SIGTERM of the service under load: it exits 0 and a new "
          "service serves with no entry leaked") {
  role_params p;
  p.actors = 4;
  p.request_ms = 3000;
  p.heartbeat_ms = 10;
  p.peer_dead_ms = 300;
  zone_env env{p};
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);

  constexpr std::size_t total = 200000;
  auto client =
      child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                  "--requests", std::to_string(total), "--json"});
  const std::uint64_t base = rings(*view.value);
  REQUIRE_MESSAGE(wait_busy(*view.value, *client, base, 50),
                  client->describe());
  svc->signal(SIGTERM);
  REQUIRE_MESSAGE(svc->wait(60s), svc->describe());
  CHECK_MESSAGE(svc->exit_code() == 0, svc->describe());

  auto r = finish_call(*client, ms(p.request_ms + p.peer_dead_ms) + 60s, 1);
  CHECK(r.failed > 0u);
  std::map<std::string, std::size_t> errors;
  std::size_t wrong = 0;
  for (const auto& x : r.results) {
    if (x.ok)
      wrong += x.hex != "164e2c2f12";
    else
      ++errors[x.error];
  }
  CHECK(wrong == 0u);
  for (const auto& kv : errors) {
    INFO("error " << kv.first << " x " << kv.second);
    CHECK((kv.first == "peer_down" || kv.first == "timeout"));
  }

  auto svc2 = env.start_service();
  auto after = finish_call(
      *child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                   "--requests", "100", "--json"}));
  CHECK(after.ok == 100u);
  stop_service(*svc2);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("kill -9 of the service: requests aborted for a client that has "
          "left do not leak entries") {
  role_params p;
  p.actors = 4;
  p.request_ms = 3000;
  p.heartbeat_ms = 10;
  p.peer_dead_ms = 300;
  zone_env env{p};
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  auto& reg = *view.value;

  // An idle stdin client holds client slot 1 throughout: the load client
  // gets slot 2, and nobody claims slot 2 after it has left.
  auto idle = child::amp({env.client_toml()}, {}, child::stdin_mode::open);
  REQUIRE_MESSAGE(idle->wait_for_output("client zone 0 on ", 60s),
                  idle->describe());
  auto load = child::amp({"call", env.client_toml(), "hello", "1", "--threads",
                          "4", "--requests", "200000", "--quiet"});
  // Put the service in the state where it dies holding requests, without
  // racing it: freeze it, let the load client's requests pile up in the
  // submitted list, and move them to in_service as the service's own take
  // would (under the queue lock, as the idle client of slot 1, which is
  // alive: nobody evicts it).
  svc->signal(SIGSTOP);
  auto submitted = [&] {
    return __atomic_load_n(&reg.header().submitted_head, __ATOMIC_ACQUIRE) !=
           shm::k_nil;
  };
  const auto until = clock_type::now() + 60s;
  while (!submitted() && !load->exited() && clock_type::now() < until)
    load->pump(1ms);
  REQUIRE_MESSAGE(submitted(), load->describe());
  shm::zone_lock lock{reg, 1, 0};
  REQUIRE(lock.lock() == shm::status::ok);
  shm::lists L{reg};
  std::size_t taken = 0;
  for (std::uint32_t i = 0;
       L.pop_front(L.submitted(), i, shm::list_id::in_service) ==
       shm::status::ok;
       ++taken)
    REQUIRE(L.push_back(L.in_service(), i, shm::list_id::in_service) ==
            shm::status::ok);
  CHECK(taken > 0);
  svc->signal(SIGKILL); // it dies frozen, "holding" them
  lock.unlock();
  const bool reaped = svc->wait(30s);
  REQUIRE(reaped);
  CHECK(svc->term_signal() == SIGKILL);
  REQUIRE_MESSAGE(load->wait(ms(p.request_ms + p.peer_dead_ms) + 60s),
                  load->describe());
  CHECK(load->exit_code() == 1);

  // The restarted service aborts what the dead one held; the load client
  // is gone and nobody will claim its slot: the service frees them.
  auto svc2 = env.start_service();
  // The idle client answers peer_down until it has seen the new service's
  // heartbeat; ask until it answers.
  std::string answer;
  for (int ask = 0; ask < 1000; ++ask) {
    answer = next_line(*idle, "1 hello\n");
    if (answer != "error: peer_down")
      break;
    idle->pump(10ms);
  }
  CHECK_MESSAGE(answer == "hex:164e2c2f12", idle->describe());
  // The event: no free client slot has completions left.
  auto stale = [&] {
    for (std::uint32_t s = 1; s <= reg.max_clients(); ++s)
      if (!shm::is_active(reg.slot_at(s)) &&
          __atomic_load_n(&reg.slot_at(s).completed_head, __ATOMIC_ACQUIRE) !=
              shm::k_nil)
        return true;
    return false;
  };
  const auto swept_by = clock_type::now() + 30s;
  while (stale() && clock_type::now() < swept_by)
    svc2->pump(5ms);
  CHECK_FALSE_MESSAGE(stale(), "completions of a departed client are not "
                               "freed");
  idle->close_stdin();
  REQUIRE_MESSAGE(idle->wait(60s), idle->describe());
  stop_service(*svc2);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("kill -9 of a client under load: the service reaps its slot and "
          "keeps serving") {
  role_params p;
  p.actors = 4;
  p.heartbeat_ms = 10;
  p.peer_dead_ms = 300;
  zone_env env{p};
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  auto& reg = *view.value;

  auto client =
      child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                  "--requests", "200000", "--quiet"});
  const std::uint64_t base = rings(reg);
  REQUIRE_MESSAGE(wait_busy(reg, *client, base, 50), client->describe());
  client->signal(SIGKILL);
  REQUIRE(client->wait(30s));
  CHECK(client->term_signal() == SIGKILL);

  // The event: the service declares the client dead and frees its slot
  // (peer_dead_ms without a beat, then a reap on its next tick).
  auto any_client = [&] {
    for (std::uint32_t s = 1; s <= reg.max_clients(); ++s)
      if (shm::is_active(reg.slot_at(s)))
        return true;
    return false;
  };
  const auto until = clock_type::now() + 60s;
  while (any_client() && clock_type::now() < until)
    svc->pump(5ms);
  REQUIRE_FALSE_MESSAGE(any_client(), "the dead client's slot is still "
                                      "claimed");
  svc->pump(0ms);
  REQUIRE_MESSAGE(!svc->exited(), svc->describe());

  auto after = child::amp({"call", env.client_toml(), "hello", "1", "--threads",
                           "4", "--requests", "100", "--json"});
  auto r = finish_call(*after);
  CHECK(r.ok == 100u);
  for (const auto& x : r.results)
    CHECK(x.hex == "164e2c2f12");
  stop_service(*svc);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("serve exits 0 on SIGTERM and prints its shutdown line") {
  zone_env env;
  auto svc = env.start_service();
  svc->signal(SIGTERM);
  REQUIRE_MESSAGE(svc->wait(60s), svc->describe());
  CHECK_MESSAGE(svc->exit_code() == 0, svc->describe());
  CHECK(svc->out().find("service zone 1: signal 15, shutting down") !=
        std::string::npos);
  env.check_region_clean();
}

TEST_CASE("serve exits 0 on SIGINT and prints its shutdown line") {
  zone_env env;
  auto svc = env.start_service({}, "hyper_amp_service_test");
  svc->signal(SIGINT);
  REQUIRE_MESSAGE(svc->wait(60s), svc->describe());
  CHECK_MESSAGE(svc->exit_code() == 0, svc->describe());
  CHECK(svc->out().find("service zone 1: signal 2, shutting down") !=
        std::string::npos);
  env.check_region_clean();
}

TEST_CASE("amp-node with a service role file alone serves until SIGTERM") {
  zone_env env;
  auto svc = child::amp({env.service_toml()});
  REQUIRE_MESSAGE(svc->wait_for_output(" serving " + env.region_path(), 60s),
                  svc->describe());
  auto r = finish_call(
      *child::amp({"call", env.client_toml(), "hello", "1", "--json"}));
  CHECK(r.results.at(0).hex == "164e2c2f12");
  stop_service(*svc);
  CHECK(svc->out().find("signal 15, shutting down") != std::string::npos);
  env.check_region_clean();
}

TEST_CASE("call stops on SIGINT: exits 1 and still reports every request") {
  zone_env env;
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  constexpr std::size_t total = 200000;
  auto client =
      child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                  "--requests", std::to_string(total), "--json"});
  const std::uint64_t base = rings(*view.value);
  REQUIRE_MESSAGE(wait_busy(*view.value, *client, base, 50),
                  client->describe());
  client->signal(SIGINT);
  auto r = finish_call(*client, 120s, 1);
  CHECK(r.requests == total);
  CHECK(r.failed > 0u);
  std::size_t wrong = 0;
  for (const auto& x : r.results)
    wrong += x.ok ? x.hex != "164e2c2f12" : x.error.empty();
  CHECK(wrong == 0u);
  // The service is not affected.
  auto after = finish_call(
      *child::amp({"call", env.client_toml(), "hello", "1", "--json"}));
  CHECK(after.results.at(0).hex == "164e2c2f12");
  stop_service(*svc);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("a client whose role file describes another region geometry exits "
          "1") {
  zone_env env;
  auto svc = env.start_service();
  std::string text = env.client_text();
  const std::string from = "max_clients = 256";
  text.replace(text.find(from), from.size(), "max_clients = 32");
  const auto f = env.write("other.toml", text);
  auto c = child::amp({"call", f, "hello", "1"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK(c->exit_code() == 1);
  CHECK_MESSAGE(c->err().find("has 1024 entries, 256 client slots") !=
                    std::string::npos,
                c->describe());
  CHECK(c->err().find("make both role files agree") != std::string::npos);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("after an orderly exit a new service takes the region over at "
          "once") {
  role_params p;
  p.peer_dead_ms = 120000; // a takeover from a dead service would hang here
  zone_env env{p};
  auto svc = env.start_service();
  auto r1 = finish_call(
      *child::amp({"call", env.client_toml(), "hello", "1", "--json"}));
  CHECK(r1.results.at(0).hex == "164e2c2f12");
  stop_service(*svc);
  auto svc2 = env.start_service();
  auto r2 = finish_call(
      *child::amp({"call", env.client_toml(), "hello", "2", "--json"}));
  CHECK(r2.results.at(0).hex == to_hex(xor_pad("hello")));
  stop_service(*svc2);
  env.check_region_clean();
}

TEST_CASE("a second service on a region with a live service exits 1") {
  role_params p;
  p.peer_dead_ms = 1000;
  zone_env env{p};
  auto svc = env.start_service();
  auto second = child::amp({"serve", env.service_toml()});
  REQUIRE_MESSAGE(second->wait(60s), second->describe());
  CHECK(second->exit_code() == 1);
  CHECK_MESSAGE(second->err().find("another service zone (zone 1, pid " +
                                   std::to_string(svc->pid()) +
                                   ") is attached and alive") !=
                    std::string::npos,
                second->describe());
  // The first one is unaffected.
  auto r = finish_call(
      *child::amp({"call", env.client_toml(), "hello", "1", "--json"}));
  CHECK(r.results.at(0).hex == "164e2c2f12");
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("a client without a service gives up after attach_ms with exit 1") {
  role_params p;
  p.attach_ms = 300;
  zone_env env{p};
  auto c = child::amp({"call", env.client_toml(), "hello", "1"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK(c->exit_code() == 1);
  CHECK_MESSAGE(c->err().find("no service zone attached to " +
                              env.region_path() + " after 300 ms") !=
                    std::string::npos,
                c->describe());
}

TEST_CASE("a zone whose hvisor doorbell device is missing exits 1 naming it") {
  zone_env env;
  const std::string common = "zone_id = 1\n[region]\npath = \"" +
                             env.region_path() +
                             "\"\n[doorbell]\nbackend = \"hvisor\"\n"
                             "hvisor_device = \"" +
                             env.dir() + "/no-hvisor\"\nhshm_device = \"" +
                             env.dir() + "/no-hshm0\"\n";
  auto svc = child::amp(
      {"serve", env.write("hv-service.toml", "role = \"service\"\n" + common)});
  REQUIRE_MESSAGE(svc->wait(60s), svc->describe());
  CHECK(svc->exit_code() == 1);
  CHECK_MESSAGE(svc->err().find("cannot open " + env.dir() + "/no-hshm0") !=
                    std::string::npos,
                svc->describe());
}

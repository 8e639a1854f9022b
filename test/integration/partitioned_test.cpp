// The partitioned layout end to end: real amp-node processes whose role
// files say region.layout = "partitioned". Every service byte exact, many
// client processes at once, the seed's multithreaded client, a zone of the
// other layout refused with a message naming both, kill -9 of either side.
// Every test ends with the region checked: every ring empty, nothing held,
// no slot claimed.
#include <csignal>
#include <doctest/doctest.h>
#include <map>
#include <vector>

#include "harness.hpp"
#include "shm/participant.hpp"
#include "shm/partitioned_layout.hpp"

using namespace it;
namespace shm = hyperamp::shm;

namespace {

using clock_type = std::chrono::steady_clock;

role_params partitioned(role_params p = {}) {
  p.layout = "partitioned";
  p.entries = 64; // per client slot
  p.max_clients = 32;
  p.payload_size = "8MiB";
  return p;
}

call_result call_one(const zone_env& env, const std::string& data,
                     const std::string& sid, int rc = 0) {
  auto c = child::amp({"call", env.client_toml(), data, sid, "--json"});
  auto r = finish_call(*c, 120s, rc);
  REQUIRE(r.results.size() == 1u);
  return r.results[0];
}

/// Answers the service has published so far, over every client slot.
std::uint64_t answers(shm::region& r) {
  std::uint64_t n = 0;
  for (std::uint32_t s = 1; s <= r.max_clients(); ++s)
    n += shm::ring_of(r, s).resp_tail.load(std::memory_order_acquire);
  return n;
}

/// Waits until the service has published `more` answers since `base` while
/// `client` runs; false if it exits first or 60 s pass.
bool wait_busy(shm::region& r, child& client, std::uint64_t base,
               std::uint64_t more) {
  const auto until = clock_type::now() + 60s;
  while (clock_type::now() < until) {
    if (answers(r) >= base + more)
      return true;
    if (client.exited())
      return false;
    client.pump(1ms);
  }
  return false;
}

} // namespace

TEST_CASE("partitioned end to end: encrypt, decrypt, echo, unknown service") {
  zone_env env{partitioned()};
  auto svc = env.start_service();
  auto enc = call_one(env, "hello", "1");
  CHECK(enc.ok);
  CHECK(enc.hex == "164e2c2f12");
  auto dec = call_one(env, "hex:164e2c2f12", "2");
  CHECK(dec.hex == to_hex("hello"));
  CHECK(call_one(env, "hex:00ff7f80", "66").hex == "00ff7f80");
  auto bad = call_one(env, "hello", "99", 1);
  CHECK(bad.error == "unknown_service");
  CHECK(call_one(env, "", "1", 1).error == "bad_request");
  auto many = child::amp({"call", env.client_toml(), "abc", "66", "--threads",
                          "4", "--requests", "2000", "--json"});
  auto r = finish_call(*many);
  CHECK(r.ok == 2000u);
  for (const auto& x : r.results)
    CHECK(x.hex == to_hex("abc"));
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("partitioned end to end: 16 client processes at once and the "
          "seed's multithreaded client") {
  zone_env env{partitioned()};
  auto svc = env.start_service();
  std::vector<std::unique_ptr<child>> clients;
  for (int i = 0; i < 16; ++i)
    clients.push_back(
        child::amp({"call", env.client_toml(), "hello", i % 2 ? "1" : "66",
                    "--threads", "2", "--requests", "500", "--json"}));
  REQUIRE(child::wait_all(clients, 180s));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    INFO(clients[i]->describe());
    CHECK(clients[i]->exit_code() == 0);
    const auto out = parse_call(clients[i]->out());
    CHECK(out.ok == 500u);
    for (const auto& x : out.results)
      CHECK(x.hex == (i % 2 ? "164e2c2f12" : to_hex("hello")));
  }
  auto mt = child::alias("hyper_amp_test_mt",
                         {env.client_toml(), "hello", "1", "4", "100"});
  REQUIRE_MESSAGE(mt->wait(120s), mt->describe());
  CHECK_MESSAGE(mt->exit_code() == 0, mt->describe());
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("partitioned: a zone of the other layout is refused naming both") {
  zone_env env{partitioned()};
  auto svc = env.start_service();
  std::string text = env.client_text();
  const std::string from = "layout = \"partitioned\"\n";
  text.erase(text.find(from), from.size());
  const auto f = env.write("locked.toml", text);
  auto c = child::amp({"call", f, "hello", "1"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK(c->exit_code() == 1);
  CHECK_MESSAGE(c->err().find("has the partitioned wire layout; this zone is "
                              "configured for region.layout = \"hyperamp\"") !=
                    std::string::npos,
                c->describe());
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("partitioned kill -9 of a client under load: its slot is reclaimed "
          "and the service keeps serving") {
  role_params p = partitioned();
  p.actors = 4;
  p.peer_dead_ms = 300;
  zone_env env{p};
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  auto& reg = *view.value;
  auto client =
      child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                  "--requests", "200000", "--quiet"});
  REQUIRE_MESSAGE(wait_busy(reg, *client, answers(reg), 2000),
                  client->describe());
  client->signal(SIGKILL);
  REQUIRE(client->wait(30s));
  CHECK(client->term_signal() == SIGKILL);
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
  auto after = child::amp({"call", env.client_toml(), "hello", "1", "--threads",
                           "4", "--requests", "100", "--json"});
  auto r = finish_call(*after);
  CHECK(r.ok == 100u);
  stop_service(*svc);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("partitioned kill -9 of the service under load: the client fails "
          "fast and a restarted service takes over") {
  role_params p = partitioned();
  p.actors = 4;
  p.request_ms = 3000;
  p.peer_dead_ms = 300;
  p.attach_ms = 5000;
  zone_env env{p};
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  constexpr std::size_t total = 200000;
  auto client =
      child::amp({"call", env.client_toml(), "hello", "1", "--threads", "4",
                  "--requests", std::to_string(total), "--json"});
  REQUIRE_MESSAGE(wait_busy(*view.value, *client, answers(*view.value), 2000),
                  client->describe());
  svc->signal(SIGKILL);
  REQUIRE(svc->wait(30s));
  auto r = finish_call(*client, ms(p.request_ms + p.peer_dead_ms) + 60s, 1);
  CHECK(r.requests == total);
  CHECK(r.ok > 0u);
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
  auto after = child::amp({"call", env.client_toml(), "hello", "1", "--threads",
                           "4", "--requests", "100", "--json"});
  auto r2 = finish_call(*after);
  CHECK(r2.ok == 100u);
  stop_service(*svc2);
  view.value.reset();
  env.check_region_clean();
}

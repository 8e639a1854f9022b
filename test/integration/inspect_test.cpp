// amp-node inspect against real processes: what it shows of a live region,
// that it sees damage and changes nothing (not a byte), a missing region,
// and --watch until SIGTERM. Also the fairness regression of three client
// processes whose windows together exceed the region's entries.
#include <algorithm>
#include <csignal>
#include <cstring>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"
#include "shm/layout.hpp"

using namespace it;
namespace shm = hyperamp::shm;

namespace {

using clock_type = std::chrono::steady_clock;

/// Runs `amp-node inspect <toml> --json` and returns it, finished.
std::unique_ptr<child> inspect_json(const std::string& toml) {
  auto c = child::amp({"inspect", toml, "--json"});
  REQUIRE_MESSAGE(c->wait(scaled(60s)), c->describe());
  return c;
}

const json& member(const json& j, const std::string& key) {
  const json* m = j.get(key);
  REQUIRE_MESSAGE(m != nullptr, "no member " << key);
  return *m;
}

/// A copy of every byte of the region.
std::vector<std::uint8_t> snapshot(shm::region& r) {
  return {r.base(), r.base() + r.mapped_size()};
}

} // namespace

TEST_CASE("inspect: a live region after calls: every entry free, the "
          "service beating, nothing in flight") {
  zone_env env;
  auto svc = env.start_service();
  auto call = child::amp({"call", env.client_toml(), "hello", "66", "--threads",
                          "2", "--requests", "200", "--json"});
  finish_call(*call);

  auto c = inspect_json(env.client_toml());
  CHECK_MESSAGE(c->exit_code() == 0, c->describe());
  const json j = parse_json(c->out());
  CHECK(member(j, "all_free").b);
  CHECK(member(member(j, "lists"), "consistent").b);
  CHECK(member(member(j, "lists"), "free").n == env.params().entries);
  CHECK(member(j, "entries").n == env.params().entries);
  CHECK(member(j, "channel").s == "default");
  CHECK(member(j, "channel_matches").b);
  CHECK_FALSE(member(member(j, "lock"), "held").b);
  CHECK(member(j, "corrupt_found").n == 0);
  // The service slot: active, this service's pid, beating; the two client
  // processes have left (their slots are free and not listed).
  const auto& slots = member(j, "slots");
  REQUIRE(slots.a.size() == 1);
  CHECK(member(slots.a[0], "role").s == "service");
  CHECK(member(slots.a[0], "active").b);
  CHECK(member(slots.a[0], "pid").n == svc->pid());
  CHECK(member(slots.a[0], "beating").b);

  // The text view says the same for people.
  auto text = child::amp({"inspect", env.service_toml()});
  REQUIRE(text->wait(scaled(60s)));
  CHECK(text->exit_code() == 0);
  CHECK(text->out().find("every entry is free") != std::string::npos);
  CHECK(text->out().find("lists: consistent") != std::string::npos);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("inspect: damage is reported (exit 1) and the region is left "
          "exactly as it was") {
  zone_env env;
  auto svc = env.start_service();
  auto view = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  shm::region& r = *view.value;
  // Frozen, so that nothing but inspect could change a byte meanwhile.
  svc->signal(SIGSTOP);
  const std::uint32_t head = r.header().free_head;
  r.header().free_head = 0xDEAD;
  const auto before = snapshot(r);

  auto c = inspect_json(env.client_toml());
  CHECK_MESSAGE(c->exit_code() == 1, c->describe());
  const json j = parse_json(c->out());
  CHECK_FALSE(member(member(j, "lists"), "consistent").b);
  CHECK_FALSE(member(j, "all_free").b);
  // The service is stopped: its heartbeat does not move.
  CHECK_FALSE(member(member(j, "slots").a.at(0), "beating").b);
  CHECK(snapshot(r) == before);

  r.header().free_head = head;
  svc->signal(SIGCONT);
  auto again = inspect_json(env.client_toml());
  CHECK(again->exit_code() == 0);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("inspect: a missing region is reported, and not created") {
  zone_env env;
  auto c = child::amp({"inspect", env.client_toml()});
  REQUIRE(c->wait(scaled(60s)));
  CHECK(c->exit_code() == 1);
  CHECK(c->err().find("does not exist") != std::string::npos);
  struct stat st {};
  CHECK(::stat(env.region_path().c_str(), &st) != 0);
}

TEST_CASE("inspect --watch looks again until SIGTERM") {
  zone_env env;
  auto svc = env.start_service();
  auto c = child::amp({"inspect", env.client_toml(), "--json", "--watch", "1"});
  // Two looks: two JSON lines.
  const auto until = clock_type::now() + scaled(60s);
  auto lines = [&] {
    return std::count(c->out().begin(), c->out().end(), '\n');
  };
  while (lines() < 2 && !c->exited() && clock_type::now() < until)
    c->pump(100ms);
  REQUIRE_MESSAGE(lines() >= 2, c->describe());
  c->signal(SIGTERM);
  REQUIRE(c->wait(scaled(60s)));
  CHECK_MESSAGE(c->exit_code() == 0, c->describe());
  const auto first = c->out().substr(0, c->out().find('\n'));
  CHECK(member(parse_json(first), "all_free").b);
  stop_service(*svc);
}

TEST_CASE("inspect: another layout than hyperamp's own is refused") {
  zone_env env;
  const auto toml = env.write(
      "part.toml", "role = \"client\"\nzone_id = 0\n[region]\npath = \"" +
                       env.region_path() + "\"\nlayout = \"partitioned\"\n");
  auto c = child::amp({"inspect", toml});
  REQUIRE(c->wait(scaled(60s)));
  CHECK_MESSAGE(c->exit_code() == 2, c->describe());
  CHECK(c->err().find("hyperamp's own layout only") != std::string::npos);
}

TEST_CASE("inspect: bad arguments exit 2") {
  zone_env env;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"inspect"},
           {"inspect", env.client_toml(), "--watch", "0"},
           {"inspect", env.client_toml(), "--watch"},
           {"inspect", env.client_toml(), "--quiet"},
           {"inspect", env.client_toml(), "extra"}}) {
    auto c = child::amp(args);
    REQUIRE(c->wait(scaled(60s)));
    CHECK_MESSAGE(c->exit_code() == 2, c->describe());
  }
}

TEST_CASE("three client processes whose windows exceed the region's "
          "entries all finish (3 x 8 in flight, 16 entries)") {
  role_params p;
  p.entries = 16;
  p.batch = 16;
  p.max_in_flight = 8;
  p.request_ms = scaled_ms(20000);
  zone_env env{p};
  auto svc = env.start_service();
  std::vector<std::unique_ptr<child>> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(child::amp({"call", env.client_toml(), "hello", "1",
                                  "--requests", "3000", "--json"}));
  REQUIRE(child::wait_all(clients, scaled(120s)));
  for (auto& c : clients) {
    INFO(c->describe());
    auto r = parse_call(c->out());
    CHECK(c->exit_code() == 0);
    CHECK(r.ok == 3000u);
    CHECK(r.failed == 0u);
  }
  stop_service(*svc);
  env.check_region_clean();
}

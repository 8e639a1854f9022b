// The seed's test plan (its section 测试验证, "test and verification"; the
// seed is defined in docs/architecture.md), run with the
// hvisor-tool command names against real processes: concurrent requests
// from one client, a multi-worker service with concurrent client
// processes, 100 concurrent requests, and a mixed load of 150 clients.
#include <csignal>
#include <doctest/doctest.h>
#include <map>

#include "harness.hpp"

using namespace it;

namespace {

/// Checks one `call --json` output: `n` results, each ok with `hex`.
void check_all(const call_output& r, std::size_t n, const std::string& hex) {
  CHECK(r.requests == n);
  CHECK(r.ok == n);
  CHECK(r.failed == 0u);
  for (std::size_t i = 0; i < r.results.size(); ++i) {
    INFO("result " << i << " error " << r.results[i].error);
    CHECK(r.results[i].ok);
    CHECK(r.results[i].hex == hex);
  }
}

} // namespace

TEST_CASE("seed 1: hyper_amp_test_mt hello 1 4 gives four correct results") {
  zone_env env;
  auto svc = env.start_service();

  SUBCASE("as the seed runs it: the alias as program name") {
    auto c = child::alias("hyper_amp_test_mt",
                          {env.client_toml(), "hello", "1", "4"});
    REQUIRE_MESSAGE(c->wait(120s), c->describe());
    REQUIRE_MESSAGE(c->exit_code() == 0, c->describe());
    for (int i = 0; i < 4; ++i)
      CHECK_MESSAGE(c->out().find("[" + std::to_string(i) +
                                  "] ok (5 bytes): hex:164e2c2f12\n") !=
                        std::string::npos,
                    c->describe());
    CHECK(c->out().find("4 requests: 4 ok, 0 failed") != std::string::npos);
  }
  SUBCASE("the alias as subcommand with --json") {
    auto c = child::amp(
        {"hyper_amp_test_mt", env.client_toml(), "hello", "1", "4", "--json"});
    check_all(finish_call(*c), 4, "164e2c2f12");
  }
  SUBCASE("the single-request alias") {
    auto c = child::alias("hyper_amp_test",
                          {env.client_toml(), "hello", "1", "--json"});
    check_all(finish_call(*c), 1, "164e2c2f12");
  }

  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("seed 2: a 4-worker service answers 20 concurrent client processes") {
  role_params p;
  p.workers = 1; // the 4 comes from the command line
  zone_env env{p};
  auto svc = env.start_service({"4"}, "hyper_amp_service_test_mt");
  CHECK_MESSAGE(svc->out().find("4 workers per service") != std::string::npos,
                svc->out());

  std::vector<std::unique_ptr<child>> clients;
  for (int i = 1; i <= 20; ++i)
    clients.push_back(child::alias(
        "hyper_amp_test",
        {env.client_toml(), "msg_" + std::to_string(i), "1", "--json"}));
  CHECK(child::wait_all(clients, 180s));
  for (int i = 1; i <= 20; ++i) {
    auto& c = *clients[static_cast<std::size_t>(i - 1)];
    INFO("client msg_" << i);
    check_all(finish_call(c), 1, to_hex(xor_pad("msg_" + std::to_string(i))));
  }

  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("seed 3: 100 concurrent requests through hyper_amp_test_mt") {
  zone_env env;
  auto svc = env.start_service({}, "hyper_amp_service_test");
  auto c = child::alias("hyper_amp_test_mt", {env.client_toml(), "stress_test",
                                              "1", "100", "--json"});
  check_all(finish_call(*c), 100, to_hex(xor_pad("stress_test")));
  // The same through more client actors than requests per actor.
  auto d = child::amp({"call", env.client_toml(), "stress_test", "2",
                       "--threads", "8", "--requests", "1000", "--json"});
  check_all(finish_call(*d), 1000, to_hex(xor_pad("stress_test")));

  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("seed 4: mixed load of 50 encrypt and 50 decrypt and 50 echo "
          "client processes at once") {
  zone_env env;
  auto svc = env.start_service({"4"}, "hyper_amp_service_test_mt");

  struct job {
    std::string data;
    int sid;
    std::string expected_hex;
  };
  std::vector<job> jobs;
  for (int i = 1; i <= 50; ++i) {
    const std::string n = std::to_string(i);
    jobs.push_back({"encrypt_" + n, 1, to_hex(xor_pad("encrypt_" + n))});
    jobs.push_back({"decrypt_" + n, 2, to_hex(xor_pad("decrypt_" + n))});
    jobs.push_back({"echo_" + n, 66, to_hex("echo_" + n)});
  }
  std::vector<std::unique_ptr<child>> clients;
  for (const auto& j : jobs)
    clients.push_back(
        child::alias("hyper_amp_test", {env.client_toml(), j.data,
                                        std::to_string(j.sid), "--json"}));
  CHECK(child::wait_all(clients, 240s));
  // Correct answers per service: each of the three must have all 50.
  std::map<int, std::size_t> correct;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    INFO("client " << jobs[i].data << " service " << jobs[i].sid);
    const auto out = finish_call(*clients[i]);
    check_all(out, 1, jobs[i].expected_hex);
    if (out.results.size() == 1 && out.results[0].ok &&
        out.results[0].hex == jobs[i].expected_hex)
      ++correct[jobs[i].sid];
  }
  CHECK(correct[1] == 50u);
  CHECK(correct[2] == 50u);
  CHECK(correct[66] == 50u);

  stop_service(*svc);
  env.check_region_clean();
}

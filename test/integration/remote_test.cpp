// A zone's services on the network, with real processes on loopback: a
// service zone, a client zone with its gateway (amp-node gateway), and
// remote callers (amp-node call --remote). Byte-exact answers, a load
// without loss, the allow-list and the connection limit, the remote caller
// or the service killed under load, TLS, and bad input on the gateway's
// port. Every test that ran a service ends with the region checked: every
// entry free, no slot claimed.
#include <csignal>
#include <doctest/doctest.h>
#include <map>
#include <poll.h>
#include <unistd.h>

#include "harness.hpp"
#include "remote_harness.hpp"

using namespace it;

namespace {

using clock_type = std::chrono::steady_clock;

/// One request through `call --remote --json`; its result (REQUIREs that
/// the process exits with `rc` and gave one result).
call_result remote_one(const gateway_proc& g, const std::string& data,
                       const std::string& sid, int rc = 0,
                       std::vector<std::string> args = {}) {
  auto c = remote_call(g.address(), data, sid, std::move(args));
  auto r = finish_call(*c, 120s, rc);
  REQUIRE(r.results.size() == 1u);
  return r.results[0];
}

/// Errors by name.
std::map<std::string, std::size_t> errors_of(const call_output& r) {
  std::map<std::string, std::size_t> out;
  for (const auto& x : r.results)
    if (!x.ok)
      ++out[x.error];
  return out;
}

/// True once the peer of `fd` closed the connection (read sees EOF or a
/// reset) within `timeout`; whatever it sent before is read and dropped.
bool closed_within(int fd, ms timeout) {
  const auto until = clock_type::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<ms>(until - clock_type::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      return true;
  }
}

/// Waits up to 60 s until no entry of the region is in use, reading
/// `watch`'s output meanwhile; false if some still are then.
bool wait_all_free(const zone_env& env, child& watch) {
  const auto until = clock_type::now() + 60s;
  while (clock_type::now() < until) {
    if (entries_in_use(env) == 0)
      return true;
    watch.pump(2ms); // shared memory has no event to wait on: poll it
  }
  return entries_in_use(env) == 0;
}

} // namespace

TEST_CASE("three processes: encrypt, decrypt and echo through the gateway, "
          "byte-exact") {
  zone_env env;
  auto svc = env.start_service();
  auto gw = start_gateway(write_gateway_toml(env, {}));
  auto enc = remote_one(gw, "hello", "1");
  CHECK(enc.ok);
  CHECK(enc.hex == "164e2c2f12");
  auto dec = remote_one(gw, "hex:164e2c2f12", "2");
  CHECK(dec.ok);
  CHECK(dec.hex == to_hex("hello"));
  auto echo = remote_one(gw, "hex:00ff7f80", "66");
  CHECK(echo.hex == "00ff7f80");
  const std::string big(256, 'x'); // client.max_message of the zone
  CHECK(remote_one(gw, big, "66").hex == to_hex(big));
  // The zone's own errors come through by name.
  auto bad = remote_one(gw, "hello", "99", 1);
  CHECK_FALSE(bad.ok);
  CHECK(bad.error == "unknown_service");
  auto empty = remote_one(gw, "", "1", 1);
  CHECK(empty.error == "bad_request");
  auto large = remote_one(gw, std::string(257, 'y'), "66", 1);
  CHECK(large.error == "too_large");
  stop_gateway(gw);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("8 remote threads x 1000 requests: every answer, none lost") {
  zone_env env;
  auto svc = env.start_service();
  auto gw = start_gateway(write_gateway_toml(env, {}));
  auto c = remote_call(gw.address(), "hello", "1",
                       {"--threads", "8", "--requests", "8000"});
  auto r = finish_call(*c, 300s);
  CHECK(r.requests == 8000u);
  CHECK(r.ok == 8000u);
  std::size_t wrong = 0;
  for (const auto& x : r.results)
    wrong += x.hex != "164e2c2f12";
  CHECK(wrong == 0u);
  // The same through echo, from two callers at once.
  auto a = remote_call(gw.address(), "abc", "66",
                       {"--threads", "8", "--requests", "8000"});
  auto b = remote_call(gw.address(), "hex:0001", "66",
                       {"--threads", "8", "--requests", "8000"});
  auto ra = finish_call(*a, 300s);
  auto rb = finish_call(*b, 300s);
  CHECK(ra.ok == 8000u);
  CHECK(rb.ok == 8000u);
  for (const auto& x : ra.results)
    wrong += x.hex != to_hex("abc");
  for (const auto& x : rb.results)
    wrong += x.hex != "0001";
  CHECK(wrong == 0u);
  stop_gateway(gw);
  CHECK(gw.proc->out().find("requests 24000 forwarded") != std::string::npos);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("the allow-list: another service is not_allowed and never queued") {
  zone_env env;
  auto svc = env.start_service();
  gateway_params g;
  g.allow = "1, 66";
  auto gw = start_gateway(write_gateway_toml(env, g));
  CHECK(remote_one(gw, "hello", "1").hex == "164e2c2f12");
  auto no = remote_one(gw, "hex:164e2c2f12", "2", 1);
  CHECK_FALSE(no.ok);
  CHECK(no.error == "not_allowed");
  // Not even an unknown service reaches the zone (it would answer
  // unknown_service).
  CHECK(remote_one(gw, "x", "99", 1).error == "not_allowed");
  auto many = remote_call(gw.address(), "x", "2",
                          {"--threads", "4", "--requests", "100"});
  auto r = finish_call(*many, 120s, 1);
  CHECK(r.failed == 100u);
  CHECK(errors_of(r)["not_allowed"] == 100u);
  stop_gateway(gw);
  // 1 request went to the queue; 102 were refused at the gateway.
  CHECK_MESSAGE(gw.proc->out().find("requests 1 forwarded, 102 not allowed") !=
                    std::string::npos,
                gw.proc->describe());
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("kill -9 of a remote caller under load: the zone frees what it "
          "held and its connection") {
  role_params p;
  p.max_in_flight = 64;
  zone_env env{p};
  auto svc = env.start_service();
  gateway_params g;
  g.max_connections = 1; // the next caller gets in only if it was freed
  auto gw = start_gateway(write_gateway_toml(env, g));
  auto view = hyperamp::shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);

  // Enough requests not to finish before the kill (--quiet: the caller
  // keeps a summary only).
  auto caller =
      remote_call(gw.address(), "hello", "66",
                  {"--threads", "8", "--requests", "2000000", "--quiet"});
  const auto base = completion_rings(*view.value);
  REQUIRE_MESSAGE(wait_rings(*view.value, *caller, base, 50),
                  caller->describe());
  caller->signal(SIGKILL);
  REQUIRE(caller->wait(30s));
  CHECK(caller->term_signal() == SIGKILL);

  // The event: its requests in the zone finish and their entries are freed,
  // while the gateway goes on.
  CHECK(wait_all_free(env, *gw.proc));
  gw.proc->pump(0ms);
  REQUIRE_MESSAGE(!gw.proc->exited(), gw.proc->describe());
  // Its connection is free again (max_connections = 1): a new caller gets a
  // session once the gateway has seen the old one go (its requests answered).
  call_result last;
  bool refused = true;
  for (int attempt = 0; attempt < 600 && refused; ++attempt) {
    auto c = remote_call(gw.address(), "hello", "1");
    REQUIRE(c->wait(120s));
    refused =
        c->exit_code() == 1 && c->err().find("overloaded") != std::string::npos;
    if (refused)
      gw.proc->pump(50ms); // a bounded wait for the session to end
    else
      last = parse_call(c->out()).results.at(0);
  }
  CHECK_FALSE(refused);
  CHECK(last.ok);
  CHECK(last.hex == "164e2c2f12");
  stop_gateway(gw);
  stop_service(*svc);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("kill -9 of the service zone: peer_down reaches the remote caller") {
  role_params p;
  p.request_ms = 3000;
  p.heartbeat_ms = 10;
  p.peer_dead_ms = 300;
  zone_env env{p};
  auto svc = env.start_service();
  auto gw = start_gateway(write_gateway_toml(env, {}));
  auto view = hyperamp::shm::region::open(env.region_options());
  REQUIRE_MESSAGE(view, view.message);
  auto caller = remote_call(gw.address(), "hello", "1",
                            {"--threads", "4", "--requests", "200000"});
  const auto base = completion_rings(*view.value);
  REQUIRE_MESSAGE(wait_rings(*view.value, *caller, base, 50),
                  caller->describe());
  svc->signal(SIGKILL);
  REQUIRE(svc->wait(30s));
  auto r = finish_call(*caller, ms(p.request_ms + p.peer_dead_ms) + 60s, 1);
  CHECK(r.ok > 0u);
  CHECK(r.failed > 0u);
  const auto errors = errors_of(r);
  CHECK(errors.count("peer_down") == 1u);
  for (const auto& [name, n] : errors) {
    INFO("error " << name << " x " << n);
    CHECK((name == "peer_down" || name == "timeout"));
  }
  // A restarted service takes over; the gateway's zone serves again.
  auto svc2 = env.start_service();
  call_result again;
  for (int attempt = 0; attempt < 600; ++attempt) {
    auto c = remote_call(gw.address(), "hello", "1");
    c->wait(120s);
    again = parse_call(c->out()).results.at(0);
    if (again.ok || again.error != "peer_down")
      break;
    gw.proc->pump(20ms); // until the zone has seen the new service beat
  }
  CHECK(again.ok);
  CHECK(again.hex == "164e2c2f12");
  stop_gateway(gw);
  stop_service(*svc2);
  view.value.reset();
  env.check_region_clean();
}

TEST_CASE("TLS: callers with a certificate of the gateway's CA are served, "
          "plain TCP and strangers are refused") {
  zone_env env;
  const auto pki = make_test_pki(env.dir());
  auto svc = env.start_service();
  gateway_params g;
  g.tls_certificate = pki.gateway_cert;
  g.tls_key = pki.gateway_key;
  g.tls_ca = pki.ca;
  auto gw = start_gateway(write_gateway_toml(env, g));
  CHECK(gw.proc->out().find("(TLS)") != std::string::npos);
  const std::vector<std::string> tls = {"--tls-ca",   pki.ca,
                                        "--tls-cert", pki.caller_cert,
                                        "--tls-key",  pki.caller_key};
  auto enc = remote_one(gw, "hello", "1", 0, tls);
  CHECK(enc.hex == "164e2c2f12");
  auto load =
      remote_call(gw.address(), "hello", "66",
                  {"--threads", "8", "--requests", "2000", "--tls-ca", pki.ca,
                   "--tls-cert", pki.caller_cert, "--tls-key", pki.caller_key});
  CHECK(finish_call(*load, 300s).ok == 2000u);

  // Plain TCP to a TLS gateway: refused.
  auto plain =
      child::amp({"call", "--remote", gw.address(), "hello", "1", "--json"});
  REQUIRE(plain->wait(120s));
  CHECK(plain->exit_code() == 1);
  CHECK_MESSAGE(plain->err().find("cannot connect to the gateway at " +
                                  gw.address()) != std::string::npos,
                plain->describe());
  CHECK_MESSAGE(plain->err().find("TLS on one side only") != std::string::npos,
                plain->describe());
  // A certificate the gateway's CA did not sign: refused.
  auto stranger = child::amp(
      {"call", "--remote", gw.address(), "hello", "1", "--tls-ca", pki.ca,
       "--tls-cert", pki.stranger_cert, "--tls-key", pki.stranger_key});
  REQUIRE(stranger->wait(120s));
  CHECK_MESSAGE(stranger->exit_code() == 1, stranger->describe());
  // A caller that does not trust the gateway's certificate: refused.
  auto distrust = child::amp({"call", "--remote", gw.address(), "hello", "1",
                              "--tls-ca", pki.stranger_cert, "--tls-cert",
                              pki.caller_cert, "--tls-key", pki.caller_key});
  REQUIRE(distrust->wait(120s));
  CHECK_MESSAGE(distrust->exit_code() == 1, distrust->describe());
  // The gateway is unaffected.
  CHECK(remote_one(gw, "hello", "66", 0, tls).hex == to_hex("hello"));
  stop_gateway(gw);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("TLS files the gateway cannot use stop it at start with exit 2") {
  zone_env env;
  const auto pki = make_test_pki(env.dir());
  struct bad_case {
    const char* what;
    gateway_params g;
    const char* message;
  };
  gateway_params good;
  good.tls_certificate = pki.gateway_cert;
  good.tls_key = pki.gateway_key;
  good.tls_ca = pki.ca;
  auto missing = good;
  missing.tls_certificate = env.dir() + "/nope.pem";
  auto mismatch = good;
  mismatch.tls_key = pki.caller_key;
  auto not_pem = good;
  not_pem.tls_ca = env.write("garbage.pem", "not a certificate\n");
  auto partial = good;
  partial.tls_ca.clear();
  const bad_case cases[] = {
      {"missing", missing, "gateway.tls_certificate: cannot read"},
      {"mismatch", mismatch, "is not the key of"},
      {"not PEM", not_pem, "holds no PEM certificate"},
      {"partial", partial, "gateway.tls_ca: is required with"},
  };
  for (const auto& b : cases) {
    INFO(b.what);
    auto c = child::amp(
        {"gateway", write_gateway_toml(env, b.g, std::string{"bad.toml"})});
    REQUIRE(c->wait(60s));
    CHECK_MESSAGE(c->exit_code() == 2, c->describe());
    CHECK_MESSAGE(c->err().find(b.message) != std::string::npos, c->describe());
  }
}

TEST_CASE("bad input on the gateway's port: garbage, silence and 1000 "
          "connections at once, and good callers are served throughout") {
  REQUIRE(raise_file_limit(4096) >= 1100);
  zone_env env;
  auto svc = env.start_service();
  auto gw = start_gateway(write_gateway_toml(env, {}));
  CHECK(remote_one(gw, "hello", "1").hex == "164e2c2f12");

  // A connection that opens and never speaks, for the whole test.
  const int silent = connect_tcp(gw.port);
  REQUIRE(silent >= 0);
  // Less than a frame header (40 bytes): the gateway waits for the rest,
  // like a silent connection, for the whole test.
  const int short_junk = connect_tcp(gw.port);
  REQUIRE(short_junk >= 0);
  CHECK(::write(short_junk, "GET / HTTP/1.0\r\n\r\n", 18) == 18);
  // Garbage of a frame header or more that is no frame of CAF's protocol:
  // an HTTP request (its first byte names no operation), 0xff bytes, and
  // zeros (a handshake frame without a version).
  for (const std::string& junk :
       {std::string{"GET /index.html HTTP/1.1\r\nHost: gateway.example\r\n"
                    "User-Agent: test\r\n\r\n"},
        std::string(4096, '\xff'), std::string(64, '\0') + "hyperamp"}) {
    const int fd = connect_tcp(gw.port);
    REQUIRE(fd >= 0);
    CHECK(::write(fd, junk.data(), junk.size()) ==
          static_cast<ssize_t>(junk.size()));
    // The gateway closes the connection (after its own handshake bytes).
    CHECK(closed_within(fd, 30s));
    ::close(fd);
  }
  CHECK(remote_one(gw, "hello", "2").hex == to_hex(xor_pad("hello")));

  // 1000 connections at once, held open while a load runs.
  std::vector<int> fds;
  for (int i = 0; i < 1000; ++i) {
    const int fd = connect_tcp(gw.port);
    if (fd < 0)
      break;
    fds.push_back(fd);
  }
  CHECK(fds.size() == 1000u);
  auto load = remote_call(gw.address(), "hello", "66",
                          {"--threads", "8", "--requests", "4000"});
  CHECK(finish_call(*load, 300s).ok == 4000u);
  for (int fd : fds)
    ::close(fd);
  ::close(silent);
  ::close(short_junk);
  CHECK(remote_one(gw, "hello", "66").hex == to_hex("hello"));
  gw.proc->pump(0ms);
  REQUIRE_MESSAGE(!gw.proc->exited(), gw.proc->describe());
  stop_gateway(gw);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("call --remote without a gateway fails with exit 1 and says why") {
  // A port nobody listens on: bind one, close it.
  const int probe = connect_tcp(1); // port 1: nobody listens
  CHECK(probe < 0);
  auto c = child::amp({"call", "--remote", "127.0.0.1:1", "hello", "1"});
  REQUIRE(c->wait(60s));
  CHECK(c->exit_code() == 1);
  CHECK_MESSAGE(c->err().find("cannot connect to the gateway at "
                              "127.0.0.1:1") != std::string::npos,
                c->describe());
}

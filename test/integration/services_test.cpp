// The services end to end, byte exact: hvisor-tool's test vectors through
// encrypt and back through decrypt, echo, an unknown service id, payloads
// from files, and the stdin client.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace it;

namespace {

/// One request through `call --json`; returns its result (REQUIREs that
/// the process exits with `rc` and gave one result).
call_result call_one(const zone_env& env, const std::string& data,
                     const std::string& sid, int rc = 0) {
  auto c = child::amp({"call", env.client_toml(), data, sid, "--json"});
  auto r = finish_call(*c, 120s, rc);
  REQUIRE(r.results.size() == 1u);
  return r.results[0];
}

struct vector_case {
  const char* plain;
  const char* cipher_hex;
};

// hvisor-tool's services 1 and 2 and the test vectors it publishes.
const vector_case k_vectors[] = {
    {"hello", "164e2c2f12"},
    {"The quick brown fox", "2a4325630c8eee90958222af33ed7449184438"},
    {"ABCDEFGHIJKLMNOPQRS", "3f69030738bdc0bbb7e80b9111d455392f7913"},
};

} // namespace

TEST_CASE("the harness XOR pad reproduces the reference test vectors") {
  for (const auto& v : k_vectors)
    CHECK(to_hex(xor_pad(v.plain)) == v.cipher_hex);
}

TEST_CASE("round trip: encrypt then decrypt gives back the test vectors") {
  zone_env env;
  auto svc = env.start_service();
  for (const auto& v : k_vectors) {
    INFO("vector \"" << v.plain << "\"");
    auto enc = call_one(env, v.plain, "1");
    CHECK(enc.ok);
    CHECK(enc.hex == v.cipher_hex);
    auto dec = call_one(env, std::string{"hex:"} + enc.hex, "2");
    CHECK(dec.ok);
    CHECK(dec.hex == to_hex(v.plain));
    // Decrypt and encrypt are the same pad: the other way round too.
    auto back = call_one(env, std::string{"hex:"} + v.cipher_hex, "1");
    CHECK(back.hex == to_hex(v.plain));
  }
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("round trip of every byte value through @file payloads") {
  zone_env env;
  auto svc = env.start_service();
  std::string all;
  for (int b = 0; b < 256; ++b)
    all += static_cast<char>(b);
  const std::string raw = env.write("all.bin", all);
  auto enc = call_one(env, "@" + raw, "1");
  REQUIRE(enc.ok);
  CHECK(enc.hex == to_hex(xor_pad(all)));
  // A file that starts with "hex:" is hex, one trailing newline stripped.
  const std::string hexfile = env.write("enc.txt", "hex:" + enc.hex + "\n");
  auto dec = call_one(env, "@" + hexfile, "2");
  REQUIRE(dec.ok);
  CHECK(dec.hex == to_hex(all));
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("echo 66 returns its input unchanged") {
  zone_env env;
  auto svc = env.start_service();
  CHECK(call_one(env, "hello", "66").hex == to_hex("hello"));
  CHECK(call_one(env, "hex:00ff7f80", "66").hex == "00ff7f80");
  const std::string big(256, 'x'); // client.max_message
  CHECK(call_one(env, big, "66").hex == to_hex(big));
  auto c = child::amp({"call", env.client_toml(), "abc", "66", "--threads", "3",
                       "--requests", "30", "--json"});
  auto r = finish_call(*c);
  CHECK(r.ok == 30u);
  for (const auto& x : r.results)
    CHECK(x.hex == to_hex("abc"));
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("an empty payload is a bad request for encrypt and decrypt") {
  zone_env env;
  auto svc = env.start_service();
  for (const char* sid : {"1", "2"}) {
    INFO("service " << sid);
    auto r = call_one(env, "", sid, 1);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "bad_request");
  }
  CHECK(call_one(env, "hello", "1").hex == "164e2c2f12");
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("unknown service 99 fails with unknown_service and the service "
          "keeps serving") {
  zone_env env;
  auto svc = env.start_service();
  auto bad = call_one(env, "hello", "99", 1);
  CHECK_FALSE(bad.ok);
  CHECK(bad.error == "unknown_service");
  // Several at once, mixed with good requests from another process.
  auto many = child::amp({"call", env.client_toml(), "x", "99", "--threads",
                          "4", "--requests", "40", "--json"});
  auto r = finish_call(*many, 120s, 1);
  CHECK(r.failed == 40u);
  for (const auto& x : r.results)
    CHECK(x.error == "unknown_service");
  svc->pump(0ms);
  REQUIRE_MESSAGE(!svc->exited(), svc->describe());
  auto good = call_one(env, "hello", "1");
  CHECK(good.ok);
  CHECK(good.hex == "164e2c2f12");
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("the plain text output of call renders text as text and bytes as "
          "hex") {
  zone_env env;
  auto svc = env.start_service();
  auto c = child::amp({"call", env.client_toml(), "hello", "66"});
  REQUIRE_MESSAGE(c->wait(120s), c->describe());
  CHECK(c->exit_code() == 0);
  CHECK(c->out().find("[0] ok (5 bytes): hello\n") != std::string::npos);
  auto q = child::amp({"call", env.client_toml(), "hello", "1", "--quiet"});
  REQUIRE_MESSAGE(q->wait(120s), q->describe());
  CHECK(q->exit_code() == 0);
  CHECK(q->out().find("[0]") == std::string::npos);
  CHECK(q->out().find("1 requests: 1 ok, 0 failed") != std::string::npos);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("stdin client: amp-node client.toml answers one line per request") {
  zone_env env;
  auto svc = env.start_service();
  SUBCASE("all good: exit 0") {
    auto c = child::amp({env.client_toml()},
                        "1 hello\n66 echo me\n2 hex:164e2c2f12\n");
    REQUIRE_MESSAGE(c->wait(120s), c->describe());
    CHECK_MESSAGE(c->exit_code() == 0, c->describe());
    CHECK(c->out().find("client zone 0 on " + env.region_path()) !=
          std::string::npos);
    CHECK_MESSAGE(c->out().find("\nhex:164e2c2f12\necho me\nhello\n") !=
                      std::string::npos,
                  c->out());
  }
  SUBCASE("the last line needs no newline") {
    auto c = child::amp({env.client_toml()}, "66 first\n1 hello");
    REQUIRE_MESSAGE(c->wait(120s), c->describe());
    CHECK_MESSAGE(c->exit_code() == 0, c->describe());
    CHECK_MESSAGE(c->out().find("\nfirst\nhex:164e2c2f12\n") !=
                      std::string::npos,
                  c->out());
  }
  SUBCASE("a failed line: error printed and exit 1") {
    auto c = child::amp({env.client_toml()}, "99 x\nabc def\n66 ok\n");
    REQUIRE_MESSAGE(c->wait(120s), c->describe());
    CHECK_MESSAGE(c->exit_code() == 1, c->describe());
    CHECK_MESSAGE(c->out().find("\nerror: unknown_service\nerror: "
                                "service_id: 'abc' is not a number\nok\n") !=
                      std::string::npos,
                  c->out());
  }
  stop_service(*svc);
  env.check_region_clean();
}

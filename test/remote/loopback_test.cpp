// Two actor systems in this process, a gateway in one and a remote caller
// in the other, over real TCP on loopback (CAF's middleman): the types
// that cross the network, answers and error codes across it, exit messages
// from the network, a republished gateway, TLS, a bridge that ends. The
// bridge is a fake (no shared memory): it echoes, and fails service 13.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/all.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/client_actor.hpp"
#include "actors/gateway.hpp"
#include "actors/zone.hpp"
#include "remote_harness.hpp"
#include "vocab/remote.hpp"

using namespace hyperamp::actors;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint32_t k_failing = 13;

bytes to_bytes(const std::string& s) {
  return bytes(s.begin(), s.end());
}

/// `unused`: CAF 0.17.6 dereferences a null argument tuple when a function-
/// based actor is spawned with no arguments (UBSan: reference binding to a
/// null pointer, in caf/detail/init_fun_factory.hpp); one argument avoids it.
caf::behavior echo_bridge(caf::event_based_actor*, int /*unused*/) {
  return {
      [](call_atom, std::vector<call_spec>& calls) {
        call_replies r(calls.size());
        for (std::size_t i = 0; i < calls.size(); ++i) {
          if (calls[i].service_id == k_failing) {
            r[i].error = caf::make_error(amp_errc::service_failed);
            continue;
          }
          r[i].ok = true;
          r[i].data = std::move(calls[i].data);
        }
        return r;
      },
      [](call_atom, std::uint32_t id, bytes& data) -> caf::result<bytes> {
        if (id == k_failing)
          return caf::make_error(amp_errc::service_failed);
        return std::move(data);
      },
  };
}

/// An actor system with the network configured as amp-node does.
struct net_system {
  explicit net_system(const tls_files& tls = {}) {
    cfg.set("scheduler.max-threads", std::size_t{2});
    cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
    configure_network(cfg, tls);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

/// The gateway's side: a system, the fake bridge and a published gateway.
struct gateway_side {
  explicit gateway_side(gateway_settings s = {}, const tls_files& tls = {})
      : net(tls) {
    bridge = net.sys->spawn(echo_bridge, 0);
    s.tls = tls.enabled();
    auto g = start_gateway(*net.sys, bridge, s);
    REQUIRE_MESSAGE(g, describe(g.error()));
    gw = *g;
  }
  ~gateway_side() {
    caf::anon_send_exit(gw.keeper, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  }
  gateway_stats stats() {
    caf::scoped_actor self{*net.sys};
    gateway_stats out;
    self->request(gw.keeper, 10s, stats_atom::value)
        .receive([&](gateway_stats& x) { out = x; }, [](caf::error&) {});
    return out;
  }
  net_system net;
  caf::actor bridge;
  gateway gw;
};

/// A remote caller's link; stopped at the end.
struct caller_side {
  explicit caller_side(std::uint16_t port, const tls_files& tls = {})
      : net(tls) {
    remote_options o;
    o.tls = tls.enabled();
    auto l = connect_remote(*net.sys, "127.0.0.1", port, o);
    REQUIRE_MESSAGE(l, describe(l.error()));
    link = *l;
  }
  ~caller_side() { caf::anon_send_exit(link, caf::exit_reason::user_shutdown); }
  caf::expected<bytes> call(std::uint32_t id, const std::string& data) {
    caf::scoped_actor self{*net.sys};
    return hyperamp::actors::call(self, link, id, to_bytes(data), 30s);
  }
  net_system net;
  caf::actor link;
};

/// Tries connect_remote until it works or `within` passes.
bool connects_within(caf::actor_system& sys, std::uint16_t port,
                     std::chrono::seconds within) {
  const auto until = clock_type::now() + within;
  while (clock_type::now() < until) {
    remote_options o;
    o.connect_timeout = 2s;
    if (auto l = connect_remote(sys, "127.0.0.1", port, o)) {
      caf::anon_send_exit(*l, caf::exit_reason::user_shutdown);
      return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("the wire types are registered, and without them a batch cannot be "
          "serialized (CAF would deliver an empty message)") {
  net_system with;
  for (const char* name :
       {"hyperamp::bytes", "hyperamp::call_spec", "hyperamp::call_reply",
        "hyperamp::session_grant", "std::vector<hyperamp::call_spec>",
        "std::vector<hyperamp::call_reply>"}) {
    INFO(name);
    CHECK(with.sys->types().make_value(name) != nullptr);
  }
  call_replies replies(2);
  replies[0].ok = true;
  replies[0].data = to_bytes("ok");
  replies[1].error = caf::make_error(amp_errc::not_allowed);
  const auto msg = caf::make_message(
      call_atom::value, std::vector<call_spec>{{66, to_bytes("hi")}, {1, {}}},
      replies);
  std::vector<char> buf;
  {
    caf::binary_serializer sink{*with.sys, buf};
    auto copy = msg;
    CHECK_FALSE(sink(copy));
  }
  caf::message back;
  {
    caf::binary_deserializer source{*with.sys, buf};
    CHECK_FALSE(source(back));
  }
  REQUIRE(
      (back.match_elements<call_atom, std::vector<call_spec>, call_replies>()));
  const auto& calls = back.get_as<std::vector<call_spec>>(1);
  REQUIRE(calls.size() == 2u);
  CHECK(calls[0].service_id == 66u);
  CHECK(calls[0].data == to_bytes("hi"));
  CHECK(calls[1].service_id == 1u);
  const auto& r = back.get_as<call_replies>(2);
  REQUIRE(r.size() == 2u);
  CHECK(r[0].ok);
  CHECK(r[0].data == to_bytes("ok"));
  CHECK(is(r[1].error, amp_errc::not_allowed));
  CHECK(describe(r[1].error) == "not_allowed");

  // A system that did not register them: CAF 0.17 logs "cannot serialize
  // message" and writes something that is not the message; a receiver
  // does not get the batch back.
  caf::actor_system_config bare_cfg;
  bare_cfg.load<caf::io::middleman>();
  caf::actor_system bare{bare_cfg};
  CHECK(bare.types().make_value("hyperamp::call_spec") == nullptr);
  std::vector<char> buf2;
  {
    caf::binary_serializer sink2{bare, buf2};
    auto copy = msg;
    static_cast<void>(sink2(copy));
  }
  caf::message lost;
  caf::binary_deserializer source2{*with.sys, buf2};
  const auto err = source2(lost);
  CHECK_FALSE(
      (!err &&
       lost.match_elements<call_atom, std::vector<call_spec>, call_replies>()));
}

TEST_CASE("calls through a published gateway: byte-exact answers, errors "
          "with their category, the grant") {
  gateway_settings s;
  s.allowed = {1, k_failing, 66};
  s.max_in_flight = 64;
  gateway_side g{s};
  caller_side c{g.gw.port};
  auto hi = c.call(66, "hello");
  REQUIRE_MESSAGE(hi, describe(hi.error()));
  CHECK(*hi == to_bytes("hello"));
  auto failed = c.call(k_failing, "x");
  REQUIRE_FALSE(failed);
  CHECK(is(failed.error(), amp_errc::service_failed));
  auto refused = c.call(2, "x");
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), amp_errc::not_allowed));
  caf::scoped_actor self{*c.net.sys};
  self->request(c.link, 30s, caf::get_atom::value)
      .receive(
          [&](session_grant& grant) {
            CHECK(grant.credit == 64u);
            CHECK(grant.allowed == std::vector<std::uint32_t>{1, 13, 66});
          },
          [&](caf::error& e) { FAIL(describe(e)); });
  // A batch: every answer in its place.
  std::vector<call_spec> batch{{66, to_bytes("a")},
                               {2, to_bytes("b")},
                               {k_failing, to_bytes("c")},
                               {1, bytes(1000, 0xab)}};
  self->request(c.link, 30s, call_atom::value, std::move(batch))
      .receive(
          [&](call_replies& r) {
            REQUIRE(r.size() == 4u);
            CHECK(r[0].data == to_bytes("a"));
            CHECK(is(r[1].error, amp_errc::not_allowed));
            CHECK(is(r[2].error, amp_errc::service_failed));
            CHECK(r[3].data == bytes(1000, 0xab));
          },
          [&](caf::error& e) { FAIL(describe(e)); });
  // Client actors work on the link as on a bridge.
  auto client = spawn_client_actor(*c.net.sys, c.link, 16);
  self->request(client, 60s, run_atom::value,
                load_spec{66, to_bytes("load"), 2000})
      .receive(
          [&](outcomes& all) {
            std::size_t ok = 0;
            for (const auto& o : all)
              ok += o.ok && o.data == to_bytes("load");
            CHECK(ok == 2000u);
          },
          [&](caf::error& e) { FAIL(describe(e)); });
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  const auto st = g.stats();
  CHECK(st.sessions_live == 1u);
  CHECK(st.not_allowed == 2u);
  CHECK(st.requests == 2005u);
}

TEST_CASE("the protocol without the link: a session and a single call "
          "across the network") {
  gateway_side g;
  net_system caller;
  auto gw = caller.sys->middleman().remote_actor("127.0.0.1", g.gw.port);
  REQUIRE_MESSAGE(gw, caller.sys->render(gw.error()));
  caf::scoped_actor self{*caller.sys};
  caf::actor session;
  self->request(*gw, 30s, session_atom::value, remote_version)
      .receive(
          [&](caf::actor& s, session_grant& grant) {
            session = s;
            CHECK(grant.version == remote_version);
          },
          [&](caf::error& e) { FAIL(describe(e)); });
  REQUIRE(session);
  self->request(session, 30s, call_atom::value, std::uint32_t{66},
                to_bytes("single"))
      .receive([&](bytes& r) { CHECK(r == to_bytes("single")); },
               [&](caf::error& e) { FAIL(describe(e)); });
  self->request(session, 30s, call_atom::value, k_failing, to_bytes("x"))
      .receive([&](bytes&) { FAIL("service 13 answered"); },
               [&](caf::error& e) { CHECK(is(e, amp_errc::service_failed)); });
  // The caller's connection goes when its system goes: the session ends.
  self->send_exit(self, caf::exit_reason::normal);
}

TEST_CASE("beyond the connection's credit a call is overloaded at once") {
  gateway_settings s;
  s.max_in_flight = 4;
  gateway_side g{s};
  caller_side c{g.gw.port};
  caf::scoped_actor self{*c.net.sys};
  std::vector<call_spec> batch(6, call_spec{66, to_bytes("x")});
  self->request(c.link, 30s, call_atom::value, std::move(batch))
      .receive(
          [&](call_replies& r) {
            REQUIRE(r.size() == 6u);
            for (std::size_t i = 0; i < 4; ++i)
              CHECK(r[i].ok);
            CHECK(is(r[4].error, amp_errc::overloaded));
            CHECK(is(r[5].error, amp_errc::overloaded));
          },
          [&](caf::error& e) { FAIL(describe(e)); });
}

TEST_CASE("exit messages from the network: shutdown is ignored, kill ends "
          "the gateway and the keeper publishes a new one on the port") {
  gateway_side g;
  caller_side c{g.gw.port};
  auto published = c.net.sys->middleman().remote_actor("127.0.0.1", g.gw.port);
  REQUIRE(published);
  // (anon_send_exit names the gateway itself as the exit's source.)
  caf::anon_send_exit(*published, caf::exit_reason::user_shutdown);
  CHECK(c.call(66, "still"));
  CHECK(connects_within(*c.net.sys, g.gw.port, 30s));
  CHECK(g.stats().republished == 0u);
  caf::anon_send_exit(*published, caf::exit_reason::kill);
  // The event: a new gateway on the same port grants sessions again.
  const auto until = clock_type::now() + 30s;
  while (g.stats().republished == 0 && clock_type::now() < until)
    std::this_thread::yield();
  CHECK(g.stats().republished == 1u);
  CHECK(connects_within(*c.net.sys, g.gw.port, 30s));
  // The session made before is not affected.
  auto after = c.call(66, "after");
  REQUIRE_MESSAGE(after, describe(after.error()));
  CHECK(*after == to_bytes("after"));
}

TEST_CASE("the zone's bridge ends: the caller's calls fail disconnected, "
          "and new connections are refused") {
  auto g = std::make_unique<gateway_side>();
  caller_side c{g->gw.port};
  CHECK(c.call(66, "x"));
  const auto port = g->gw.port;
  caf::anon_send_exit(g->bridge, caf::exit_reason::user_shutdown);
  // The event: the session ends (its caller sees it go) and the keeper
  // closes the port.
  // Meanwhile a call may still meet the session closing (shutting_down).
  caf::expected<bytes> r{bytes{}};
  const auto until = clock_type::now() + 30s;
  while ((r || !is(r.error(), amp_errc::disconnected)) &&
         clock_type::now() < until) {
    r = c.call(66, "x");
    if (!r)
      CHECK_MESSAGE((is(r.error(), amp_errc::disconnected) ||
                     is(r.error(), amp_errc::shutting_down)),
                    describe(r.error()));
  }
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), amp_errc::disconnected));
  remote_options o;
  o.connect_timeout = 5s;
  auto again = connect_remote(*c.net.sys, "127.0.0.1", port, o);
  CHECK_FALSE(again);
  g.reset();
}

TEST_CASE("TLS between two systems: a caller with a certificate of the CA is "
          "served, a plain caller is refused") {
  it::zone_env env; // a temporary directory for the certificates
  const auto pki = it::make_test_pki(env.dir());
  gateway_side g{{}, tls_files{pki.ca, pki.gateway_cert, pki.gateway_key}};
  {
    caller_side c{g.gw.port,
                  tls_files{pki.ca, pki.caller_cert, pki.caller_key}};
    auto r = c.call(66, "secret");
    REQUIRE_MESSAGE(r, describe(r.error()));
    CHECK(*r == to_bytes("secret"));
  }
  net_system plain;
  remote_options o;
  o.connect_timeout = 10s;
  auto refused = connect_remote(*plain.sys, "127.0.0.1", g.gw.port, o);
  REQUIRE_FALSE(refused);
  CHECK(describe(refused.error()).find("cannot connect to the gateway") !=
        std::string::npos);
}

// The gateway's sessions on CAF's deterministic test coordinator (no
// network, no threads, virtual time), with a fake bridge that records
// every request that reaches it: the grant, the allow-list, the credit, the
// connection limit, a caller that goes away, a bridge that never answers.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <chrono>
#include <utility>
#include <vector>

#include "actors/gateway.hpp"
#include "vocab/remote.hpp"

using namespace hyperamp::actors;
using namespace std::chrono_literals;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;
using open_req = caf::atom_constant<caf::atom("open_req")>;
using batch_req = caf::atom_constant<caf::atom("batch_req")>;
using one_req = caf::atom_constant<caf::atom("one_req")>;
using stats_req = caf::atom_constant<caf::atom("stats_req")>;

bytes to_bytes(const std::string& s) {
  return bytes(s.begin(), s.end());
}

// -- a bridge that records what reaches it
// -------------------------------------

struct fake_bridge_state {
  std::vector<std::uint32_t> seen; ///< service ids, in arrival order
  bool hold = false;               ///< keep answers until release
  std::vector<
      std::pair<caf::typed_response_promise<call_replies>, call_replies>>
      held;
  static inline const char* name = "fake_bridge";
};

/// `unused`: CAF 0.17.6 dereferences a null argument tuple when a function-
/// based actor is spawned with no arguments (UBSan: reference binding to a
/// null pointer, in caf/detail/init_fun_factory.hpp); one argument avoids it.
caf::behavior fake_bridge(caf::stateful_actor<fake_bridge_state>* self,
                          int /*unused*/) {
  return {
      [self](call_atom,
             std::vector<call_spec>& calls) -> caf::result<call_replies> {
        call_replies r(calls.size());
        for (std::size_t i = 0; i < calls.size(); ++i) {
          self->state.seen.push_back(calls[i].service_id);
          r[i].ok = true;
          r[i].data = std::move(calls[i].data);
        }
        if (!self->state.hold)
          return r;
        auto rp = self->make_response_promise<call_replies>();
        self->state.held.emplace_back(rp, std::move(r));
        return caf::delegated<call_replies>{};
      },
      [self](call_atom, std::uint32_t service_id, bytes& data) {
        self->state.seen.push_back(service_id);
        return std::move(data);
      },
      [self](release_atom) {
        for (auto& [rp, r] : self->state.held)
          rp.deliver(std::move(r));
        self->state.held.clear();
      },
  };
}

// -- a caller that records every answer
// ------------------------------------------

struct requester_state {
  std::vector<caf::actor> sessions;
  std::vector<session_grant> grants;
  std::vector<call_replies> replies;
  std::vector<bytes> singles;
  std::vector<caf::error> errors;
  gateway_stats stats;
  static inline const char* name = "requester";
};

/// `unused`: as for fake_bridge.
caf::behavior requester(caf::stateful_actor<requester_state>* self,
                        int /*unused*/) {
  auto failed = [self](caf::error& err) {
    self->state.errors.push_back(std::move(err));
  };
  return {
      [self, failed](open_req, caf::actor gw, std::uint32_t version) {
        self->request(gw, caf::infinite, session_atom::value, version)
            .then(
                [self](caf::actor& s, session_grant& g) {
                  self->state.sessions.push_back(std::move(s));
                  self->state.grants.push_back(std::move(g));
                },
                failed);
      },
      [self, failed](batch_req, caf::actor s, std::vector<call_spec> calls) {
        self->request(s, caf::infinite, call_atom::value, std::move(calls))
            .then(
                [self](call_replies& r) {
                  self->state.replies.push_back(std::move(r));
                },
                failed);
      },
      [self, failed](one_req, caf::actor s, std::uint32_t id, bytes data) {
        self->request(s, caf::infinite, call_atom::value, id, std::move(data))
            .then([self](bytes& r) { self->state.singles.push_back(r); },
                  failed);
      },
      [self](stats_req, caf::actor gw) {
        self->request(gw, caf::infinite, stats_atom::value)
            .then([self](gateway_stats& s) { self->state.stats = s; });
      },
  };
}

// -- the fixture
// ---------------------------------------------------------------

struct fixture {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    register_remote_types(cfg);
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::actor bridge = sys.spawn(fake_bridge, 0);
  std::vector<caf::actor> spawned{bridge};

  ~fixture() {
    sched.clock().cancel_all();
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    run();
  }

  void run() {
    while (sched.try_run_once()) {
    }
  }

  template <class State>
  State& state_of(const caf::actor& a) {
    auto* p = dynamic_cast<caf::stateful_actor<State>*>(
        caf::actor_cast<caf::abstract_actor*>(a));
    REQUIRE(p != nullptr);
    return p->state;
  }

  caf::actor gateway(gateway_settings s) {
    auto gw = spawn_gateway_actor(sys, bridge, std::move(s));
    spawned.push_back(gw);
    return gw;
  }

  caf::actor caller() {
    auto r = sys.spawn(requester, 0);
    spawned.push_back(r);
    return r;
  }

  /// A caller with a session of `gw`; REQUIREs the grant.
  caf::actor session_of(const caf::actor& gw, caf::actor& c) {
    c = caller();
    caf::anon_send(c, open_req::value, gw, remote_version);
    run();
    auto& st = state_of<requester_state>(c);
    REQUIRE(st.sessions.size() == 1u);
    spawned.push_back(st.sessions[0]);
    return st.sessions[0];
  }

  gateway_stats stats(const caf::actor& gw) {
    auto c = caller();
    caf::anon_send(c, stats_req::value, gw);
    run();
    return state_of<requester_state>(c).stats;
  }

  fake_bridge_state& fake() { return state_of<fake_bridge_state>(bridge); }
};

std::vector<call_spec> batch_of(std::initializer_list<std::uint32_t> ids) {
  std::vector<call_spec> out;
  for (auto id : ids)
    out.push_back({id, to_bytes("x" + std::to_string(id))});
  return out;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a session is granted with the gateway's "
                           "settings") {
  gateway_settings s;
  s.max_in_flight = 7;
  s.allowed = {66, 1, 66};
  s.deadline = 1234ms;
  s.max_message = 99;
  auto gw = gateway(s);
  caf::actor c;
  auto session = session_of(gw, c);
  const auto& g = state_of<requester_state>(c).grants.at(0);
  CHECK(g.version == remote_version);
  CHECK(g.credit == 7u);
  CHECK(g.deadline_ms == 1234u);
  CHECK(g.max_message == 99u);
  CHECK(g.allowed == std::vector<std::uint32_t>{1, 66});
  CHECK(session != gw);
  CHECK(stats(gw).sessions_opened == 1u);
  CHECK(stats(gw).sessions_live == 1u);
}

TEST_CASE_FIXTURE(fixture, "another protocol version or an anonymous caller "
                           "gets no session") {
  auto gw = gateway({});
  auto c = caller();
  caf::anon_send(c, open_req::value, gw, remote_version + 1);
  run();
  auto& st = state_of<requester_state>(c);
  CHECK(st.sessions.empty());
  REQUIRE(st.errors.size() == 1u);
  CHECK(is(st.errors[0], amp_errc::bad_request));
  CHECK(describe(st.errors[0]).find("this gateway speaks version 1") !=
        std::string::npos);
  caf::anon_send(gw, session_atom::value, remote_version); // no sender
  run();
  CHECK(stats(gw).sessions_opened == 0u);
}

TEST_CASE_FIXTURE(fixture, "the allow-list: refused requests are answered "
                           "not_allowed and never reach the bridge") {
  gateway_settings s;
  s.allowed = {1, 66};
  auto gw = gateway(s);
  caf::actor c;
  auto session = session_of(gw, c);
  caf::anon_send(c, batch_req::value, session, batch_of({1, 2, 66, 99}));
  caf::anon_send(c, one_req::value, session, std::uint32_t{2}, to_bytes("no"));
  caf::anon_send(c, one_req::value, session, std::uint32_t{66},
                 to_bytes("yes"));
  run();
  auto& st = state_of<requester_state>(c);
  REQUIRE(st.replies.size() == 1u);
  const auto& r = st.replies[0];
  REQUIRE(r.size() == 4u);
  CHECK(r[0].ok);
  CHECK(r[0].data == to_bytes("x1"));
  CHECK(is(r[1].error, amp_errc::not_allowed));
  CHECK(r[2].ok);
  CHECK(r[2].data == to_bytes("x66"));
  CHECK(is(r[3].error, amp_errc::not_allowed));
  REQUIRE(st.errors.size() == 1u);
  CHECK(is(st.errors[0], amp_errc::not_allowed));
  CHECK(st.singles == std::vector<bytes>{to_bytes("yes")});
  // The bridge saw the allowed ones only.
  CHECK(fake().seen == std::vector<std::uint32_t>{1, 66, 66});
  const auto x = stats(gw);
  CHECK(x.requests == 3u);
  CHECK(x.not_allowed == 3u);
}

TEST_CASE_FIXTURE(fixture, "the credit: beyond max_in_flight a request is "
                           "answered overloaded at once") {
  gateway_settings s;
  s.max_in_flight = 4;
  auto gw = gateway(s);
  caf::actor c;
  auto session = session_of(gw, c);
  fake().hold = true;
  caf::anon_send(c, batch_req::value, session, batch_of({1, 2, 3}));
  run();
  CHECK(fake().held.size() == 1u);
  // One more fits; the other two are refused while three are held.
  caf::anon_send(c, batch_req::value, session, batch_of({4, 5, 6}));
  run();
  auto& st = state_of<requester_state>(c);
  CHECK(st.replies.empty()); // the forwarded one is held too
  caf::anon_send(c, one_req::value, session, std::uint32_t{7}, to_bytes("z"));
  run();
  REQUIRE(st.errors.size() == 1u);
  CHECK(is(st.errors[0], amp_errc::overloaded));
  CHECK(fake().seen == std::vector<std::uint32_t>{1, 2, 3, 4});
  caf::anon_send(bridge, release_atom::value);
  run();
  REQUIRE(st.replies.size() == 2u);
  CHECK(st.replies[0].size() == 3u);
  const auto& second = st.replies[1];
  REQUIRE(second.size() == 3u);
  CHECK(second[0].ok);
  CHECK(second[0].data == to_bytes("x4"));
  CHECK(is(second[1].error, amp_errc::overloaded));
  CHECK(is(second[2].error, amp_errc::overloaded));
  CHECK(stats(gw).overloaded == 3u);
  // The credit is back.
  fake().hold = false;
  caf::anon_send(c, batch_req::value, session, batch_of({8, 9, 10, 11}));
  run();
  REQUIRE(st.replies.size() == 3u);
  for (const auto& x : st.replies[2])
    CHECK(x.ok);
}

TEST_CASE_FIXTURE(fixture, "the connection limit, and a caller that goes away "
                           "frees its connection once its requests are "
                           "answered") {
  gateway_settings s;
  s.max_connections = 1;
  auto gw = gateway(s);
  caf::actor first;
  auto session = session_of(gw, first);
  auto second = caller();
  caf::anon_send(second, open_req::value, gw, remote_version);
  run();
  auto& st2 = state_of<requester_state>(second);
  REQUIRE(st2.errors.size() == 1u);
  CHECK(is(st2.errors[0], amp_errc::overloaded));
  // The first caller has a request in the bridge and goes away.
  fake().hold = true;
  caf::anon_send(first, batch_req::value, session, batch_of({66}));
  run();
  REQUIRE(fake().held.size() == 1u);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  run();
  // Its session waits for the request (its entry is in the queue).
  CHECK(stats(gw).sessions_live == 1u);
  caf::anon_send(second, open_req::value, gw, remote_version);
  run();
  CHECK(st2.errors.size() == 2u);
  CHECK(st2.sessions.empty());
  // Answered (to nobody): the session ends, the connection is free.
  caf::anon_send(bridge, release_atom::value);
  run();
  const auto x = stats(gw);
  CHECK(x.sessions_live == 0u);
  CHECK(x.sessions_closed == 1u);
  CHECK(x.sessions_refused == 2u);
  caf::anon_send(second, open_req::value, gw, remote_version);
  run();
  CHECK(st2.sessions.size() == 1u);
  spawned.insert(spawned.end(), st2.sessions.begin(), st2.sessions.end());
}

TEST_CASE_FIXTURE(fixture, "a session serves its caller's node only: an "
                           "anonymous call never reaches the bridge") {
  auto gw = gateway({});
  caf::actor owner;
  auto session = session_of(gw, owner);
  // Same node here, so the check passes: a local stranger is served.
  auto other = caller();
  caf::anon_send(other, one_req::value, session, std::uint32_t{66},
                 to_bytes("hi"));
  run();
  CHECK(state_of<requester_state>(other).singles.size() == 1u);
  // An anonymous call (no sender, as a forged message would come) is not.
  caf::anon_send(session, call_atom::value, std::uint32_t{66}, to_bytes("x"));
  run();
  CHECK(fake().seen == std::vector<std::uint32_t>{66});
}

TEST_CASE_FIXTURE(fixture, "a bridge that ends without answering: the "
                           "session answers timeout after its patience and "
                           "ends") {
  gateway_settings s;
  s.deadline = 1000ms;
  auto gw = gateway(s);
  caf::actor c;
  auto session = session_of(gw, c);
  fake().hold = true;
  caf::anon_send(c, batch_req::value, session, batch_of({1, 2}));
  run();
  REQUIRE(fake().held.size() == 1u);
  // The bridge dies holding the request (its promise is dropped).
  caf::anon_send_exit(bridge, caf::exit_reason::kill);
  run();
  auto& st = state_of<requester_state>(c);
  CHECK(st.replies.empty());
  CHECK(st.errors.empty());
  // Calls after the bridge is gone are refused at once.
  caf::anon_send(c, one_req::value, session, std::uint32_t{1}, to_bytes("x"));
  run();
  REQUIRE(st.errors.size() == 1u);
  CHECK(is(st.errors[0], amp_errc::shutting_down));
  sched.clock().advance_time(2000ms);
  run();
  REQUIRE(st.errors.size() == 2u);
  CHECK(is(st.errors[1], amp_errc::timeout));
  CHECK(stats(gw).sessions_live == 0u);
}

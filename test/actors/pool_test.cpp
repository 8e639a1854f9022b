// The actor layer's parts with a home of their own: the pools' dispatch
// policies, credit per service (a stuck service does not starve another),
// the client actor's one in-flight budget. Deterministic: CAF's test
// coordinator, wake and tick delivered by hand.
#include "test/actors/bridge_fixture.hpp"

#include "actors/client_actor.hpp"
#include "actors/credit.hpp"
#include "actors/dispatch.hpp"

using namespace hyperamp;
using namespace hyperamp::actors;
using namespace hyperamp::actors::test;

namespace {

/// Runs one full cycle: client flush, service wake, client wake.
void cycle(bridge_fixture& f, const caf::actor& cb, const caf::actor& sb) {
  f.run();
  f.wake(sb);
  f.run();
  f.wake(cb);
  f.run();
}

void release_all() {
  for (auto& s : probe().slow)
    caf::anon_send(s, release_atom::value, std::uint32_t{1000});
}

/// Index (in spawn order) of the instance that handled job `k`.
std::size_t handler_of(std::size_t k) {
  return probe().index_of(probe().handled.at(k).instance);
}

} // namespace

TEST_SUITE_BEGIN("pools and credit");

TEST_CASE("dispatch policies pick by load or in turn, npos when all full") {
  auto ll = least_loaded();
  CHECK(ll({2, 0, 1}, 4) == 1);
  CHECK(ll({1, 1, 1}, 4) == 0); // the first of equals
  CHECK(ll({4, 4}, 4) == no_worker);
  auto rr = round_robin();
  CHECK(rr({0, 0, 0}, 4) == 0);
  CHECK(rr({0, 0, 0}, 4) == 1);
  CHECK(rr({0, 4, 0}, 4) == 2); // skips a full worker
  CHECK(rr({0, 4, 0}, 4) == 0);
  CHECK(rr({4, 4, 4}, 4) == no_worker);
}

TEST_CASE("the credit ledger: room per service, total of the positive") {
  credit_ledger c;
  CHECK(c.total_room() == 0);
  c.grant(1, 2);
  c.grant(5, 3);
  CHECK(c.total_room() == 5);
  c.spend(1);
  c.spend(1);
  c.spend(1); // a backlog in pool 1
  CHECK(c.room(1) == -1);
  CHECK(c.total_room() == 3); // pool 1 counts as zero, not minus one
  c.refund(1, 3);
  CHECK(c.room(1) == 2);
  CHECK(c.room(9) == 0);
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "least-loaded: an idle pool gives every job to its first "
                  "worker; round-robin takes them in turn") {
  auto s = service_defaults();
  s.workers = 3;
  SUBCASE("least loaded") {}
  SUBCASE("round robin") {
    s.dispatch = dispatch_kind::round_robin;
  }
  auto sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(client_defaults());
  REQUIRE(probe().instances.size() == 3);
  for (int i = 0; i < 6; ++i) { // one at a time: every worker idle again
    call(i, cb, k_slow_id, to_bytes("fast" + std::to_string(i)));
    cycle(*this, cb, sb);
    check_ok(i, to_bytes("fast" + std::to_string(i)));
  }
  REQUIRE(probe().handled.size() == 6);
  for (std::size_t k = 0; k < 6; ++k)
    CHECK(handler_of(k) ==
          (s.dispatch == dispatch_kind::round_robin ? k % 3 : 0));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a service whose workers are all stuck does not starve "
                  "another service") {
  auto s = service_defaults();
  s.workers = 1;
  s.worker_capacity = 2; // the slow pool's room: 2
  auto sb = spawn_service(s, table_with({slow_entry()}));
  auto cb = spawn_client(client_defaults());
  // Ten stuck jobs (two held by the worker, eight in the pool's backlog:
  // more than all pools' room together), queued ahead of echo requests in
  // the same batch.
  for (int i = 0; i < 10; ++i)
    call(i, cb, k_slow_id, to_bytes("S" + std::to_string(i)));
  for (int i = 10; i < 13; ++i)
    call(i, cb, 66, to_bytes("echo" + std::to_string(i)));
  cycle(*this, cb, sb);
  for (int i = 10; i < 13; ++i)
    check_ok(i, to_bytes("echo" + std::to_string(i)));
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(answered(i));
  CHECK(probe().max_holding == 2);
  // More echo while the slow service is still stuck.
  call(20, cb, 66, to_bytes("later"));
  cycle(*this, cb, sb);
  check_ok(20, to_bytes("later"));
  // Unstuck: every slow job completes, nothing leaks.
  for (int round = 0; round < 10 && log.answers.size() < 14; ++round) {
    release_all();
    run();
    wake(cb);
    run();
  }
  for (int i = 0; i < 10; ++i)
    check_ok(i, to_bytes("S" + std::to_string(i)));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "when every pool is full, requests stay in the shared "
                  "queue until credit comes back") {
  auto s = service_defaults();
  s.workers = 1;
  s.worker_capacity = 2;
  auto sb = spawn_service(s, {slow_entry()}); // the only service
  auto cb = spawn_client(client_defaults());
  for (int i = 0; i < 5; ++i)
    call(i, cb, k_slow_id, to_bytes("S" + std::to_string(i)));
  cycle(*this, cb, sb);
  CHECK(census().in_service == 2); // the pool's room
  CHECK(census().submitted == 3);  // the rest wait where a restart finds them
  for (int round = 0; round < 6 && log.answers.size() < 5; ++round) {
    release_all();
    run(); // credit returns: the bridge takes the next ones itself
    wake(cb);
    run();
  }
  for (int i = 0; i < 5; ++i)
    check_ok(i, to_bytes("S" + std::to_string(i)));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a client actor's budget is shared by single and batch "
                  "calls; beyond it the answer is overloaded at once") {
  auto s = service_defaults();
  s.workers = 1;
  s.worker_capacity = 8;
  auto sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(client_defaults());
  auto client = spawn_client_actor(sys, cb, 3);
  actors.push_back(client);
  // Two singles and a batch of one fill the budget of three.
  call(1, client, k_slow_id, to_bytes("S1"));
  call(2, client, k_slow_id, to_bytes("S2"));
  call_batch(3, client, {{k_slow_id, to_bytes("S3")}});
  run();
  CHECK_FALSE(answered(1));
  CHECK_FALSE(answered(2));
  CHECK(log.batches.count(3) == 0);
  // Beyond it: a single and a batch are refused at once, before any reply.
  call(4, client, k_slow_id, to_bytes("S4"));
  call_batch(5, client,
             {{k_slow_id, to_bytes("a")}, {k_slow_id, to_bytes("b")}});
  run();
  check_error(4, amp_errc::overloaded);
  REQUIRE(log.batches.count(5) == 1);
  REQUIRE(log.batches[5].size() == 2);
  for (const auto& a : log.batches[5])
    CHECK(is(a.err, amp_errc::overloaded));
  // The requests in flight complete; the budget is free again.
  wake(sb);
  run();
  release_all();
  run();
  wake(cb);
  run();
  check_ok(1, to_bytes("S1"));
  check_ok(2, to_bytes("S2"));
  REQUIRE(log.batches[3].size() == 1);
  CHECK(log.batches[3][0].ok);
  call(6, client, k_slow_id, to_bytes("after"));
  cycle(*this, cb, sb);
  check_ok(6, to_bytes("after"));
  CHECK(all_entries_free());
  teardown();
}

TEST_SUITE_END();

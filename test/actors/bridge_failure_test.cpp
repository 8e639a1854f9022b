// The bridges under failure and load: failing workers, a service zone that
// dies or restarts mid-batch, worker capacity, least-loaded dispatch.
#include "test/actors/bridge_fixture.hpp"

#include <algorithm>

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

/// Answers every job the slow instances hold (one round).
void release_all() {
  for (auto& s : probe().slow)
    caf::anon_send(s, release_atom::value, std::uint32_t{1000});
}

std::uint32_t total_holding() {
  std::uint32_t n = 0;
  for (auto& kv : probe().holding)
    n += kv.second;
  return n;
}

} // namespace

TEST_SUITE_BEGIN("bridge failures");

TEST_CASE_FIXTURE(bridge_fixture,
                  "a worker that throws fails its request and is replaced") {
  auto s = service_defaults();
  s.workers = 1; // no other worker could take the next request
  auto sb = spawn_service(s, table_with({failing_entry()}));
  auto cb = spawn_client(client_defaults());
  REQUIRE(probe().instances.size() == 1);
  call(1, cb, k_failing_id, to_bytes("ok before"));
  cycle(*this, cb, sb);
  check_ok(1, to_bytes("ok before"));
  call(2, cb, k_failing_id, to_bytes("Throw"));
  cycle(*this, cb, sb);
  check_error(2, amp_errc::service_failed);
  CHECK(probe().instances.size() == 2); // a replacement was spawned
  call(3, cb, k_failing_id, to_bytes("ok after"));
  cycle(*this, cb, sb);
  check_ok(3, to_bytes("ok after"));
  REQUIRE(probe().handled.size() == 3);
  CHECK(probe().handled[2].instance == probe().instances[1]);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a worker that quits without answering fails its request") {
  auto s = service_defaults();
  s.workers = 1;
  auto sb = spawn_service(s, table_with({failing_entry()}));
  auto cb = spawn_client(client_defaults());
  call(1, cb, k_failing_id, to_bytes("Quit"));
  cycle(*this, cb, sb);
  CHECK(census().in_service == 0); // not stranded with the dead worker
  check_error(1, amp_errc::service_failed);
  CHECK(probe().instances.size() == 2);
  call(2, cb, k_failing_id, to_bytes("ok after"));
  cycle(*this, cb, sb);
  check_ok(2, to_bytes("ok after"));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(
    bridge_fixture,
    "jobs queued at a failing worker fail and the rest are served") {
  auto s = service_defaults();
  s.workers = 1;
  s.worker_capacity = 4;
  auto sb = spawn_service(s, table_with({failing_entry()}));
  auto cb = spawn_client(client_defaults());
  // One batch: the first job kills the worker, the other three were already
  // in its mailbox.
  call(1, cb, k_failing_id, to_bytes("Throw"));
  call(2, cb, k_failing_id, to_bytes("x2"));
  call(3, cb, k_failing_id, to_bytes("x3"));
  call(4, cb, k_failing_id, to_bytes("x4"));
  cycle(*this, cb, sb);
  check_error(1, amp_errc::service_failed);
  for (int i = 2; i <= 4; ++i)
    check_error(i, amp_errc::service_failed); // bounced by the dead worker
  call(5, cb, k_failing_id, to_bytes("ok after"));
  cycle(*this, cb, sb);
  check_ok(5, to_bytes("ok after"));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "service zone dies mid-batch and a successor takes over") {
  auto c = client_defaults();
  c.peer_dead = 1s;
  auto s = service_defaults();
  s.workers = 1;
  s.worker_capacity = 2; // the old service takes 2 entries, 2 stay submitted
  auto old_sb = spawn_service(s, {slow_entry()});
  std::uint16_t slot = 0;
  auto cb = spawn_client(c, &slot);
  for (int i = 1; i <= 4; ++i)
    call(i, cb, k_slow_id, to_bytes("S" + std::to_string(i)));
  run();
  wake(old_sb);
  run();
  CHECK(total_holding() == 2);
  CHECK(census().in_service == 2);
  CHECK(census().submitted == 2);
  // The old service zone is gone from here on: it is never sent anything
  // again and never beats (its actor stands for a crashed process). Every
  // lock acquisition counts as a beat, so the client's silence clock starts
  // with the first tick that sees its last one.
  tick(cb);
  run();
  advance(999ms);
  tick(cb);
  run();
  for (int i = 1; i <= 4; ++i)
    CHECK_FALSE(answered(i)); // not dead yet
  advance(1ms);
  tick(cb);
  run();
  for (int i = 1; i <= 4; ++i)
    check_error(i, amp_errc::peer_down); // all at once
  call(5, cb, 66, to_bytes("while down"));
  run();
  check_error(5, amp_errc::peer_down);
  CHECK(client_stats(cb).submitted == 4);
  // A successor takes over the silent slot. It aborts the predecessor's
  // in-service entries and serves what was still submitted (here service 5
  // is an echo).
  auto echo5 = *services::find(66);
  echo5.id = k_slow_id;
  auto new_sb = spawn_service(service_defaults(), table_with({echo5}), true);
  tick(cb);
  run(); // the client sees a live service again
  wake(new_sb);
  run();
  CHECK(census().completed == 4);
  wake(cb);
  run();
  // Nobody is answered twice; every entry is back.
  for (int i = 1; i <= 4; ++i)
    check_error(i, amp_errc::peer_down);
  CHECK(log.unexpected == 0);
  CHECK(client_stats(cb).completed == 4);
  CHECK(client_stats(cb).stray == 0);
  CHECK(all_entries_free());
  // And the client works again.
  call(6, cb, 66, to_bytes("recovered"));
  cycle(*this, cb, new_sb);
  check_ok(6, to_bytes("recovered"));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "what a service published before it fell silent is "
                  "answered, not failed peer_down") {
  auto c = client_defaults();
  c.peer_dead = 1s;
  auto s = service_defaults();
  s.workers = 1;
  auto sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(c);
  call(1, cb, k_slow_id, to_bytes("fast 1"));
  call(2, cb, k_slow_id, to_bytes("fast 2"));
  call(3, cb, k_slow_id, to_bytes("Slow")); // held by the worker
  run();
  wake(sb);
  run();
  // Two completions are published; the client has not taken them (its
  // bell was rung, the wake never delivered) when the service dies.
  CHECK(census().completed == 2);
  CHECK(total_holding() == 1);
  tick(cb);
  run();
  advance(1s);
  tick(cb);
  run();
  check_ok(1, to_bytes("fast 1"));
  check_ok(2, to_bytes("fast 2"));
  check_error(3, amp_errc::peer_down);
  CHECK(census().completed == 0);
  CHECK(client_stats(cb).completed == 2);
  CHECK(log.unexpected == 0);
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a service that fell silent holding the lock: peer_down at "
                  "once, its completions are collected once the lock is free") {
  auto c = client_defaults();
  c.peer_dead = 1s;
  auto s = service_defaults();
  s.workers = 1;
  auto sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(c);
  call(1, cb, k_slow_id, to_bytes("fast 1"));
  call(2, cb, k_slow_id, to_bytes("fast 2"));
  run();
  wake(sb);
  run();
  CHECK(census().completed == 2);
  // The service dies inside a hold of queue_lock.
  auto& lock = region->header().queue_lock;
  lock.store(shm::make_lock_word(s.zone_id, shm::k_service_slot));
  tick(cb);
  run();
  advance(1s);
  tick(cb);
  run(); // would wait (in real time) for the lock's eviction if it took
  check_error(1, amp_errc::peer_down);
  check_error(2, amp_errc::peer_down);
  CHECK(region->header().lock_recoveries == 0);
  CHECK(census().completed == 2);
  // Another zone evicts the dead holder; the next wake gives the entries
  // back without answering anyone twice.
  lock.store(0);
  wake(cb);
  run();
  check_error(1, amp_errc::peer_down);
  check_error(2, amp_errc::peer_down);
  CHECK(census().completed == 0);
  CHECK(log.unexpected == 0);
  teardown();
}

TEST_CASE_FIXTURE(
    bridge_fixture,
    "requests in flight when the service restarts in an orderly way") {
  auto s = service_defaults();
  s.workers = 1;
  s.worker_capacity = 2; // 2 entries taken, 1 stays submitted
  auto old_sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(client_defaults());
  for (int i = 1; i <= 3; ++i)
    call(i, cb, k_slow_id, to_bytes("S" + std::to_string(i)));
  run();
  wake(old_sb);
  run();
  CHECK(census().in_service == 2);
  CHECK(census().submitted == 1);
  // An orderly exit of the service zone with two jobs held by its worker.
  caf::anon_send_exit(old_sb, caf::exit_reason::user_shutdown);
  run();
  CHECK_FALSE(shm::is_active(region->slot_at(shm::k_service_slot)));
  // A new service claims the free slot before the client notices.
  auto echo5 = *services::find(66);
  echo5.id = k_slow_id;
  auto new_sb = spawn_service(service_defaults(), table_with({echo5}));
  wake(new_sb);
  run();
  CHECK(census().in_service == 0); // the predecessor's jobs were ended
  wake(cb);
  run();
  // The held jobs are not lost: they end (aborted), the submitted one is
  // served by the successor, every entry comes back.
  int aborted = 0;
  for (int i = 1; i <= 3; ++i) {
    INFO("tag " << i);
    auto* a = find(i);
    REQUIRE(a != nullptr);
    CHECK(a->count == 1);
    if (!a->ok && is(a->err, amp_errc::aborted))
      ++aborted;
  }
  CHECK(aborted == 2);
  check_ok(3, to_bytes("S3"));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "a worker never holds more than worker_capacity jobs") {
  auto s = service_defaults();
  s.workers = 2;
  s.worker_capacity = 3;
  auto sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(client_defaults());
  const int n = 10;
  for (int i = 0; i < n; ++i)
    call(i, cb, k_slow_id, to_bytes("S" + std::to_string(i)));
  run();
  wake(sb);
  run();
  REQUIRE(probe().slow.size() == 2);
  CHECK(probe().max_holding == 3);
  CHECK(total_holding() == 6);
  CHECK(census().in_service == 6); // the rest wait in the shared queue
  CHECK(census().submitted == 4);
  // Answer one job at a time: each freed place is refilled, never exceeded.
  for (int round = 0; round < 4 * n && log.answers.size() < n; ++round) {
    caf::anon_send(probe().slow[static_cast<std::size_t>(round) % 2],
                   release_atom::value, std::uint32_t{1});
    run();
    CHECK(probe().max_holding <= 3);
    wake(cb);
    run();
  }
  for (int i = 0; i < n; ++i)
    check_ok(i, to_bytes("S" + std::to_string(i)));
  CHECK(probe().max_holding == 3);
  CHECK(probe().handled.size() == n);
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture, "least-loaded dispatch avoids busy workers") {
  auto s = service_defaults();
  s.workers = 3;
  auto sb = spawn_service(s, {slow_entry()});
  auto cb = spawn_client(client_defaults());
  REQUIRE(probe().instances.size() == 3);
  const auto a = probe().instances[0];
  const auto b = probe().instances[1];
  const auto c = probe().instances[2];
  // A slow job occupies a worker.
  call(1, cb, k_slow_id, to_bytes("S-first"));
  cycle(*this, cb, sb);
  REQUIRE(probe().handled.size() == 1);
  const auto busy = probe().handled[0].instance;
  CHECK(busy == a);
  // Fast jobs, one at a time: none goes to the busy worker.
  for (int i = 2; i <= 5; ++i) {
    call(i, cb, k_slow_id, to_bytes("fast" + std::to_string(i)));
    cycle(*this, cb, sb);
    check_ok(i, to_bytes("fast" + std::to_string(i)));
    CHECK(probe().handled.back().instance != busy);
  }
  // A second slow job goes to an idle worker, then fast ones to the third.
  call(6, cb, k_slow_id, to_bytes("S-second"));
  cycle(*this, cb, sb);
  const auto busy2 = probe().handled.back().instance;
  CHECK(busy2 != busy);
  for (int i = 7; i <= 9; ++i) {
    call(i, cb, k_slow_id, to_bytes("fast" + std::to_string(i)));
    cycle(*this, cb, sb);
    check_ok(i, to_bytes("fast" + std::to_string(i)));
    const auto w = probe().handled.back().instance;
    CHECK(w != busy);
    CHECK(w != busy2);
    CHECK((w == a || w == b || w == c));
  }
  // Let the slow ones finish.
  release_all();
  run();
  wake(cb);
  run();
  check_ok(1, to_bytes("S-first"));
  check_ok(6, to_bytes("S-second"));
  CHECK(all_entries_free());
  teardown();
}

TEST_SUITE_END();

// A region that heals itself: damage the peer (or a stray write) leaves in
// the shared lists and entries is found on the next operation that meets
// it, repaired under the lock, logged once and counted; no call outlives
// its deadline and no entry is leaked. Deterministic: the bridges on CAF's
// test coordinator, the damage written by the test into its own mapping.
#include "test/actors/bridge_fixture.hpp"

#include <random>

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

/// One second of virtual time and a tick for both bridges, then a cycle.
void second(bridge_fixture& f, const caf::actor& cb, const caf::actor& sb) {
  f.advance(std::chrono::seconds(1));
  f.tick(sb);
  f.tick(cb);
  cycle(f, cb, sb);
}

/// Every link, head and tag gets random bytes (a seeded generator).
void scramble(shm::region& r, std::uint32_t seed) {
  std::mt19937 rng{seed};
  auto any = [&rng] { return static_cast<std::uint32_t>(rng()); };
  auto& h = r.header();
  for (auto* w : {&h.free_head, &h.free_tail, &h.submitted_head,
                  &h.submitted_tail, &h.in_service_head, &h.in_service_tail})
    *w = rng() % 4 == 0 ? shm::k_nil : any() % (r.entry_count() + 3);
  for (std::uint32_t s = 0; s <= r.max_clients(); ++s)
    r.slot_at(s).completed_head = any() % (r.entry_count() + 3);
  for (std::uint32_t i = 0; i < r.entry_count(); ++i) {
    auto& e = r.entry_at(i);
    e.next = any() % (r.entry_count() + 3);
    e.prev = any() % (r.entry_count() + 3);
    shm::entry_tag t;
    t.list = static_cast<std::uint16_t>(any() % 8);
    t.slot = static_cast<std::uint16_t>(any() % (r.max_clients() + 2));
    t.gen = any();
    e.tag = shm::pack(t);
  }
}

} // namespace

TEST_SUITE_BEGIN("a region that heals itself");

TEST_CASE_FIXTURE(bridge_fixture,
                  "one broken link on the free list is repaired and the next "
                  "request completes") {
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(client_defaults());
  // The prev link of the second free entry set to nil: one 4-byte write.
  const std::uint32_t first = region->header().free_head;
  const std::uint32_t second_free = region->entry_at(first).next;
  region->entry_at(second_free).prev = shm::k_nil;
  call(1, cb, 66, to_bytes("after the damage"));
  cycle(*this, cb, sb);
  check_ok(1, to_bytes("after the damage"));
  const auto cs = client_stats(cb);
  CHECK(cs.corrupt >= 1);
  CHECK(cs.repairs >= 1);
  for (int i = 2; i < 10; ++i) {
    call(i, cb, 66, to_bytes("m" + std::to_string(i)));
    cycle(*this, cb, sb);
    check_ok(i, to_bytes("m" + std::to_string(i)));
  }
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "garbage links in every entry and every head: requests "
                  "complete after one repair") {
  auto sb = spawn_service(service_defaults());
  auto cb = spawn_client(client_defaults());
  std::mt19937 rng{7};
  for (std::uint32_t i = 0; i < region->entry_count(); ++i) {
    region->entry_at(i).next = static_cast<std::uint32_t>(rng());
    region->entry_at(i).prev = static_cast<std::uint32_t>(rng());
  }
  region->header().free_head = static_cast<std::uint32_t>(rng());
  for (int i = 0; i < 6; ++i)
    call(i, cb, 66, to_bytes("x" + std::to_string(i)));
  cycle(*this, cb, sb);
  for (int i = 0; i < 6; ++i)
    check_ok(i, to_bytes("x" + std::to_string(i)));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "random bytes in every head, link and tag while requests "
                  "are in flight: every call ends by its deadline, nothing "
                  "leaks, the zones keep serving") {
  std::uint32_t seed = 0;
  for (std::uint32_t k = 1; k <= 40; ++k) {
    const std::string name = "seed " + std::to_string(k);
    SUBCASE(name.c_str()) {
      seed = k;
    }
  }
  REQUIRE(seed > 0);
  auto s = service_defaults();
  s.workers = 1;
  // A slow service holds some requests in service, so the damage meets
  // work in every state.
  auto sb = spawn_service(s, table_with({slow_entry()}));
  auto cb = spawn_client(client_defaults());
  for (int i = 0; i < 3; ++i)
    call(i, cb, k_slow_id, to_bytes("S" + std::to_string(i)));
  for (int i = 3; i < 6; ++i)
    call(i, cb, 66, to_bytes("e" + std::to_string(i)));
  run();    // submitted
  wake(sb); // taken: three held by the slow worker
  run();
  call(6, cb, 66, to_bytes("queued")); // submitted, not taken yet
  run();
  scramble(*region, seed);
  // Six virtual seconds: past every deadline (5 s).
  for (int t = 0; t < 6; ++t) {
    for (auto& h : probe().slow)
      caf::anon_send(h, release_atom::value, std::uint32_t{100});
    second(*this, cb, sb);
  }
  for (int i = 0; i < 7; ++i) {
    INFO("call " << i);
    const auto* a = find(i);
    REQUIRE(a != nullptr); // ended, ok or with an error, by its deadline
    CHECK(a->count == 1);
  }
  // The zones keep serving, and the region is whole again.
  call(50, cb, 66, to_bytes("still here"));
  second(*this, cb, sb);
  check_ok(50, to_bytes("still here"));
  second(*this, cb, sb);
  {
    const auto c = census();
    INFO("census: free " << c.free << " client " << c.client << " submitted "
                         << c.submitted << " in_service " << c.in_service
                         << " completed " << c.completed << " consistent "
                         << c.consistent);
    std::string held;
    for (std::uint32_t i = 0; i < region->entry_count(); ++i) {
      const auto t = shm::tag_of(region->entry_at(i));
      if (t.list != static_cast<std::uint16_t>(shm::list_id::free))
        held += " " + std::to_string(i) + ":" + std::to_string(t.list) + "/" +
                std::to_string(t.slot);
    }
    INFO("entries not free (index:list/slot):" << held);
    CHECK(all_entries_free());
  }
  CHECK(stats(sb).corrupt + client_stats(cb).corrupt > 0); // found, counted
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "garbage in the in-service head while a request is in "
                  "service: its completion is still delivered, not given "
                  "up") {
  auto s = service_defaults();
  s.workers = 1;
  auto sb = spawn_service(s, table_with({slow_entry()}));
  auto cb = spawn_client(client_defaults());
  call(1, cb, k_slow_id, to_bytes("S-held"));
  run();    // submitted
  wake(sb); // taken: held by the slow worker, the only entry in service
  run();
  REQUIRE(region->header().in_service_head < region->entry_count());
  region->header().in_service_head = 0x00BADBADu; // one 4-byte write
  caf::anon_send(probe().slow.at(0), release_atom::value, std::uint32_t{1});
  run(); // the service completes it: the unlink meets the garbage head
  wake(cb);
  run();
  // No virtual time has passed: this is the completion, not a deadline.
  check_ok(1, to_bytes("S-held"));
  CHECK(stats(sb).corrupt >= 1);
  call(2, cb, 66, to_bytes("next"));
  cycle(*this, cb, sb);
  check_ok(2, to_bytes("next"));
  CHECK(all_entries_free());
  teardown();
}

TEST_CASE_FIXTURE(bridge_fixture,
                  "an entry that damage put back on the free list while its "
                  "request was in flight: when the client is handed it "
                  "again, that request is answered, never dropped") {
  auto s = service_defaults();
  s.workers = 1;
  auto sb = spawn_service(s, table_with({slow_entry()}));
  auto cb = spawn_client(client_defaults());
  call(1, cb, k_slow_id, to_bytes("S-lost"));
  run();
  wake(sb);
  run();
  const std::uint32_t held = region->header().in_service_head;
  REQUIRE(held < region->entry_count());
  // Damage retags the held entry free; the next repair (from the tags)
  // puts it on the free list under the request still in flight.
  {
    auto& e = region->entry_at(held);
    shm::entry_tag t = shm::tag_of(e);
    t.list = static_cast<std::uint16_t>(shm::list_id::free);
    t.slot = 0;
    e.tag = shm::pack(t);
  }
  // One echo at a time, without any virtual time passing (no deadline
  // fires): twice around the entries, so the client is handed `held`.
  // An echo that gets it while the slow worker still holds the old
  // request is aborted by the service (it cannot share that worker's
  // buffer); every other echo completes.
  const int n = static_cast<int>(2 * region->entry_count()) + 2;
  int aborted = 0;
  for (int i = 0; i < n; ++i) {
    const int tag = 10 + i;
    call(tag, cb, 66, to_bytes("e" + std::to_string(i)));
    cycle(*this, cb, sb);
    const auto* a = find(tag);
    REQUIRE(a != nullptr);
    CHECK(a->count == 1);
    if (a->ok) {
      CHECK(a->data == to_bytes("e" + std::to_string(i)));
    } else {
      CHECK_MESSAGE(is(a->err, amp_errc::aborted), describe(a->err));
      ++aborted;
    }
  }
  CHECK(aborted >= 1);
  // The held request's entry was reused: it was answered then, once.
  check_error(1, amp_errc::corrupt);
  CHECK(client_stats(cb).corrupt >= 1);
  // The slow worker's late answer for the reused entry is not taken for
  // anyone's, and nothing leaks.
  caf::anon_send(probe().slow.at(0), release_atom::value, std::uint32_t{1});
  second(*this, cb, sb);
  second(*this, cb, sb);
  CHECK(find(1)->count == 1);
  call(99, cb, 66, to_bytes("still here"));
  cycle(*this, cb, sb);
  check_ok(99, to_bytes("still here"));
  CHECK(all_entries_free());
  teardown();
}

TEST_SUITE_END();

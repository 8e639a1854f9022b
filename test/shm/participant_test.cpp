// Participant slots and liveness: claims, release, service takeover, and
// the liveness monitor driven by synthetic time points (no sleeping).
#include "shm/participant.hpp"
#include "shm/region.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
using namespace std::chrono_literals;
namespace t = hyperamp::shm::test;
using tp = std::chrono::steady_clock::time_point;

TEST_CASE("participant: claim_client gives distinct slots until no_slot") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant p[5];
  std::set<std::uint32_t> got;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(participant::claim_client(r, 3, p[i]) == status::ok);
    CHECK(p[i].valid());
    CHECK(p[i].index() >= 1);
    CHECK(p[i].index() <= 4);
    CHECK(p[i].epoch() == 1);
    CHECK_FALSE(p[i].took_over());
    const slot& s = r.slot_at(p[i].index());
    CHECK(is_active(s));
    CHECK(s.pid == static_cast<std::uint32_t>(::getpid()));
    CHECK(s.zone_id == 3);
    CHECK(s.heartbeat.load() >= 1);
    got.insert(p[i].index());
  }
  CHECK(got.size() == 4);
  CHECK_FALSE(is_active(r.slot_at(k_service_slot))); // never a client
  CHECK(participant::claim_client(r, 3, p[4]) == status::no_slot);
  CHECK_FALSE(p[4].valid());

  // Release frees the slot; the next claim gets it with a new epoch.
  const std::uint32_t freed = p[1].index();
  p[1].release();
  CHECK_FALSE(p[1].valid());
  CHECK_FALSE(is_active(r.slot_at(freed)));
  p[1].release(); // idempotent
  CHECK_FALSE(is_active(r.slot_at(freed)));
  REQUIRE(participant::claim_client(r, 5, p[4]) == status::ok);
  CHECK(p[4].index() == freed);
  CHECK(p[4].epoch() == 2);
  CHECK(r.slot_at(freed).zone_id == 5);
}

TEST_CASE("participant: concurrent claims never share a slot") {
  t::test_region tr(16, 8);
  region& r = *tr;
  constexpr int n = 12; // more claimants than slots
  std::vector<participant> p(n);
  std::vector<status> st(n, status::busy);
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      ++ready;
      while (ready.load() < n)
        std::this_thread::yield();
      st[static_cast<std::size_t>(i)] =
          participant::claim_client(r, 1, p[static_cast<std::size_t>(i)]);
    });
  for (auto& th : ts)
    th.join();
  std::set<std::uint32_t> got;
  int ok = 0, none = 0;
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (st[k] == status::ok) {
      ++ok;
      CHECK(got.insert(p[k].index()).second);
    } else {
      CHECK(st[k] == status::no_slot);
      ++none;
    }
  }
  CHECK(ok == 8);
  CHECK(none == 4);
}

TEST_CASE("participant: beat moves the heartbeat") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant p;
  REQUIRE(participant::claim_client(r, 1, p) == status::ok);
  const auto b = r.slot_at(p.index()).heartbeat.load();
  p.beat();
  p.beat();
  CHECK(r.slot_at(p.index()).heartbeat.load() == b + 2);
  p.release();
  CHECK(r.slot_at(1).heartbeat.load() == 0); // left in order: claimable
  p.beat(); // after release: a no-op, not a write to a slot we left
  CHECK(r.slot_at(1).heartbeat.load() == 0);
}

TEST_CASE("participant: claim_service on a live service gives peer_alive") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant service;
  REQUIRE(participant::claim_service(r, 1, 10s, service) == status::ok);
  CHECK(service.index() == k_service_slot);
  CHECK_FALSE(service.took_over());
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> beats{0};
  std::thread beater([&] {
    while (!stop.load()) {
      service.beat();
      ++beats;
    }
  });
  while (beats.load() == 0) // the beater is running
    std::this_thread::yield();
  // A long dead_after: claim_service returns as soon as it sees a beat, so
  // a live peer is never taken over however slow this machine is.
  participant second;
  CHECK(participant::claim_service(r, 2, 10s, second) == status::peer_alive);
  CHECK_FALSE(second.valid());
  stop = true;
  beater.join();
  CHECK(r.slot_at(k_service_slot).zone_id == 1);
  CHECK(read_owner(r.slot_at(k_service_slot)).epoch == 1);
}

TEST_CASE("participant: claim_service takes over a silent service") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant dead;
  REQUIRE(participant::claim_service(r, 1, 50ms, dead) == status::ok);
  // `dead` never beats again.
  participant next;
  REQUIRE(participant::claim_service(r, 2, 50ms, next) == status::ok);
  CHECK(next.took_over());
  CHECK(next.index() == k_service_slot);
  CHECK(next.epoch() == 2);
  CHECK(r.slot_at(k_service_slot).zone_id == 2);
  CHECK(is_active(r.slot_at(k_service_slot)));
}

TEST_CASE("participant: liveness_monitor judges by the observer's clock") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant p;
  REQUIRE(participant::claim_client(r, 1, p) == status::ok);
  const std::uint32_t i = p.index();
  liveness_monitor mon(r, 100ms);
  const tp t0 = tp{} + 1h; // synthetic: nobody sleeps in this test

  SUBCASE("a silent slot is dead only after dead_after") {
    CHECK_FALSE(mon.dead(i, t0)); // first sight
    CHECK_FALSE(mon.dead(i, t0 + 50ms));
    CHECK_FALSE(mon.dead(i, t0 + 100ms - 1ns));
    CHECK(mon.dead(i, t0 + 100ms));
    CHECK(mon.dead(i, t0 + 10s));
    // One beat and it is alive again, with a fresh window.
    p.beat();
    CHECK_FALSE(mon.dead(i, t0 + 11s));
    CHECK_FALSE(mon.dead(i, t0 + 11s + 99ms));
    CHECK(mon.dead(i, t0 + 11s + 100ms));
  }
  SUBCASE("a beating slot is never dead") {
    tp now = t0;
    for (int k = 0; k < 1000; ++k) {
      CHECK_FALSE(mon.dead(i, now));
      p.beat();
      now += 1s; // ten times dead_after between samples
    }
  }
  SUBCASE("a free slot is never dead") {
    CHECK(mon.dead(2, t0) == false);
    CHECK(mon.dead(2, t0 + 1h) == false);
    CHECK_FALSE(mon.dead(i, t0));
    p.release();
    CHECK_FALSE(mon.dead(i, t0 + 1h));
  }
  SUBCASE("a new owner is a new life") {
    CHECK_FALSE(mon.dead(i, t0));
    const auto beat = r.slot_at(i).heartbeat.load();
    p.release();
    participant q;
    REQUIRE(participant::claim_client(r, 1, q) == status::ok);
    REQUIRE(q.index() == i);
    // Even with the old heartbeat value, the epoch moved: a new life.
    r.slot_at(i).heartbeat.store(beat);
    CHECK_FALSE(mon.dead(i, t0 + 1h));
    CHECK(mon.dead(i, t0 + 1h + 100ms));
  }
  SUBCASE("reset forgets what was seen") {
    CHECK_FALSE(mon.dead(i, t0));
    CHECK(mon.dead(i, t0 + 200ms));
    mon.reset(i);
    CHECK_FALSE(mon.dead(i, t0 + 300ms));
    CHECK(mon.dead(i, t0 + 400ms));
  }
}

TEST_CASE("participant: a dead client process is seen dead, a live one not") {
  // A forked child claims a slot and exits without releasing it; the slot
  // stays active with a heartbeat nobody moves.
  t::test_region tr(16, 4);
  region& r = *tr;
  const std::string path = tr.file.path;
  const pid_t pid = t::spawn([&] {
    region_options o = t::small_options(path);
    o.create = create_mode::attach;
    auto res = region::open(o);
    if (!res)
      return 2;
    participant p;
    if (participant::claim_client(*res.value, 9, p) != status::ok)
      return 3;
    return static_cast<int>(p.index());
  });
  const int idx = t::wait_child(pid);
  REQUIRE(idx >= 1);
  REQUIRE(idx <= 4);
  const auto i = static_cast<std::uint32_t>(idx);
  CHECK(is_active(r.slot_at(i)));
  CHECK(r.slot_at(i).zone_id == 9);
  participant mine;
  REQUIRE(participant::claim_client(r, 1, mine) == status::ok);
  CHECK(mine.index() != i);
  liveness_monitor mon(r, 100ms);
  const tp t0 = tp{} + 2h;
  CHECK_FALSE(mon.dead(i, t0));
  CHECK_FALSE(mon.dead(mine.index(), t0));
  mine.beat();
  CHECK(mon.dead(i, t0 + 100ms));
  CHECK_FALSE(mon.dead(mine.index(), t0 + 100ms));
}

TEST_CASE("participant: a stalled predecessor's release leaves the "
          "successor's slot alone") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant old_service;
  REQUIRE(participant::claim_service(r, 1, 10s, old_service) == status::ok);
  // The old service stalls (no beats); a successor declares it dead.
  participant successor;
  REQUIRE(participant::claim_service(r, 2, 1ms, successor) == status::ok);
  CHECK(successor.took_over());
  // The old service wakes up and exits in an orderly way.
  old_service.release();
  CHECK(is_active(r.slot_at(k_service_slot)));
  successor.release();
  CHECK_FALSE(is_active(r.slot_at(k_service_slot)));
}

TEST_CASE("slot protocol: the race of the two-word protocol, step by step, "
          "no longer frees the successor's slot") {
  // The interleaving an outside tester found with state and epoch in two
  // words: (1) a stalled owner checks that the epoch is still its own,
  // (2) the reaper evicts it, (3) a new client claims the slot, (4) the
  // stalled owner's store of `free` frees the new client's slot.
  t::test_region tr(16, 4);
  region& r = *tr;
  participant stalled;
  REQUIRE(participant::claim_client(r, 3, stalled) == status::ok);
  slot& s = r.slot_at(stalled.index());
  const std::uint32_t e = stalled.epoch();

  // (1) What the stalled owner saw before it stopped.
  const owner_word checked = read_owner(s);
  REQUIRE(checked.active());
  REQUIRE(checked.epoch == e);
  // (2) The reaper found it silent and evicts it: free, with a new epoch.
  REQUIRE(try_evict(s, e));
  CHECK(read_owner(s).epoch == e + 1);
  CHECK_FALSE(is_active(s));
  // (3) A new client claims the slot.
  participant successor;
  REQUIRE(participant::claim_client(r, 4, successor) == status::ok);
  REQUIRE(successor.index() == stalled.index());
  CHECK(successor.epoch() == e + 2);

  SUBCASE("the old protocol's step (4) would have freed the successor") {
    // Replayed on a copy of the slot word: the check of step (1) passed,
    // so the old code stored `free` into the state half regardless.
    std::uint64_t word = s.owner.load();
    if (checked.epoch == e) // the check the old release made, long ago
      word = (word & ~std::uint64_t{0xFFFFFFFF}) |
             static_cast<std::uint32_t>(slot_state::free);
    CHECK_FALSE(unpack(word).active()); // the successor's slot, gone
  }
  SUBCASE("the new protocol's release is one CAS that names its epoch") {
    stalled.release(); // (4): expects active(e), finds active(e + 2)
    CHECK(is_active(s));
    CHECK(read_owner(s).epoch == e + 2);
    CHECK_FALSE(try_release(s, e));
    CHECK_FALSE(try_evict(s, e)); // a late second reaper, just as harmless
    CHECK(is_active(s));
    successor.release();
    CHECK_FALSE(is_active(s));
    CHECK(read_owner(s).epoch == e + 2);
  }
}

TEST_CASE("slot protocol: each transition starts only from its own word") {
  t::test_region tr(16, 4);
  slot& s = tr->slot_at(1);
  std::uint32_t e = 0;
  REQUIRE(try_claim(s, &e));
  CHECK(e == 1);
  CHECK_FALSE(try_claim(s, &e));  // active: nobody else claims it
  CHECK_FALSE(try_release(s, 2)); // not our epoch
  REQUIRE(try_take_over(s, 1));   // active(1) -> active(2)
  CHECK_FALSE(try_release(s, 1));
  REQUIRE(try_release(s, 2));   // active(2) -> free(2)
  CHECK_FALSE(try_evict(s, 2)); // free: nothing to evict
  REQUIRE(try_claim(s, &e));
  CHECK(e == 3);
  // A garbage state word reads as free and can be claimed.
  s.owner.store((std::uint64_t{7} << 32) | 0xABCDu);
  CHECK_FALSE(is_active(s));
  REQUIRE(try_claim(s, &e));
  CHECK(e == 8);
}

TEST_CASE("slot protocol: silence is judged on the observer's clock") {
  silence_watch w{100ms};
  const tp t0 = tp{} + 1h;
  CHECK_FALSE(w.silent(1, 5, t0));
  CHECK_FALSE(w.silent(1, 5, t0 + 99ms));
  CHECK(w.silent(1, 5, t0 + 100ms));
  CHECK_FALSE(w.silent(1, 6, t0 + 150ms)); // a beat: alive again
  CHECK_FALSE(w.silent(2, 6, t0 + 300ms)); // a new identity: a new life
  CHECK(w.silent(2, 6, t0 + 400ms));
  w.reset();
  CHECK_FALSE(w.silent(2, 6, t0 + 500ms));
}

TEST_CASE("slot protocol: a free slot that still beats is not claimed on "
          "trust") {
  t::test_region tr(16, 2);
  region& r = *tr;
  participant first;
  REQUIRE(participant::claim_service(r, 1, 10s, first) == status::ok);
  // Its state word is cleared while it lives (a damaged region).
  r.slot_at(k_service_slot)
      .owner.store(std::uint64_t{first.epoch()} << 32); // free, same epoch
  CHECK_FALSE(is_active(r.slot_at(k_service_slot)));
  CHECK_FALSE(claimable(r.slot_at(k_service_slot)));
  // A second service watches the heartbeat first; the first one beats.
  std::atomic<bool> stop{false};
  std::thread beater{[&] {
    while (!stop.load()) {
      first.beat();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }};
  participant second;
  // (It answers as soon as it sees a beat; the long watch costs nothing.)
  CHECK(participant::claim_service(r, 2, 5s, second) == status::peer_alive);
  stop = true;
  beater.join();
  // The first one puts its word back on its next check.
  CHECK(first.check() == self_check::repaired);
  CHECK(is_active(r.slot_at(k_service_slot)));
  CHECK(first.check() == self_check::ours);
  // Clients skip a free client slot that beats; the reaper clears it once
  // it stayed still for dead_after.
  participant c;
  REQUIRE(participant::claim_client(r, 3, c) == status::ok);
  const auto idx = c.index();
  r.slot_at(idx).owner.store(0); // damaged to free, epoch 0
  participant other;
  REQUIRE(participant::claim_client(r, 4, other) == status::ok);
  CHECK(other.index() != idx);
  liveness_monitor mon(r, 100ms);
  const tp t0 = tp{} + 3h;
  CHECK_FALSE(mon.silent_leftover(idx, t0));
  c.beat(); // alive: the watch starts again
  CHECK_FALSE(mon.silent_leftover(idx, t0 + 100ms));
  CHECK(mon.silent_leftover(idx, t0 + 200ms));
}

TEST_CASE("slot protocol: an owner that was replaced finds out") {
  t::test_region tr(16, 2);
  region& r = *tr;
  participant old_owner;
  REQUIRE(participant::claim_client(r, 1, old_owner) == status::ok);
  slot& s = r.slot_at(old_owner.index());
  REQUIRE(try_evict(s, old_owner.epoch())); // declared dead while stopped
  CHECK(old_owner.check() == self_check::lost);
  participant next;
  REQUIRE(participant::claim_client(r, 2, next) == status::ok);
  REQUIRE(next.index() == old_owner.index());
  CHECK(old_owner.check() == self_check::lost);
  CHECK(next.check() == self_check::ours);
}

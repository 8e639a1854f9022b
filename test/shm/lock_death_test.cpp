// The cross-zone lock when its holder dies, and when it does not.
//
// A dead holder: a forked child maps the region, claims a slot, takes the
// lock, leaves a list operation half done (as the primitives would if the
// process died between two stores), tells the parent "locked" through a
// pipe, and dies holding the lock. The parent waits for that byte, reaps the
// child with waitpid, and only then locks: it must get `recovered` (after
// dead_after of an unchanged lock word and heartbeat) and the queue must be
// consistent again.
//
// A live holder that keeps beating is never evicted, however long it holds;
// a silent one is (the control experiment, same timings). Both run on a
// clock the test drives, so no verdict depends on thread scheduling.
#include "shm/lists.hpp"
#include "shm/participant.hpp"
#include "shm/queue.hpp"
#include "shm/zone_lock.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
using hyperamp::shm::test::list_of;
using hyperamp::shm::test::set_list;
using hyperamp::shm::test::set_slot;
using hyperamp::shm::test::slot_of;
using namespace std::chrono_literals;
namespace t = hyperamp::shm::test;

namespace {

constexpr auto tag(list_id id) {
  return static_cast<std::uint16_t>(id);
}

lock_options quick_eviction() {
  lock_options o;
  o.spin_limit = 8;
  o.dead_after = 200ms;
  return o;
}

enum class death { sigkill, exit };

/// What the child leaves behind, half done, before it dies.
enum class half_op {
  /// acquire: the free head retagged as owned, still linked into free.
  acquire,
  /// submit: an owned entry retagged submitted and linked from the old
  /// tail, but the list's tail word not yet moved.
  submit,
};

/// Forks a child that dies holding the lock of the region at `path` after
/// leaving `op` half done. Returns the child's slot. The parent side
/// returns only after the child is dead and reaped.
std::uint16_t kill_holder(const std::string& path, half_op op, death how,
                          std::uint32_t owned_idx) {
  t::event_pipe locked;
  t::event_pipe slot_of_child;
  const pid_t pid = t::spawn([&] {
    region_options o = t::small_options(path);
    o.create = create_mode::attach;
    auto res = region::open(o);
    if (!res)
      return 2;
    region& r = *res.value;
    participant me;
    if (participant::claim_client(r, 2, me) != status::ok)
      return 3;
    zone_lock lock(r, me.index(), 2);
    if (lock.lock() != status::ok)
      return 4;
    region_header& h = r.header();
    if (op == half_op::acquire) {
      entry& e = r.entry_at(h.free_head);
      set_list(e, tag(list_id::client)); // the first store of unlink()
      set_slot(e, static_cast<std::uint16_t>(me.index()));
    } else {
      // owned_idx belongs to slot 1 (the parent acquired it).
      entry& e = r.entry_at(owned_idx);
      set_list(e, tag(list_id::submitted));
      e.next = k_nil;
      e.prev = h.submitted_tail;
      if (h.submitted_tail == k_nil)
        h.submitted_head = owned_idx;
      else
        r.entry_at(h.submitted_tail).next = owned_idx;
      // ... and dies before `submitted_tail = owned_idx`.
    }
    slot_of_child.signal(static_cast<char>(me.index()));
    locked.signal('L');
    if (how == death::sigkill)
      ::kill(::getpid(), SIGKILL);
    return 0; // _exit(0) with the lock held
  });
  const char s = slot_of_child.wait();
  REQUIRE(locked.wait() == 'L');
  const int rc = t::wait_child(pid);
  CHECK(rc == (how == death::sigkill ? 128 + SIGKILL : 0));
  return static_cast<std::uint16_t>(s);
}

} // namespace

TEST_CASE("lock: a holder that died holding the lock is evicted: recovered") {
  t::test_region tr(16, 4);
  region& r = *tr;
  death how = death::sigkill;
  SUBCASE("killed by SIGKILL") {
    how = death::sigkill;
  }
  SUBCASE("exited with _exit(0)") {
    how = death::exit;
  }
  const std::uint16_t child =
      kill_holder(tr.file.path, half_op::acquire, how, 0);
  REQUIRE(child >= 1);
  REQUIRE(child <= 4);
  // The dead child still holds the lock, and its half-done pop shows.
  CHECK(r.header().queue_lock.load() == make_lock_word(2, child));
  lists L(r);
  CHECK_FALSE(L.census().consistent);

  zone_lock mine(r, k_service_slot, 1, quick_eviction());
  CHECK_FALSE(mine.try_lock());
  CHECK(mine.lock() == status::recovered);
  CHECK(r.header().queue_lock.load() == mine.word());
  CHECK(r.header().lock_recoveries == 1);
  // The caller repairs what the holder left: the half-popped entry stays
  // with the dead child's slot, to be reaped.
  L.repair();
  const list_census c = L.census();
  CHECK(c.consistent);
  CHECK(c.client == 1);
  CHECK(c.free == 15);
  mine.unlock();
  CHECK(r.header().queue_lock.load() == 0);
  // The next acquisition is an ordinary one.
  CHECK(mine.lock() == status::ok);
  mine.unlock();
  CHECK(r.header().lock_recoveries == 1);
}

TEST_CASE("lock: queue<zone_lock> repairs what a dead holder left half done") {
  t::test_region tr(16, 4);
  region& r = *tr;
  zone_lock lock(r, k_service_slot, 1, quick_eviction());
  test::test_queue<zone_lock> q(r, lock);
  // Slot 1 (this process playing a client): entries 0 and 1 submitted, 2
  // owned; free: 3..15. Claimed, so that the child gets another slot.
  participant me;
  REQUIRE(participant::claim_client(r, 1, me) == status::ok);
  REQUIRE(me.index() == 1);
  std::uint32_t mine[3];
  REQUIRE(q.acquire(1, mine, 3).count == 3);
  REQUIRE(q.submit(1, mine, 2).count == 2);
  REQUIRE(mine[2] == 2);

  SUBCASE("died half way through an acquire") {
    const auto child =
        kill_holder(tr.file.path, half_op::acquire, death::sigkill, mine[2]);
    const list_census c = q.census(); // locks: recovered, then repairs
    CHECK(r.header().lock_recoveries == 1);
    CHECK(c.consistent);
    CHECK(c.client == 2); // ours and the dead child's
    CHECK(c.submitted == 2);
    CHECK(c.free == 12);
    CHECK(child != 1);
    CHECK(slot_of(r.entry_at(3)) == child);
    CHECK(q.reap_client(child) == 1);
    CHECK(q.census().free == 13);
  }
  SUBCASE("died half way through a submit") {
    kill_holder(tr.file.path, half_op::submit, death::sigkill, mine[2]);
    const list_census c = q.census();
    CHECK(r.header().lock_recoveries == 1);
    CHECK(c.consistent);
    CHECK(c.submitted == 3);
    CHECK(c.client == 0);
    CHECK(c.free == 13);
  }
  // Either way the queue works on: serve everything that is submitted.
  std::uint32_t got[16];
  const batch_result b = q.take_submitted(got, 16);
  CHECK(b.st == status::empty);
  CHECK(b.count >= 2);
  CHECK(got[0] == 0);
  CHECK(got[1] == 1);
  CHECK(q.complete(got, b.count).count == b.count);
  CHECK(q.census().consistent);
  CHECK(r.header().queue_lock.load() == 0);
  CHECK(r.header().lock_recoveries == 1);
}

/// The waiter's clock in the live-holder tests: every read moves it on by
/// `step`. With `beats` set, a read first waits until the holder has beaten
/// since the previous read (or has let go): however the threads are
/// scheduled, the waiter never sees time pass without a beat.
struct driven_clock {
  std::chrono::steady_clock::time_point t{};
  std::chrono::milliseconds step{10};
  std::atomic<std::uint64_t>* beats = nullptr;
  std::atomic<bool>* released = nullptr;
  std::uint64_t last_beat = 0;
  std::atomic<std::uint64_t> reads{0};

  static std::chrono::steady_clock::time_point read(void* self) {
    auto& c = *static_cast<driven_clock*>(self);
    if (c.beats != nullptr) {
      while (c.beats->load() == c.last_beat && !c.released->load())
        std::this_thread::yield();
      c.last_beat = c.beats->load();
    }
    c.reads.fetch_add(1);
    return c.t += c.step;
  }

  lock_options options(std::chrono::milliseconds dead_after) {
    lock_options o;
    o.spin_limit = 8;
    o.dead_after = dead_after;
    o.clock = &driven_clock::read;
    o.clock_ctx = this;
    return o;
  }
};

TEST_CASE("lock: a live holder that keeps beating is never evicted") {
  t::test_region tr(16, 4);
  region& r = *tr;
  participant holder_slot;
  REQUIRE(participant::claim_client(r, 1, holder_slot) == status::ok);
  std::atomic<bool> held{false}, released{false};
  std::atomic<std::uint64_t> progress{0};
  driven_clock clock;
  clock.beats = &progress;
  clock.released = &released;
  // dead_after is 4 reads of the waiter's clock; the holder keeps the lock
  // for 40 of them (ten dead_after periods), beating all the while.
  const auto watchful = clock.options(40ms);
  status holder_status = status::busy;
  std::uint64_t final_progress = 0;
  std::thread holder([&] {
    zone_lock h(r, holder_slot.index(), 1);
    holder_status = h.lock();
    held = true;
    std::uint64_t n = 0;
    // (Or until it was evicted: then the waiter has failed, no hang.)
    while (clock.reads.load() < 40 &&
           r.header().queue_lock.load() == h.word()) {
      holder_slot.beat();
      progress.store(++n);
    }
    final_progress = n;
    h.unlock();
    released = true;
  });
  while (!held)
    std::this_thread::yield();
  zone_lock w(r, 2, 1, watchful);
  const status st = w.lock();
  const std::uint64_t seen = progress.load();
  holder.join();
  CHECK(holder_status == status::ok);
  CHECK(st == status::ok);
  CHECK(clock.reads.load() >= 40u); // ten dead_after periods went by
  CHECK(seen == final_progress);    // got in only after the holder let go
  CHECK(r.header().lock_recoveries == 0);
  CHECK(r.header().queue_lock.load() == w.word());
  w.unlock();
}

TEST_CASE("lock: a silent holder is evicted (control for the live case)") {
  t::test_region tr(16, 4);
  region& r = *tr;
  driven_clock clock; // no beats to wait for: time passes in silence
  zone_lock silent(r, 1, 1);
  REQUIRE(silent.lock() == status::ok);
  // The holder never runs again (same thread): its heartbeat stands still.
  zone_lock w(r, 2, 1, clock.options(40ms));
  CHECK(w.lock() == status::recovered);
  // Silence is first seen at one read and judged dead_after later.
  CHECK(clock.reads.load() == 5u);
  CHECK(r.header().lock_recoveries == 1);
  CHECK(r.header().queue_lock.load() == w.word());
  w.unlock();
}

TEST_CASE("lock: try_lock, the lock word and the heartbeat") {
  t::test_region tr(16, 4);
  region& r = *tr;
  zone_lock a(r, 1, 7), b(r, 3, 9);
  CHECK(a.word() == ((7u << 16) | 2u));
  CHECK(b.word() == make_lock_word(9, 3));
  const auto beat = r.slot_at(1).heartbeat.load();
  CHECK(a.try_lock());
  CHECK(r.slot_at(1).heartbeat.load() == beat + 1); // every hold is a beat
  CHECK(r.header().queue_lock.load() == a.word());
  CHECK_FALSE(b.try_lock());
  CHECK_FALSE(a.try_lock()); // not recursive
  a.unlock();
  CHECK(r.header().queue_lock.load() == 0);
  CHECK(b.try_lock());
  b.unlock();
  null_lock n;
  CHECK(n.try_lock());
  CHECK(n.lock() == status::ok);
  n.unlock();
}

TEST_CASE("lock: a garbage lock word is evicted") {
  t::test_region tr(16, 4);
  region& r = *tr;
  lock_options o;
  o.spin_limit = 4;
  o.dead_after = 20ms;
  zone_lock w(r, 1, 1, o);
  SUBCASE("slot index past max_clients") {
    r.header().queue_lock.store(0xABCDFFFFu);
  }
  SUBCASE("slot field zero") {
    r.header().queue_lock.store(0x00050000u);
  }
  SUBCASE("a client slot nobody owns") {
    r.header().queue_lock.store(make_lock_word(3, 4));
  }
  CHECK(w.lock() == status::recovered);
  CHECK(r.header().lock_recoveries == 1);
  w.unlock();
}

TEST_CASE("lock: mutual exclusion between threads") {
  t::test_region tr(16, 4);
  region& r = *tr;
  const std::size_t per_thread = t::scaled(200'000, 20'000);
  std::uint64_t counter = 0; // plain: only the lock protects it
  std::uint64_t inside = 0;
  std::uint64_t overlaps = 0;
  std::atomic<std::uint64_t> not_ok{0};
  lock_options patient;
  patient.dead_after = 30s; // a preempted holder is not a dead one
  std::vector<std::thread> ts;
  for (std::uint32_t k = 0; k < 4; ++k)
    ts.emplace_back([&, k] {
      zone_lock l(r, k, 1, patient);
      for (std::size_t i = 0; i < per_thread; ++i) {
        if (l.lock() != status::ok)
          ++not_ok;
        overlaps += inside++ != 0;
        ++counter;
        --inside;
        l.unlock();
      }
    });
  for (auto& th : ts)
    th.join();
  CHECK(counter == 4 * per_thread);
  CHECK(overlaps == 0);
  CHECK(not_ok.load() == 0);
  CHECK(r.header().lock_recoveries == 0);
}

TEST_CASE("lock: an evicted holder's unlock leaves its evictor's hold alone") {
  t::test_region tr(16, 4);
  region& r = *tr;
  zone_lock stalled(r, 1, 7, lock_options{16, 10s});
  zone_lock evictor(r, 2, 7, lock_options{16, 1ms});
  REQUIRE(stalled.try_lock());
  // The stalled holder never beats again: the evictor takes the lock over.
  CHECK(evictor.lock() == status::recovered);
  CHECK(r.header().queue_lock.load() == evictor.word());
  stalled.unlock(); // wakes up late
  CHECK(r.header().queue_lock.load() == evictor.word());
  evictor.unlock();
  CHECK(r.header().queue_lock.load() == 0u);
}

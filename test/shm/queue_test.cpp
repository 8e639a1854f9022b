// The queue suite, run over every lock policy (iceoryx style): the same
// single-threaded contract tests for test::test_queue<null_lock> and
// test::test_queue<zone_lock>. A test::test_queue<zone_lock> test also checks
// that every operation left the lock word free.
#include "shm/lists.hpp"
#include "shm/queue.hpp"
#include "shm/wire.hpp"
#include "shm/zone_lock.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace hyperamp::shm;
using hyperamp::shm::test::list_of;
using hyperamp::shm::test::set_list;
using hyperamp::shm::test::set_slot;
using hyperamp::shm::test::slot_of;
using hyperamp::shm::test::test_region;

namespace {

// -- lock policy adapters -----------------------------------------------------

struct null_policy {
  using lock_type = null_lock;
  static null_lock make(region&) { return {}; }
};

struct zone_policy {
  using lock_type = zone_lock;
  /// Slot 0, zone 1: the service zone's lock.
  static zone_lock make(region& r) { return zone_lock{r, k_service_slot, 1}; }
};

using idx_vec = std::vector<std::uint32_t>;

template <class Policy>
struct fixture {
  using lock_type = typename Policy::lock_type;
  test_region tr;
  region& r;
  lock_type lock;
  test::test_queue<lock_type> q;

  explicit fixture(std::uint32_t entries = 8, std::uint32_t clients = 4)
      : tr(entries, clients), r(*tr), lock(Policy::make(r)), q(r, lock) {}

  lists& raw() { return q.raw_lists(); }

  bool unlocked() { return r.header().queue_lock.load() == 0; }

  /// Indices on `l`, head to tail, following `next` (bounded) and checking
  /// that every `prev` points back.
  idx_vec items(list_ref l) {
    idx_vec v;
    std::uint32_t prev = k_nil;
    for (std::uint32_t i = *l.head; i != k_nil; i = r.entry_at(i).next) {
      REQUIRE(i < r.entry_count());
      REQUIRE(v.size() < r.entry_count());
      CHECK(r.entry_at(i).prev == prev);
      v.push_back(i);
      prev = i;
    }
    CHECK(*l.tail == prev);
    return v;
  }

  /// census() through the queue: consistent, with the given counts.
  void expect(std::size_t free, std::size_t client, std::size_t submitted,
              std::size_t in_service, std::size_t completed) {
    const list_census c = q.census();
    CHECK(unlocked());
    CHECK(c.consistent);
    CHECK(c.free == free);
    CHECK(c.client == client);
    CHECK(c.submitted == submitted);
    CHECK(c.in_service == in_service);
    CHECK(c.completed == completed);
    CHECK(c.total_on_lists + c.client == r.entry_count());
  }

  /// acquire + write_request + submit for `slot`, seq numbers from `seq`.
  idx_vec submit_new(std::uint16_t slot, std::size_t n, std::uint64_t seq) {
    idx_vec v(n);
    auto a = q.acquire(slot, v.data(), n);
    REQUIRE(a.st == status::ok);
    REQUIRE(a.count == n);
    for (auto i : v)
      write_request(r, i, seq++, 66, partition(slot), 8, 64);
    auto s = q.submit(slot, v.data(), n);
    REQUIRE(s.st == status::ok);
    REQUIRE(s.count == n);
    return v;
  }

  std::uint32_t partition(std::uint16_t slot) {
    return static_cast<std::uint32_t>(partition_offset(r, slot));
  }

  /// Bytes the lists live in (header, every slot's list line, entries);
  /// heartbeats are left out: every zone_lock acquisition moves them.
  /// The lists and entries as bytes, except the tags' generations (a move
  /// there and back counts two changes, but leaves every list as it was).
  std::vector<std::uint8_t> snapshot() {
    std::vector<std::uint8_t> v(r.base(), r.base() + sizeof(region_header));
    for (std::uint32_t s = 0; s <= r.max_clients(); ++s) {
      auto* p = reinterpret_cast<std::uint8_t*>(&r.slot_at(s));
      v.insert(v.end(), p + 64, p + 128);
    }
    for (std::uint32_t i = 0; i < r.entry_count(); ++i) {
      entry e = r.entry_at(i);
      auto t = tag_of(e);
      t.gen = 0;
      e.tag = pack(t);
      auto* p = reinterpret_cast<std::uint8_t*>(&e);
      v.insert(v.end(), p, p + sizeof(entry));
    }
    return v;
  }
};

} // namespace

// Test names end in <null_lock> / <zone_lock>.
TYPE_TO_STRING_AS("null_lock", null_policy);
TYPE_TO_STRING_AS("zone_lock", zone_policy);

#define QUEUE_TEST(name) TEST_CASE_TEMPLATE(name, P, null_policy, zone_policy)

QUEUE_TEST("queue: a fresh region has every entry free, in index order") {
  fixture<P> f(8);
  f.expect(8, 0, 0, 0, 0);
  CHECK(f.items(f.raw().free_list()) == idx_vec{0, 1, 2, 3, 4, 5, 6, 7});
  for (std::uint32_t i = 0; i < 8; ++i)
    CHECK(list_of(f.r.entry_at(i)) ==
          static_cast<std::uint16_t>(list_id::free));
  CHECK(f.items(f.raw().submitted()).empty());
  CHECK(f.items(f.raw().in_service()).empty());
  for (std::uint16_t s = 1; s <= 4; ++s)
    CHECK(f.items(f.raw().completed(s)).empty());
}

QUEUE_TEST("queue: round trip keeps FIFO order and echoes sequence numbers") {
  fixture<P> f(8);
  auto& q = f.q;
  idx_vec mine(5);
  auto a = q.acquire(2, mine.data(), 5);
  CHECK(a.st == status::ok);
  CHECK(a.count == 5);
  CHECK(mine == idx_vec{0, 1, 2, 3, 4});
  f.expect(3, 5, 0, 0, 0);
  for (auto i : mine) {
    CHECK(list_of(f.r.entry_at(i)) ==
          static_cast<std::uint16_t>(list_id::client));
    CHECK(slot_of(f.r.entry_at(i)) == 2);
  }
  // Submit in an order unlike the index order: the service must see it.
  const idx_vec order{3, 0, 4, 1, 2};
  for (auto i : order)
    write_request(f.r, i, 100 + i, 66, f.partition(2), 4, 64);
  CHECK(q.submit(2, order.data(), 2).st == status::ok);
  f.expect(3, 3, 2, 0, 0);
  CHECK(q.submit(2, order.data() + 2, 3).count == 3);
  f.expect(3, 0, 5, 0, 0);
  CHECK(f.items(f.raw().submitted()) == order);

  idx_vec taken(8, k_nil);
  auto t = q.take_submitted(taken.data(), 3);
  CHECK(t.st == status::ok);
  CHECK(t.count == 3);
  f.expect(3, 0, 2, 3, 0);
  auto t2 = q.take_submitted(taken.data() + 3, 5);
  CHECK(t2.st == status::empty); // asked for 5, only 2 were there
  CHECK(t2.count == 2);
  taken.resize(5);
  CHECK(taken == order);
  CHECK(f.items(f.raw().in_service()) == order);
  f.expect(3, 0, 0, 5, 0);

  for (auto i : taken) {
    request_view rv;
    const char* why = nullptr;
    REQUIRE(read_request(f.r, i, rv, &why) == status::ok);
    CHECK(rv.seq == 100 + i);
    CHECK(rv.slot == 2);
    write_completion(f.r, i, rv.seq, wire_status::ok, 4);
  }
  // Complete out of order: completions queue in completion order.
  const idx_vec done{2, 3, 1, 0, 4};
  CHECK(q.complete(done.data(), 1).st == status::ok);
  f.expect(3, 0, 0, 4, 1);
  CHECK(q.complete(done.data() + 1, 4).count == 4);
  f.expect(3, 0, 0, 0, 5);
  CHECK(f.items(f.raw().completed(2)) == done);
  CHECK(f.items(f.raw().completed(1)).empty());

  idx_vec back(5, k_nil);
  auto c = q.take_completed(2, back.data(), 5);
  CHECK(c.st == status::ok);
  CHECK(back == done);
  f.expect(3, 5, 0, 0, 0);
  for (auto i : back) {
    completion_view cv;
    const char* why = nullptr;
    REQUIRE(read_completion(f.r, i, 64, cv, &why) == status::ok);
    CHECK(cv.done_seq == 100 + i);
    CHECK(cv.result == wire_status::ok);
    CHECK(cv.result_length == 4);
  }
  CHECK(q.release(2, back.data(), 5).st == status::ok);
  f.expect(8, 0, 0, 0, 0);
  // Released entries join the tail of the free list in release order.
  CHECK(f.items(f.raw().free_list()) == idx_vec{5, 6, 7, 2, 3, 1, 0, 4});
}

QUEUE_TEST("queue: completions land on the owning slot's list") {
  fixture<P> f(8);
  auto a = f.submit_new(1, 2, 1);
  auto b = f.submit_new(3, 2, 10);
  idx_vec t(4);
  CHECK(f.q.take_submitted(t.data(), 4).count == 4);
  CHECK(f.q.complete(t.data(), 4).count == 4);
  CHECK(f.items(f.raw().completed(1)) == a);
  CHECK(f.items(f.raw().completed(3)) == b);
  CHECK(f.items(f.raw().completed(2)).empty());
  idx_vec out(4, k_nil);
  auto none = f.q.take_completed(2, out.data(), 4);
  CHECK(none.st == status::empty);
  CHECK(none.count == 0);
  f.expect(4, 0, 0, 0, 4);
}

QUEUE_TEST("queue: acquire reports full with a partial count") {
  fixture<P> f(8);
  idx_vec a(8, k_nil);
  auto r1 = f.q.acquire(1, a.data(), 5);
  CHECK(r1.st == status::ok);
  CHECK(r1.count == 5);
  auto r2 = f.q.acquire(2, a.data() + 5, 5);
  CHECK(r2.st == status::full);
  CHECK(r2.count == 3);
  f.expect(0, 8, 0, 0, 0);
  std::uint32_t x = 1234;
  auto r3 = f.q.acquire(1, &x, 1);
  CHECK(r3.st == status::full);
  CHECK(r3.count == 0);
  CHECK(x == 1234);
  CHECK(std::set<std::uint32_t>(a.begin(), a.end()).size() == 8);
  CHECK(slot_of(f.r.entry_at(a[5])) == 2);
  f.expect(0, 8, 0, 0, 0);
}

QUEUE_TEST("queue: empty statuses") {
  fixture<P> f(4);
  std::uint32_t x = 77;
  auto t = f.q.take_submitted(&x, 1);
  CHECK(t.st == status::empty);
  CHECK(t.count == 0);
  auto c = f.q.take_completed(1, &x, 1);
  CHECK(c.st == status::empty);
  CHECK(c.count == 0);
  auto ab = f.q.abort_in_service(&x, 1);
  CHECK(ab.st == status::empty);
  CHECK(ab.count == 0);
  CHECK(f.q.pop(f.raw().submitted(), x, list_id::in_service) == status::empty);
  CHECK(x == 77);
  // Zero-length batches are ok and move nothing.
  CHECK(f.q.acquire(1, &x, 0).st == status::ok);
  CHECK(f.q.submit(1, &x, 0).st == status::ok);
  CHECK(f.q.complete(&x, 0).st == status::ok);
  CHECK(f.q.release(1, &x, 0).st == status::ok);
  f.expect(4, 0, 0, 0, 0);
}

QUEUE_TEST("queue: transfer appends to the destination") {
  fixture<P> f(10);
  auto& L = f.raw();
  // in_service: [0 1]; submitted: [2 3 4]
  auto first = f.submit_new(1, 2, 1);
  idx_vec t(2);
  REQUIRE(f.q.take_submitted(t.data(), 2).count == 2);
  auto second = f.submit_new(2, 3, 10);
  f.expect(5, 0, 3, 2, 0);

  SUBCASE("onto a non-empty list") {
    CHECK(f.q.transfer(L.submitted(), L.in_service()) == status::ok);
    CHECK(f.items(L.in_service()) == idx_vec{0, 1, 2, 3, 4});
    CHECK(f.items(L.submitted()).empty());
    for (std::uint32_t i = 0; i < 5; ++i)
      CHECK(list_of(f.r.entry_at(i)) ==
            static_cast<std::uint16_t>(list_id::in_service));
    f.expect(5, 0, 0, 5, 0);
  }
  SUBCASE("onto an empty list, retagging the slot of a completed list") {
    CHECK(f.q.transfer(L.submitted(), L.completed(4)) == status::ok);
    CHECK(f.items(L.completed(4)) == second);
    for (auto i : second)
      CHECK(slot_of(f.r.entry_at(i)) == 4);
    f.expect(5, 0, 0, 2, 3);
  }
  SUBCASE("of an empty source is ok and changes nothing") {
    const auto before = f.snapshot();
    CHECK(f.q.transfer(L.completed(3), L.submitted()) == status::ok);
    CHECK(f.q.transfer(L.completed(3), L.completed(1)) == status::ok);
    CHECK(f.snapshot() == before);
    f.expect(5, 0, 3, 2, 0);
  }
  SUBCASE("twice in a row keeps both batches") {
    CHECK(f.q.transfer(L.in_service(), L.free_list()) == status::ok);
    CHECK(f.q.transfer(L.submitted(), L.free_list()) == status::ok);
    CHECK(f.items(L.free_list()) == idx_vec{5, 6, 7, 8, 9, 0, 1, 2, 3, 4});
    f.expect(10, 0, 0, 0, 0);
  }
  SUBCASE("onto itself changes nothing") {
    const auto before = f.snapshot();
    CHECK(f.q.transfer(L.submitted(), L.submitted()) == status::ok);
    CHECK(f.snapshot() == before);
    CHECK(f.items(L.submitted()) == second);
    f.expect(5, 0, 3, 2, 0);
  }
  CHECK(first == idx_vec{0, 1});
}

QUEUE_TEST(
    "queue: a push with the wrong source tag is corrupt, changes nothing") {
  fixture<P> f(8);
  auto& L = f.raw();
  idx_vec mine(2);
  REQUIRE(f.q.acquire(1, mine.data(), 2).count == 2);
  const auto before = f.snapshot();
  // Entry 5 is on the free list, not owned by a client.
  CHECK(f.q.push(L.submitted(), 5, list_id::client, 1) == status::corrupt);
  // Entry 0 is owned by slot 1, not slot 2.
  CHECK(f.q.push(L.submitted(), mine[0], list_id::client, 2) ==
        status::corrupt);
  // Owned, but the caller claims it comes from in_service.
  CHECK(f.q.push(L.submitted(), mine[0], list_id::in_service) ==
        status::corrupt);
  // Out of range.
  CHECK(f.q.push(L.submitted(), 8, list_id::client, 1) == status::corrupt);
  CHECK(f.q.push(L.submitted(), k_nil, list_id::client, 1) == status::corrupt);
  // Batch forms stop at the first bad entry and report how far they got.
  const idx_vec bad{mine[0], 6};
  auto s = f.q.submit(1, bad.data(), 2);
  CHECK(s.st == status::corrupt);
  CHECK(s.count == 1);
  auto undo = f.q.pop(L.submitted(), mine[0], list_id::client, 1);
  CHECK(undo == status::ok);
  CHECK(f.snapshot() == before);
  // release of an entry that is not owned, complete of one not in service.
  CHECK(f.q.release(2, mine.data(), 1).st == status::corrupt);
  CHECK(f.q.complete(mine.data(), 1).st == status::corrupt);
  CHECK(f.snapshot() == before);
  f.expect(6, 2, 0, 0, 0);
}

QUEUE_TEST("queue: inconsistent neighbours are refused, nothing changes") {
  fixture<P> f(8);
  auto& L = f.raw();
  auto sub = f.submit_new(1, 3, 1); // submitted: 0 1 2; free: 3..7
  idx_vec t(1);
  REQUIRE(f.q.take_submitted(t.data(), 1).count == 1); // in service: 0
  std::uint32_t i = k_nil;
  SUBCASE("pop: the successor does not point back") {
    f.r.entry_at(4).prev = 6;
    const auto before = f.snapshot();
    CHECK(f.q.pop(L.free_list(), i, list_id::client, 1) == status::corrupt);
    CHECK(f.snapshot() == before);
  }
  SUBCASE("pop: the successor belongs to another list") {
    f.r.entry_at(3).next = 1;
    const auto before = f.snapshot();
    CHECK(f.q.pop(L.free_list(), i, list_id::client, 1) == status::corrupt);
    CHECK(f.snapshot() == before);
  }
  SUBCASE("pop: the head has a predecessor") {
    f.r.entry_at(1).prev = 0;
    const auto before = f.snapshot();
    CHECK(f.q.pop(L.submitted(), i, list_id::in_service) == status::corrupt);
    CHECK(f.snapshot() == before);
  }
  SUBCASE("push: the tail has a successor") {
    f.r.entry_at(7).next = 3;
    std::uint32_t mine = k_nil;
    REQUIRE(f.q.acquire(2, &mine, 1).count == 1);
    const auto before = f.snapshot();
    CHECK(f.q.release(2, &mine, 1).st == status::corrupt);
    CHECK(f.snapshot() == before);
  }
  SUBCASE("transfer: a broken chain in the source") {
    f.r.entry_at(2).prev = 7;
    const auto before = f.snapshot();
    CHECK(f.q.transfer(L.submitted(), L.completed(1)) == status::corrupt);
    CHECK(f.snapshot() == before);
  }
  SUBCASE("complete: the predecessor does not point to it") {
    REQUIRE(f.q.take_submitted(t.data(), 1).count == 1); // in service: 0 1
    f.r.entry_at(0).next = k_nil;
    f.r.header().in_service_tail = 0;
    const auto before = f.snapshot();
    CHECK(f.q.complete(&sub[1], 1).st == status::corrupt);
    CHECK(f.snapshot() == before);
  }
  CHECK(f.unlocked());
  f.q.repair();
  CHECK(f.q.census().consistent);
}

QUEUE_TEST("queue: pop and push of the seed's Phase 1") {
  fixture<P> f(4);
  auto& L = f.raw();
  std::uint32_t i = k_nil;
  CHECK(f.q.pop(L.free_list(), i, list_id::client, 3) == status::ok);
  CHECK(i == 0);
  CHECK(slot_of(f.r.entry_at(0)) == 3);
  f.expect(3, 1, 0, 0, 0);
  CHECK(f.q.push(L.submitted(), i, list_id::client, 3) == status::ok);
  f.expect(3, 0, 1, 0, 0);
  CHECK(f.q.pop(L.submitted(), i, list_id::in_service) == status::ok);
  // Popped into in_service but not yet linked: the census sees the gap.
  CHECK_FALSE(f.q.census().consistent);
  CHECK(f.q.push(L.in_service(), i, list_id::in_service) == status::ok);
  f.expect(3, 0, 0, 1, 0);
}

QUEUE_TEST("queue: census stays consistent through random operations") {
  // A reference model of every list; after each operation the region's
  // lists must equal the model, element by element.
  fixture<P> f(12, 3);
  std::mt19937 rng(12345);
  std::deque<std::uint32_t> free_m{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  std::deque<std::uint32_t> sub_m, ins_m;
  std::map<std::uint16_t, std::deque<std::uint32_t>> done_m;
  std::map<std::uint16_t, std::vector<std::uint32_t>> owned_m;
  std::map<std::uint32_t, std::uint16_t> owner; // of submitted/in service
  auto pick = [&](std::size_t n) {
    return static_cast<std::size_t>(rng() % std::max<std::size_t>(n, 1));
  };
  const std::size_t steps = hyperamp::shm::test::scaled(3000, 1000);
  for (std::size_t step = 0; step < steps; ++step) {
    const auto slot = static_cast<std::uint16_t>(1 + rng() % 3);
    auto& owned = owned_m[slot];
    std::uint32_t buf[4];
    const std::size_t n = 1 + pick(4);
    switch (rng() % 6) {
    case 0: { // acquire
      auto r = f.q.acquire(slot, buf, n);
      const std::size_t want = std::min(n, free_m.size());
      REQUIRE(r.count == want);
      CHECK(r.st == (want == n ? status::ok : status::full));
      for (std::size_t k = 0; k < want; ++k) {
        CHECK(buf[k] == free_m.front());
        owned.push_back(free_m.front());
        free_m.pop_front();
      }
      break;
    }
    case 1: { // submit some owned
      const std::size_t m = std::min(n, owned.size());
      std::shuffle(owned.begin(), owned.end(), rng);
      auto r = f.q.submit(slot, owned.data(), m);
      REQUIRE(r.st == status::ok);
      REQUIRE(r.count == m);
      for (std::size_t k = 0; k < m; ++k) {
        sub_m.push_back(owned[k]);
        owner[owned[k]] = slot;
      }
      owned.erase(owned.begin(), owned.begin() + static_cast<long>(m));
      break;
    }
    case 2: { // take_submitted
      auto r = f.q.take_submitted(buf, n);
      const std::size_t want = std::min(n, sub_m.size());
      REQUIRE(r.count == want);
      CHECK(r.st == (want == n ? status::ok : status::empty));
      for (std::size_t k = 0; k < want; ++k) {
        CHECK(buf[k] == sub_m.front());
        ins_m.push_back(sub_m.front());
        sub_m.pop_front();
      }
      break;
    }
    case 3: { // complete a random in-service entry
      if (ins_m.empty())
        break;
      const std::size_t k = pick(ins_m.size());
      const std::uint32_t i = ins_m[k];
      REQUIRE(f.q.complete(&i, 1).st == status::ok);
      ins_m.erase(ins_m.begin() + static_cast<long>(k));
      done_m[owner[i]].push_back(i);
      break;
    }
    case 4: { // take_completed
      auto& d = done_m[slot];
      auto r = f.q.take_completed(slot, buf, n);
      const std::size_t want = std::min(n, d.size());
      REQUIRE(r.count == want);
      CHECK(r.st == (want == n ? status::ok : status::empty));
      for (std::size_t k = 0; k < want; ++k) {
        CHECK(buf[k] == d.front());
        owned.push_back(d.front());
        d.pop_front();
      }
      break;
    }
    case 5: { // release some owned
      const std::size_t m = std::min(n, owned.size());
      auto r = f.q.release(slot, owned.data(), m);
      REQUIRE(r.st == status::ok);
      for (std::size_t k = 0; k < m; ++k)
        free_m.push_back(owned[k]);
      owned.erase(owned.begin(), owned.begin() + static_cast<long>(m));
      break;
    }
    }
    auto& L = f.raw();
    const auto as_vec = [](const std::deque<std::uint32_t>& d) {
      return idx_vec(d.begin(), d.end());
    };
    REQUIRE(f.items(L.free_list()) == as_vec(free_m));
    REQUIRE(f.items(L.submitted()) == as_vec(sub_m));
    REQUIRE(f.items(L.in_service()) == as_vec(ins_m));
    std::size_t n_owned = 0, n_done = 0;
    for (std::uint16_t s = 1; s <= 3; ++s) {
      REQUIRE(f.items(L.completed(s)) == as_vec(done_m[s]));
      n_owned += owned_m[s].size();
      n_done += done_m[s].size();
      for (auto i : owned_m[s]) {
        REQUIRE(list_of(f.r.entry_at(i)) ==
                static_cast<std::uint16_t>(list_id::client));
        REQUIRE(slot_of(f.r.entry_at(i)) == s);
      }
    }
    const list_census c = f.q.census();
    REQUIRE(c.consistent);
    REQUIRE(c.client == n_owned);
    REQUIRE(c.completed == n_done);
    REQUIRE(f.unlocked());
  }
}

QUEUE_TEST("queue: repair restores consistency after a broken link") {
  fixture<P> f(8);
  auto& L = f.raw();
  auto sub = f.submit_new(1, 3, 1); // submitted: 0 1 2; free: 3..7
  f.expect(5, 0, 3, 0, 0);

  SUBCASE("a next link pointing elsewhere") {
    f.r.entry_at(4).next = 7; // skips 5 and 6
    CHECK_FALSE(f.q.census().consistent);
    CHECK(f.q.repair() == 0); // every tag was right: none changed
    f.expect(5, 0, 3, 0, 0);
    CHECK(f.items(L.submitted()) == sub);
  }
  SUBCASE("a prev link pointing elsewhere") {
    f.r.entry_at(5).prev = 7; // forward links all still fine
    CHECK_FALSE(f.q.census().consistent);
    CHECK(f.q.repair() == 0);
    f.expect(5, 0, 3, 0, 0);
    CHECK(f.items(L.free_list()) == idx_vec{3, 4, 5, 6, 7});
  }
  SUBCASE("a tail word pointing before the end") {
    f.r.header().submitted_tail = 1;
    CHECK_FALSE(f.q.census().consistent);
    f.q.repair();
    f.expect(5, 0, 3, 0, 0);
  }
  SUBCASE("a cycle") {
    f.r.entry_at(2).next = 0;
    CHECK_FALSE(f.q.census().consistent);
    f.q.repair();
    f.expect(5, 0, 3, 0, 0);
  }
  SUBCASE("a head pointing at a foreign entry") {
    f.r.header().free_head = 1;
    CHECK_FALSE(f.q.census().consistent);
    f.q.repair();
    f.expect(5, 0, 3, 0, 0);
  }
  SUBCASE("a holder that died between tagging and linking") {
    // What pop_front would leave after its first write: entry 3 tagged as
    // owned by slot 2 but still linked into the free list.
    set_list(f.r.entry_at(3), static_cast<std::uint16_t>(list_id::client));
    set_slot(f.r.entry_at(3), 2);
    CHECK_FALSE(f.q.census().consistent);
    f.q.repair();
    f.expect(4, 1, 3, 0, 0);
    CHECK(f.items(L.free_list()) == idx_vec{4, 5, 6, 7});
    // The owner still has it and can give it back.
    std::uint32_t i = 3;
    CHECK(f.q.release(2, &i, 1).st == status::ok);
    f.expect(5, 0, 3, 0, 0);
  }
  SUBCASE("garbage tags go to the free list and are counted") {
    set_list(f.r.entry_at(1), 99);
    set_list(f.r.entry_at(5), 0);
    set_list(f.r.entry_at(6), static_cast<std::uint16_t>(list_id::completed));
    set_slot(f.r.entry_at(6), 0); // not a client slot
    CHECK_FALSE(f.q.census().consistent);
    CHECK(f.q.repair() == 3);
    f.expect(6, 0, 2, 0, 0);
    CHECK(f.items(L.submitted()) == idx_vec{0, 2});
  }
}

QUEUE_TEST("queue: reap_client frees a slot's entries and leaves others") {
  fixture<P> f(16);
  auto& L = f.raw();
  // Slot 1: 2 completed, 2 in service, 2 submitted, 2 owned.
  // Slot 2: 1 completed, 1 in service, 1 submitted, 1 owned.
  auto c1 = f.submit_new(1, 2, 1);
  auto c2 = f.submit_new(2, 1, 100);
  idx_vec t(3);
  REQUIRE(f.q.take_submitted(t.data(), 3).count == 3);
  REQUIRE(f.q.complete(t.data(), 3).count == 3);
  auto s1 = f.submit_new(1, 2, 10);
  auto s2 = f.submit_new(2, 1, 110);
  idx_vec t2(3);
  REQUIRE(f.q.take_submitted(t2.data(), 3).count == 3); // in service
  auto sub1 = f.submit_new(1, 2, 20);
  auto sub2 = f.submit_new(2, 1, 120);
  idx_vec own1(2), own2(1);
  REQUIRE(f.q.acquire(1, own1.data(), 2).count == 2);
  REQUIRE(f.q.acquire(2, own2.data(), 1).count == 1);
  f.expect(4, 3, 3, 3, 3);

  CHECK(f.q.reap_client(1) == 6);
  f.expect(10, 1, 1, 3, 1);
  CHECK(f.items(L.submitted()) == sub2);
  CHECK(f.items(L.completed(2)) == c2);
  CHECK(f.items(L.completed(1)).empty());
  CHECK(f.items(L.in_service()) == t2); // the service still has them
  CHECK(list_of(f.r.entry_at(own2[0])) ==
        static_cast<std::uint16_t>(list_id::client));
  for (auto i : {own1[0], own1[1], sub1[0], sub1[1], c1[0], c1[1]})
    CHECK(list_of(f.r.entry_at(i)) ==
          static_cast<std::uint16_t>(list_id::free));
  // Reaping again finds nothing.
  CHECK(f.q.reap_client(1) == 0);
  // Slot 1's in-service work still completes onto slot 1's list.
  CHECK(f.q.complete(s1.data(), 2).count == 2);
  f.expect(10, 1, 1, 1, 3);
  CHECK(f.items(L.completed(1)) == s1);
  CHECK(s2.size() == 1);
}

QUEUE_TEST("queue: abort_in_service completes with aborted and echoes seq") {
  fixture<P> f(8);
  auto& L = f.raw();
  auto a = f.submit_new(1, 2, 500);
  auto b = f.submit_new(3, 1, 900);
  idx_vec t(3);
  REQUIRE(f.q.take_submitted(t.data(), 3).count == 3);
  for (auto i : t) // leftovers of a predecessor that wrote something
    f.r.entry_at(i).result_length = 7;
  idx_vec out(8, k_nil);
  auto r = f.q.abort_in_service(out.data(), 8);
  CHECK(r.st == status::empty); // fewer than asked
  CHECK(r.count == 3);
  out.resize(3);
  CHECK(out == t);
  f.expect(5, 0, 0, 0, 3);
  CHECK(f.items(L.completed(1)) == a);
  CHECK(f.items(L.completed(3)) == b);
  for (auto i : t) {
    const entry& e = f.r.entry_at(i);
    CHECK(e.done_seq == e.seq);
    CHECK(e.status == static_cast<std::uint32_t>(wire_status::aborted));
    CHECK(e.result_length == 0);
    completion_view cv;
    const char* why = nullptr;
    CHECK(read_completion(f.r, i, 64, cv, &why) == status::ok);
    CHECK(cv.result == wire_status::aborted);
    CHECK(cv.done_seq == e.seq);
  }

  SUBCASE("an entry whose slot went bad is freed instead") {
    auto c = f.submit_new(2, 1, 700);
    std::uint32_t i = k_nil;
    REQUIRE(f.q.take_submitted(&i, 1).count == 1);
    set_slot(f.r.entry_at(i), 0);
    std::uint32_t o = k_nil;
    auto r2 = f.q.abort_in_service(&o, 1);
    CHECK(r2.st == status::ok);
    CHECK(o == c[0]);
    CHECK(list_of(f.r.entry_at(i)) ==
          static_cast<std::uint16_t>(list_id::free));
    f.expect(5, 0, 0, 0, 3);
  }
}

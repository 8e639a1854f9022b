// A queue_lock holder stopped at every step of every queue operation the
// ports use, declared dead and evicted by another zone, which repairs and
// works on the same lists, and then resumed (as a SIGSTOP'd zone that gets
// SIGCONT): afterwards every invariant holds. The stop is a test hook at
// each point between two writes of a list operation (shm/lists.hpp,
// step_point), so every interleaving of that kind is tried, not a sample.
#include "shm/lists.hpp"
#include "shm/queue.hpp"
#include "shm/zone_lock.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
using namespace std::chrono_literals;
using hyperamp::shm::test::test_region;

namespace {

using idx_vec = std::vector<std::uint32_t>;

constexpr std::uint32_t k_entries = 12;
constexpr std::uint32_t k_clients = 4;
constexpr std::uint16_t k_holder = 1;  ///< client slot of a client holder
constexpr std::uint16_t k_evictor = 2; ///< client slot of a client evictor

/// Stops the holder thread at its n-th step point until told to go on.
struct stopper {
  std::mutex m;
  std::condition_variable cv;
  int target = 0; ///< 0: count only
  int seen = 0;
  bool stopped = false;
  bool go_on = false;
};

stopper* g_stop = nullptr;
thread_local bool g_is_holder = false;

void on_step(step_point) {
  if (!g_is_holder)
    return;
  std::unique_lock<std::mutex> lk{g_stop->m};
  if (++g_stop->seen != g_stop->target)
    return;
  g_stop->stopped = true;
  g_stop->cv.notify_all();
  g_stop->cv.wait(lk, [] { return g_stop->go_on; });
}

/// Lock options of both zones: a holder silent for 1 ms is dead.
lock_options quick_death() {
  lock_options o;
  o.dead_after = 1ms;
  return o;
}

/// What an operation reports: how far it got and which entries it moved.
struct moved {
  batch_result r;
  idx_vec idx;
};

/// One trial: a fresh region, `prep` (no stop), then `holder_op` on a
/// thread of its own holding the lock as zone `holder_slot`, stopped at its
/// `stop_at`-th step; meanwhile `evictor_op` as zone `evictor_slot`, which
/// finds the holder silent, evicts it and repairs; then the holder goes on.
/// `stop_at` 0 runs the holder alone and returns how many steps it made.
struct trial {
  std::function<void(test::test_queue<null_lock>&)> prep;
  std::uint32_t holder_slot = k_holder;
  std::function<moved(test::test_queue<zone_lock>&)> holder_op;
  std::uint32_t evictor_slot = k_evictor;
  std::function<moved(test::test_queue<zone_lock>&)> evictor_op;
  /// Checks what the holder's and the evictor's reports claim.
  std::function<void(region&, const moved& holder, const moved& evictor)> check;
};

int run(const trial& t, int stop_at) {
  test_region tr(k_entries, k_clients);
  region& r = *tr;
  {
    null_lock nl;
    test::test_queue<null_lock> setup{r, nl};
    t.prep(setup);
  }
  stopper st;
  st.target = stop_at;
  g_stop = &st;
  set_step_hook(on_step);
  moved from_holder, from_evictor;
  std::thread holder{[&] {
    g_is_holder = true;
    zone_lock l{r, t.holder_slot, 1, quick_death()};
    test::test_queue<zone_lock> q{r, l};
    from_holder = t.holder_op(q);
  }};
  if (stop_at > 0) {
    {
      std::unique_lock<std::mutex> lk{st.m};
      st.cv.wait(lk, [&] { return st.stopped; });
    }
    zone_lock l{r, t.evictor_slot, 2, quick_death()};
    test::test_queue<zone_lock> q{r, l};
    from_evictor = t.evictor_op(q);
    CHECK(l.recoveries() == 1); // it did evict the stopped holder
    {
      std::lock_guard<std::mutex> lk{st.m};
      st.go_on = true;
    }
    st.cv.notify_all();
  }
  holder.join();
  set_step_hook(nullptr);
  g_stop = nullptr;
  // Every entry on exactly the list its tag names, none lost.
  null_lock nl;
  test::test_queue<null_lock> view{r, nl};
  const list_census c = view.census();
  CHECK(c.consistent);
  CHECK(c.total_on_lists + c.client == k_entries);
  CHECK(r.header().queue_lock.load() == 0);
  t.check(r, from_holder, from_evictor);
  return st.seen;
}

/// Runs `t` with the holder stopped at each of its steps in turn.
void every_step(const trial& t) {
  const int steps = run(t, 0);
  REQUIRE(steps > 0);
  for (int k = 1; k <= steps; ++k) {
    INFO("stopped at step " << k << " of " << steps);
    CAPTURE(k);
    run(t, k);
  }
}

bool tagged(region& r, std::uint32_t i, list_id l, std::uint16_t slot) {
  const entry_tag t = tag_of(r.entry_at(i));
  return t.list == static_cast<std::uint16_t>(l) && t.slot == slot;
}

/// The entries reported moved are where the operation said, and no entry
/// was moved by both zones.
void check_moved(region& r, const moved& m, list_id l, std::uint16_t slot,
                 std::set<std::uint32_t>& seen) {
  for (std::size_t i = 0; i < m.r.count; ++i) {
    CHECK(tagged(r, m.idx[i], l, slot));
    CHECK(seen.insert(m.idx[i]).second);
  }
}

moved acquire(test::test_queue<zone_lock>& q, std::uint16_t slot,
              std::size_t n) {
  moved m;
  m.idx.resize(n);
  m.r = q.acquire(slot, m.idx.data(), n);
  return m;
}

moved take(test::test_queue<zone_lock>& q, std::size_t n) {
  moved m;
  m.idx.resize(n);
  m.r = q.take_submitted(m.idx.data(), n);
  return m;
}

/// The indices of `l`, head to tail (for preparing a trial).
idx_vec on_list(region& r, list_ref l) {
  idx_vec v;
  for (std::uint32_t i = *l.head; i != k_nil && v.size() < k_entries;
       i = r.entry_at(i).next)
    v.push_back(i);
  return v;
}

} // namespace

TEST_SUITE_BEGIN("eviction of a stopped holder");

TEST_CASE("acquire stopped at every step, evictor acquires too") {
  trial t;
  t.prep = [](auto&) {};
  t.holder_op = [](auto& q) { return acquire(q, k_holder, 3); };
  t.evictor_op = [](auto& q) { return acquire(q, k_evictor, 3); };
  t.check = [](region& r, const moved& h, const moved& e) {
    std::set<std::uint32_t> seen;
    check_moved(r, h, list_id::client, k_holder, seen);
    check_moved(r, e, list_id::client, k_evictor, seen);
    if (!e.idx.empty()) // the evictor ran: it is never starved by the damage
      CHECK_MESSAGE(e.r.count == 3,
                    "evictor: " << std::string(to_string(e.r.st)));
  };
  every_step(t);
}

TEST_CASE("submit stopped at every step, evictor (the service) takes") {
  trial t;
  t.prep = [](auto& q) {
    idx_vec own(3);
    REQUIRE(q.acquire(k_holder, own.data(), 3).count == 3);
  };
  t.holder_op = [](auto& q) {
    moved m;
    m.idx.resize(3);
    std::uint32_t i = 0;
    for (std::uint32_t e = 0; e < k_entries && i < 3; ++e)
      if (tagged(q.reg(), e, list_id::client, k_holder))
        m.idx[i++] = e;
    m.r = q.submit(k_holder, m.idx.data(), 3);
    return m;
  };
  t.evictor_slot = k_service_slot;
  t.evictor_op = [](auto& q) { return take(q, 8); };
  t.check = [](region& r, const moved& h, const moved& e) {
    // What the service took is in service; what the client submitted and
    // the service did not take is submitted; nothing went twice.
    std::set<std::uint32_t> taken(e.idx.begin(),
                                  e.idx.begin() + static_cast<long>(e.r.count));
    for (auto i : taken)
      CHECK(tagged(r, i, list_id::in_service, k_holder));
    for (std::size_t k = 0; k < h.r.count; ++k)
      if (taken.count(h.idx[k]) == 0)
        CHECK(tagged(r, h.idx[k], list_id::submitted, k_holder));
  };
  every_step(t);
}

TEST_CASE("take_submitted stopped at every step, evictor (a client) "
          "submits more") {
  trial t;
  t.prep = [](auto& q) {
    idx_vec own(3);
    REQUIRE(q.acquire(k_holder, own.data(), 3).count == 3);
    REQUIRE(q.submit(k_holder, own.data(), 3).count == 3);
  };
  t.holder_slot = k_service_slot;
  t.holder_op = [](auto& q) { return take(q, 3); };
  t.evictor_op = [](auto& q) {
    auto m = acquire(q, k_evictor, 2);
    q.submit(k_evictor, m.idx.data(), m.r.count);
    return m;
  };
  t.check = [](region& r, const moved& h, const moved& e) {
    std::set<std::uint32_t> seen;
    check_moved(r, h, list_id::in_service, k_holder, seen);
    for (std::size_t k = 0; k < e.r.count; ++k) // not taken by the holder
      CHECK(tagged(r, e.idx[k], list_id::submitted, k_evictor));
  };
  every_step(t);
}

TEST_CASE("complete stopped at every step, evictor (the client) collects") {
  trial t;
  t.prep = [](auto& q) {
    idx_vec own(3);
    REQUIRE(q.acquire(k_holder, own.data(), 3).count == 3);
    REQUIRE(q.submit(k_holder, own.data(), 3).count == 3);
    REQUIRE(q.take_submitted(own.data(), 3).count == 3);
  };
  t.holder_slot = k_service_slot;
  t.holder_op = [](auto& q) {
    moved m;
    m.idx = on_list(q.reg(), q.raw_lists().in_service());
    m.r = q.complete(m.idx.data(), m.idx.size());
    return m;
  };
  t.evictor_slot = k_holder; // the client, collecting what is done
  t.evictor_op = [](auto& q) {
    moved m;
    m.idx.resize(8);
    m.r = q.take_completed(k_holder, m.idx.data(), 8);
    return m;
  };
  t.check = [](region& r, const moved& h, const moved& e) {
    std::set<std::uint32_t> collected(
        e.idx.begin(), e.idx.begin() + static_cast<long>(e.r.count));
    for (auto i : collected)
      CHECK(tagged(r, i, list_id::client, k_holder));
    for (std::size_t k = 0; k < h.r.count; ++k)
      if (collected.count(h.idx[k]) == 0)
        CHECK(tagged(r, h.idx[k], list_id::completed, k_holder));
  };
  every_step(t);
}

TEST_CASE("release stopped at every step, evictor acquires") {
  trial t;
  t.prep = [](auto& q) {
    idx_vec all(k_entries);
    REQUIRE(q.acquire(k_holder, all.data(), k_entries).count == k_entries);
    // Keep three, give the rest back: the free list is short.
    REQUIRE(q.release(k_holder, all.data() + 3, k_entries - 3).count ==
            k_entries - 3);
  };
  t.holder_op = [](auto& q) {
    moved m;
    for (std::uint32_t e = 0; e < k_entries; ++e)
      if (tagged(q.reg(), e, list_id::client, k_holder))
        m.idx.push_back(e);
    m.r = q.release(k_holder, m.idx.data(), m.idx.size());
    return m;
  };
  t.evictor_op = [](auto& q) { return acquire(q, k_evictor, 4); };
  t.check = [](region& r, const moved& h, const moved& e) {
    std::set<std::uint32_t> seen;
    check_moved(r, e, list_id::client, k_evictor, seen);
    for (std::size_t k = 0; k < h.r.count; ++k)
      if (seen.count(h.idx[k]) == 0)
        CHECK(tagged(r, h.idx[k], list_id::free, k_holder));
  };
  every_step(t);
}

TEST_CASE("take_completed stopped at every step, evictor (the service) "
          "completes more") {
  trial t;
  t.prep = [](auto& q) {
    idx_vec own(5);
    REQUIRE(q.acquire(k_holder, own.data(), 5).count == 5);
    REQUIRE(q.submit(k_holder, own.data(), 5).count == 5);
    REQUIRE(q.take_submitted(own.data(), 5).count == 5);
    REQUIRE(q.complete(own.data(), 3).count == 3);
  };
  t.holder_op = [](auto& q) {
    moved m;
    m.idx.resize(3);
    m.r = q.take_completed(k_holder, m.idx.data(), 3);
    return m;
  };
  t.evictor_slot = k_service_slot;
  t.evictor_op = [](auto& q) {
    moved m;
    m.idx = on_list(q.reg(), q.raw_lists().in_service());
    m.r = q.complete(m.idx.data(), m.idx.size());
    return m;
  };
  t.check = [](region& r, const moved& h, const moved& e) {
    std::set<std::uint32_t> seen;
    check_moved(r, h, list_id::client, k_holder, seen);
    for (std::size_t k = 0; k < e.r.count; ++k)
      CHECK(tagged(r, e.idx[k], list_id::completed, k_holder));
  };
  every_step(t);
}

TEST_SUITE_END();

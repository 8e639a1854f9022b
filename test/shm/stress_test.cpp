// Stress: the seed's queue-lock test made real. Eight workers, each with its
// own zone_lock and its own client slot, run random mixes of every queue
// operation (acquire/pop, submit/push, take_submitted, explicit transfer
// under the lock, complete, take_completed, release, census) against one
// region, first as threads of one process, then as threads of several
// forked processes that each map the region file themselves.
//
// Every request carries a unique sequence number; per-sequence counters in
// a MAP_SHARED mapping record submit, serve and collect, so the final
// accounting proves that no request was lost or handled twice, and the
// census proves that every entry came back to the free list. Payload bytes
// are written without atomics before submit/complete and read after the
// matching take: under TSan that checks the lock's happens-before edges.
#include "shm/participant.hpp"
#include "shm/queue.hpp"
#include "shm/wire.hpp"
#include "shm/zone_lock.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
using hyperamp::shm::test::list_of;
using hyperamp::shm::test::set_list;
using hyperamp::shm::test::set_slot;
using hyperamp::shm::test::slot_of;
namespace t = hyperamp::shm::test;

namespace {

constexpr std::uint32_t k_entries = 64;
constexpr std::uint32_t k_clients = 16;
constexpr std::uint64_t k_partition = k_entries * 64; // one line per entry
constexpr std::uint32_t k_service = 66;
constexpr std::size_t k_batch = 4;

/// Why a worker failed (the first one is kept).
enum class fault : std::uint32_t {
  none,
  acquire,
  submit,
  take,
  read_request,
  payload,
  served_twice,
  complete,
  take_completed,
  read_completion,
  done_seq,
  completed_twice,
  release,
  census,
  transfer,
  recovered,
  pop_push,
  submitted_twice,
  claim,
};

/// Shared by every worker of every process (lives in a MAP_SHARED mapping).
struct shared_state {
  std::atomic<std::uint64_t> next_seq{1};
  std::atomic<std::uint64_t> ops{0};
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> collected{0};
  std::atomic<std::uint64_t> transfers{0};
  std::atomic<std::uint64_t> census_checks{0};
  std::atomic<std::uint64_t> full_seen{0};
  std::atomic<std::uint32_t> errors{0};
  std::atomic<std::uint32_t> first_error{0};
  std::uint64_t budget = 0;  // queue operations, then drain
  std::uint64_t seq_cap = 0; // size of the per-seq arrays
};

/// Everything a worker needs; all pointers are into shared mappings.
struct accounting {
  shared_state* st;
  std::atomic<std::uint8_t>* submitted; // per seq
  std::atomic<std::uint8_t>* served;
  std::atomic<std::uint8_t>* collected;
};

/// The shared mappings themselves, owned by the test (parent).
struct shared_accounting {
  t::shared_array<shared_state> st;
  t::shared_array<std::atomic<std::uint8_t>> submitted, served, collected;
  explicit shared_accounting(std::uint64_t budget)
      : st(1),
        submitted(seq_cap_for(budget)),
        served(seq_cap_for(budget)),
        collected(seq_cap_for(budget)) {
    st->budget = budget;
    st->seq_cap = seq_cap_for(budget);
  }
  static std::size_t seq_cap_for(std::uint64_t budget) {
    // A request costs at least two operations (acquire and submit are
    // batched up to k_batch): budget * 2 seqs is more than can be used.
    return static_cast<std::size_t>(budget * 2 + 4096);
  }
  accounting view() const {
    return {st.get(), submitted.get(), served.get(), collected.get()};
  }
};

class worker {
public:
  worker(region& r, accounting acc, std::uint32_t zone, std::uint32_t seed)
      : r_(r), acc_(acc), zone_(zone), rng_(seed), seq_of_(k_entries, 0) {}

  void run() {
    participant me;
    if (participant::claim_client(r_, zone_, me) != status::ok)
      return fail(fault::claim);
    slot_ = static_cast<std::uint16_t>(me.index());
    lock_options lo;
    lo.spin_limit = 64;
    lo.dead_after = std::chrono::seconds(30); // never a false eviction here
    zone_lock lock(r_, slot_, zone_, lo);
    test::test_queue<zone_lock> q(r_, lock);
    loop(q);
    flush_ops();
    me.release();
  }

private:
  void loop(test::test_queue<zone_lock>& q) {
    for (;;) {
      const bool stop = stopping();
      if (stop && owned_.empty() && outstanding_ == 0)
        return;
      if (acc_.st->errors.load(std::memory_order_relaxed) != 0)
        return; // somebody failed: no point in going on
      const auto dice = static_cast<std::uint32_t>(rng_() % 100);
      if (dice < 22 && !stop)
        acquire(q);
      else if (dice < 40 || (stop && !owned_.empty()))
        submit(q);
      else if (dice < 62)
        serve(q);
      else if (dice < 66)
        serve_by_transfer(q);
      else if (dice < 99)
        collect(q);
      else
        census(q);
    }
  }

  bool stopping() const {
    return seq_exhausted_ ||
           acc_.st->ops.load(std::memory_order_relaxed) >= acc_.st->budget;
  }

  void op() {
    if (++local_ops_ == 64)
      flush_ops();
  }

  void flush_ops() {
    acc_.st->ops.fetch_add(local_ops_, std::memory_order_relaxed);
    local_ops_ = 0;
  }

  void fail(fault f) {
    auto expected = static_cast<std::uint32_t>(fault::none);
    acc_.st->first_error.compare_exchange_strong(expected,
                                                 static_cast<std::uint32_t>(f));
    acc_.st->errors.fetch_add(1);
  }

  std::uint32_t offset_of(std::uint32_t idx) const {
    return static_cast<std::uint32_t>(partition_offset(r_, slot_) +
                                      idx * 64ull);
  }

  // -- client role ------------------------------------------------------------

  void acquire(test::test_queue<zone_lock>& q) {
    const std::size_t n = 1 + rng_() % k_batch;
    const std::uint64_t first = acc_.st->next_seq.fetch_add(n);
    if (first + n > acc_.st->seq_cap) {
      seq_exhausted_ = true;
      return;
    }
    std::uint32_t buf[k_batch];
    std::size_t got = 0;
    if (n == 1 && rng_() % 2 == 0) { // the seed's raw pop
      const status s =
          q.pop(q.raw_lists().free_list(), buf[0], list_id::client, slot_);
      if (s != status::ok && s != status::empty)
        return fail(fault::pop_push);
      got = s == status::ok;
    } else {
      const batch_result b = q.acquire(slot_, buf, n);
      if (b.st != status::ok && b.st != status::full)
        return fail(fault::acquire);
      got = b.count;
    }
    op();
    if (got < n)
      acc_.st->full_seen.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < got; ++k) {
      const std::uint32_t i = buf[k];
      const std::uint64_t seq = first + k;
      std::memcpy(r_.payload() + offset_of(i), &seq, sizeof(seq));
      write_request(r_, i, seq, k_service, offset_of(i), 8, 64);
      seq_of_[i] = seq;
      owned_.push_back(i);
    }
  }

  void submit(test::test_queue<zone_lock>& q) {
    if (owned_.empty())
      return;
    std::shuffle(owned_.begin(), owned_.end(), rng_);
    const std::size_t n =
        std::min<std::size_t>(owned_.size(), 1 + rng_() % k_batch);
    for (std::size_t k = 0; k < n; ++k)
      if (acc_.submitted[seq_of_[owned_[k]]].fetch_add(1) != 0)
        fail(fault::submitted_twice);
    if (n == 1 && rng_() % 2 == 0) { // the seed's raw push
      if (q.push(q.raw_lists().submitted(), owned_[0], list_id::client,
                 slot_) != status::ok)
        return fail(fault::pop_push);
    } else {
      const batch_result b = q.submit(slot_, owned_.data(), n);
      if (b.st != status::ok || b.count != n)
        return fail(fault::submit);
    }
    op();
    acc_.st->submitted.fetch_add(n, std::memory_order_relaxed);
    outstanding_ += n;
    owned_.erase(owned_.begin(), owned_.begin() + static_cast<long>(n));
  }

  void collect(test::test_queue<zone_lock>& q) {
    std::uint32_t buf[k_batch];
    const std::size_t n = 1 + rng_() % k_batch;
    const batch_result b = q.take_completed(slot_, buf, n);
    op();
    if (b.st != status::ok && b.st != status::empty)
      return fail(fault::take_completed);
    for (std::size_t k = 0; k < b.count; ++k)
      check_completion(buf[k]);
    outstanding_ -= b.count;
    if (b.count == 0) {
      sched_yield(); // nothing for us yet: let a serving worker run
      return;
    }
    const batch_result rel = q.release(slot_, buf, b.count);
    op();
    if (rel.st != status::ok || rel.count != b.count)
      fail(fault::release);
    acc_.st->collected.fetch_add(b.count, std::memory_order_relaxed);
  }

  void check_completion(std::uint32_t i) {
    completion_view cv;
    const char* why = nullptr;
    if (read_completion(r_, i, 64, cv, &why) != status::ok ||
        cv.result != wire_status::ok || cv.result_length != 16)
      return fail(fault::read_completion);
    const std::uint64_t seq = seq_of_[i];
    if (cv.done_seq != seq)
      return fail(fault::done_seq);
    std::uint64_t got[2];
    std::memcpy(got, r_.payload() + offset_of(i), sizeof(got));
    if (got[0] != seq || got[1] != ~seq)
      fail(fault::payload);
    if (acc_.collected[seq].fetch_add(1) != 0)
      fail(fault::completed_twice);
  }

  // -- service role
  // -------------------------------------------------------------

  void serve(test::test_queue<zone_lock>& q) {
    std::uint32_t buf[k_batch];
    const std::size_t n = 1 + rng_() % k_batch;
    const batch_result b = q.take_submitted(buf, n);
    op();
    if (b.st != status::ok && b.st != status::empty)
      return fail(fault::take);
    process(q, buf, b.count);
  }

  /// Takes the whole submitted list in one splice under the lock (the
  /// seed's transfer), then finds what it appended after the old tail.
  void serve_by_transfer(test::test_queue<zone_lock>& q) {
    std::uint32_t buf[k_entries];
    std::size_t n = 0;
    if (q.lock().lock() != status::ok)
      fail(fault::recovered);
    lists& L = q.raw_lists();
    const std::uint32_t old_tail = *L.in_service().tail;
    if (L.transfer(L.submitted(), L.in_service()) != status::ok) {
      fail(fault::transfer);
    } else {
      std::uint32_t i =
          old_tail == k_nil ? *L.in_service().head : r_.entry_at(old_tail).next;
      for (; i != k_nil && n < k_entries; i = r_.entry_at(i).next)
        buf[n++] = i;
    }
    q.lock().unlock();
    op();
    acc_.st->transfers.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < n; k += k_batch)
      process(q, buf + k, std::min(k_batch, n - k));
  }

  void process(test::test_queue<zone_lock>& q, const std::uint32_t* idx,
               std::size_t n) {
    if (n == 0)
      return;
    for (std::size_t k = 0; k < n; ++k) {
      request_view rv;
      const char* why = nullptr;
      if (read_request(r_, idx[k], rv, &why) != status::ok ||
          rv.service_id != k_service || rv.length != 8 ||
          rv.seq >= acc_.st->seq_cap) {
        fail(fault::read_request);
        continue;
      }
      std::uint64_t seq = 0;
      std::memcpy(&seq, rv.data, sizeof(seq));
      if (seq != rv.seq)
        fail(fault::payload);
      if (acc_.served[rv.seq].fetch_add(1) != 0)
        fail(fault::served_twice);
      const std::uint64_t reply = ~seq;
      std::memcpy(rv.data + 8, &reply, sizeof(reply));
      write_completion(r_, idx[k], rv.seq, wire_status::ok, 16);
    }
    const batch_result c = q.complete(idx, n);
    op();
    if (c.st != status::ok || c.count != n)
      fail(fault::complete);
  }

  void census(test::test_queue<zone_lock>& q) {
    const list_census c = q.census();
    op();
    acc_.st->census_checks.fetch_add(1, std::memory_order_relaxed);
    if (!c.consistent || c.total_on_lists + c.client != k_entries)
      fail(fault::census);
  }

  region& r_;
  accounting acc_;
  std::uint32_t zone_;
  std::mt19937 rng_;
  std::uint16_t slot_ = 0;
  std::vector<std::uint64_t> seq_of_; // by entry index, for our own entries
  std::vector<std::uint32_t> owned_;  // acquired, request written
  std::size_t outstanding_ = 0;       // submitted, not yet collected
  std::uint64_t local_ops_ = 0;
  bool seq_exhausted_ = false;
};

void run_threads(region& r, accounting acc, std::uint32_t zone, std::size_t n,
                 std::uint32_t seed) {
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < n; ++i)
    ts.emplace_back([&r, acc, zone, seed, i] {
      worker w(r, acc, zone, seed + static_cast<std::uint32_t>(i));
      w.run();
    });
  for (auto& th : ts)
    th.join();
}

/// The final accounting, by the parent, after every worker has stopped.
void check_final(region& r, const shared_accounting& sa) {
  const shared_state& st = *sa.st;
  MESSAGE("ops=" << st.ops.load() << " requests=" << st.submitted.load()
                 << " transfers=" << st.transfers.load() << " census="
                 << st.census_checks.load() << " full=" << st.full_seen.load());
  CHECK(st.errors.load() == 0);
  CHECK(st.first_error.load() == 0);
  CHECK(st.ops.load() >= st.budget);
  CHECK(st.submitted.load() == st.collected.load());
  CHECK(st.submitted.load() > st.budget / 20);
  CHECK(st.transfers.load() > 0);
  CHECK(st.census_checks.load() > 0);
  // Every sequence number handed out was submitted, served and collected
  // the same number of times, at most once (unused ones: zero times).
  std::uint64_t used = 0, bad = 0;
  const std::uint64_t last =
      std::min<std::uint64_t>(st.next_seq.load(), st.seq_cap);
  for (std::uint64_t s = 1; s < last; ++s) {
    const auto a = sa.submitted[s].load();
    const auto b = sa.served[s].load();
    const auto c = sa.collected[s].load();
    bad += a > 1 || a != b || a != c;
    used += a;
  }
  CHECK(bad == 0);
  CHECK(used == st.submitted.load());
  // Every entry is back on the free list, and the lists agree.
  null_lock nl;
  test::test_queue<null_lock> q(r, nl);
  const list_census c = q.census();
  CHECK(c.consistent);
  CHECK(c.free == k_entries);
  CHECK(c.client + c.submitted + c.in_service + c.completed == 0);
  for (std::uint32_t i = 0; i < k_entries; ++i)
    CHECK(list_of(r.entry_at(i)) == static_cast<std::uint16_t>(list_id::free));
  CHECK(r.header().queue_lock.load() == 0);
  CHECK(r.header().lock_recoveries == 0);
  for (std::uint32_t s = 1; s <= k_clients; ++s)
    CHECK_FALSE(is_active(r.slot_at(s)));
}

} // namespace

TEST_CASE("stress: 8 threads with their own zone_lock keep every request") {
  const std::uint64_t budget = t::scaled(1'000'000, 120'000);
  t::test_region tr(k_entries, k_clients, k_partition * k_clients);
  shared_accounting sa(budget);
  run_threads(*tr, sa.view(), 1, 8, 1000);
  check_final(*tr, sa);
}

TEST_CASE("stress: 4 processes x 2 threads on one region file") {
  const std::uint64_t budget = t::scaled(1'000'000, 120'000);
  t::test_region tr(k_entries, k_clients, k_partition * k_clients);
  shared_accounting sa(budget);
  const accounting acc = sa.view();
  const std::string path = tr.file.path;
  t::event_pipe go;
  std::vector<pid_t> kids;
  for (std::uint32_t p = 0; p < 4; ++p)
    kids.push_back(t::spawn([&, p] {
      // Each process maps the region itself, as a zone would.
      region_options o =
          t::small_options(path, k_entries, k_clients, k_partition * k_clients);
      o.create = create_mode::attach;
      auto res = region::open(o);
      if (!res || res.value->created())
        return 2;
      go.close_write();
      if (go.wait() != 0) // end of file: everybody starts together
        return 3;
      run_threads(*res.value, acc, 10 + p, 2, 2000 + 16 * p);
      return acc.st->errors.load() == 0 ? 0 : 1;
    }));
  go.close_write(); // releases the children
  for (auto pid : kids)
    CHECK(t::wait_child(pid) == 0);
  check_final(*tr, sa);
}

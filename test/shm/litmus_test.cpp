// Litmus tests for the orderings the cross-zone protocol rests on, run on
// the region's own words with the protocol's own code (docs/wire-layout.md,
// "Memory ordering"). Each is a classic two-thread shape repeated many
// times, each round started together by a spin barrier:
//
// - SB (store buffering), the doorbell's Dekker pair: a ringer bumps
//   bell_seq then reads bell_sleeping; an owner going to sleep sets
//   bell_sleeping then re-reads bell_seq. At least one must see the other,
//   or a wake-up is lost. Release/acquire alone allows both to miss (x86's
//   store buffer already shows it); the protocol uses seq_cst.
// - MP (message passing) through the doorbell: data written before a ring
//   is seen by the owner once it sees the ring (bump's release, observe's
//   acquire).
// - MP through queue_lock: what a holder wrote before unlock is seen by the
//   next holder (unlock's release, lock's acquire). The data word is
//   written and read without atomics, so TSan checks the edge formally.
//
// They run natively and, in the aarch64 build, under qemu-user; on a board
// they are the check that matters (aarch64 reorders more than x86).
#include "shm/doorbell.hpp"
#include "shm/zone_lock.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <sched.h>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

/// Spins until `done()`, yielding now and then: the machine may have fewer
/// free cores than spinning threads.
template <class Pred>
void spin_until(Pred done) {
  for (unsigned n = 1; !done(); ++n) {
    cpu_relax();
    if (n % 64 == 0)
      sched_yield();
  }
}

/// Two threads meet here at the start of every round (a sense-reversing
/// spin barrier: the rounds must overlap as closely as possible).
class barrier2 {
public:
  void arrive_and_wait() {
    const bool sense = !sense_.load(std::memory_order_relaxed);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == 1) {
      count_.store(0, std::memory_order_relaxed);
      sense_.store(sense, std::memory_order_release);
      return;
    }
    spin_until([&] { return sense_.load(std::memory_order_acquire) == sense; });
  }

private:
  std::atomic<int> count_{0};
  std::atomic<bool> sense_{false};
};

} // namespace

TEST_CASE("litmus: SB on the doorbell: a ring and an owner going to sleep "
          "never both miss each other") {
  t::test_region r;
  slot& s = r->slot_at(1);
  const std::size_t rounds = t::scaled(50000, 5000);
  barrier2 start, done;
  std::size_t both_missed = 0, ringer_saw = 0, owner_saw = 0;
  std::vector<std::uint8_t> ringer_sleeping(rounds), owner_rung(rounds);
  // Before the ringer starts: it remembers bell_seq as it is now.
  detail::bell_core owner{s, std::chrono::nanoseconds{0}};
  std::thread ringer{[&] {
    detail::bell_core bell{s, std::chrono::nanoseconds{0}};
    for (std::size_t i = 0; i < rounds; ++i) {
      start.arrive_and_wait();
      bell.bump();                               // R1
      ringer_sleeping[i] = bell.peer_sleeping(); // R2
      done.arrive_and_wait();
    }
  }};
  for (std::size_t i = 0; i < rounds; ++i) {
    start.arrive_and_wait();
    owner.arm();                     // W1
    owner_rung[i] = owner.recheck(); // W2
    done.arrive_and_wait();
    // Between rounds: the owner takes any ring it missed and wakes up.
    owner.observe();
    owner.disarm();
  }
  ringer.join();
  for (std::size_t i = 0; i < rounds; ++i) {
    both_missed += !ringer_sleeping[i] && !owner_rung[i];
    ringer_saw += ringer_sleeping[i];
    owner_saw += owner_rung[i];
  }
  INFO("rounds " << rounds << ": ringer saw the owner asleep " << ringer_saw
                 << ", owner saw the ring " << owner_saw);
  CHECK(both_missed == 0u);
}

TEST_CASE("litmus: MP through the doorbell: data written before a ring is "
          "seen with it") {
  t::test_region r;
  slot& s = r->slot_at(1);
  auto* data = reinterpret_cast<std::uint64_t*>(r->payload());
  const std::size_t rounds = t::scaled(50000, 5000);
  std::size_t stale = 0;
  detail::bell_core owner{s, std::chrono::nanoseconds{0}};
  std::thread ringer{[&] {
    detail::bell_core bell{s, std::chrono::nanoseconds{0}};
    for (std::size_t i = 1; i <= rounds; ++i) {
      // The other zone's data: written whole, no ordering of its own.
      __atomic_store_n(data, i, __ATOMIC_RELAXED);
      bell.bump();
      // The next value only once the owner has taken this one.
      spin_until(
          [&] { return __atomic_load_n(data + 1, __ATOMIC_ACQUIRE) == i; });
    }
  }};
  for (std::size_t i = 1; i <= rounds; ++i) {
    spin_until([&] { return owner.observe(); });
    // Rings coalesce, never run ahead: the ringer waits for our ack.
    stale += __atomic_load_n(data, __ATOMIC_RELAXED) != i;
    __atomic_store_n(data + 1, i, __ATOMIC_RELEASE);
  }
  ringer.join();
  CHECK(stale == 0u);
}

TEST_CASE("litmus: MP through queue_lock: what one holder wrote, the next "
          "holder reads whole") {
  t::test_region r;
  std::uint8_t* payload = r->payload();
  constexpr std::size_t k_words = 8; // one cache line of plain data
  const std::size_t rounds = t::scaled(50000, 5000);
  std::atomic<std::size_t> torn{0};
  auto run = [&](std::uint32_t slot_index, std::uint64_t tag) {
    zone_lock lock{*r, slot_index, slot_index};
    for (std::size_t i = 0; i < rounds; ++i) {
      REQUIRE(lock.lock() != status::corrupt);
      // Plain accesses: only the lock orders them (TSan checks it).
      std::uint64_t line[k_words];
      std::memcpy(line, payload, sizeof line);
      for (std::size_t w = 1; w < k_words; ++w)
        if (line[w] != line[0])
          torn.fetch_add(1, std::memory_order_relaxed);
      const std::uint64_t next = tag << 32 | i;
      for (auto& w : line)
        w = next;
      std::memcpy(payload, line, sizeof line);
      lock.unlock();
    }
  };
  std::thread a{run, 1u, 1u};
  run(2, 2);
  a.join();
  CHECK(torn.load() == 0u);
}

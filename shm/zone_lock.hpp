// queue_lock: a cross-process, cross-OS spinlock on one atomic word in the
// region. Zero means free; otherwise the word names the holder:
//   (zone_id << 16) | (slot_index + 1)
// so a waiter can find the holder's heartbeat and evict a dead holder.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "shm/layout.hpp"
#include "shm/participant.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

class region;

struct lock_options {
  /// Busy-wait iterations (with a pause instruction) before sched_yield.
  std::uint32_t spin_limit = 256;
  /// A holder whose lock word and heartbeat both stay unchanged this long,
  /// as seen by the waiter's own clock, is declared dead and evicted.
  std::chrono::nanoseconds dead_after = std::chrono::seconds(1);
  /// Measure holds and waits (two clock reads per acquisition; for
  /// benchmarks: amp-bench's contention rows).
  bool measure = false;
  /// Where a waiter reads the time it judges a holder's silence by: the
  /// steady clock when null. Tests pass a clock they drive, so that a
  /// verdict never depends on how the machine schedules the threads.
  std::chrono::steady_clock::time_point (*clock)(void* ctx) = nullptr;
  void* clock_ctx = nullptr;
};

/// What one zone_lock object measured (lock_options::measure).
struct lock_stats {
  std::uint64_t acquisitions = 0;
  std::uint64_t contended = 0; ///< acquisitions whose first try failed
  std::uint64_t yields = 0;    ///< sched_yield calls while waiting
  std::uint64_t wait_ns = 0;   ///< total time from lock() to holding it
  /// Hold times in ns (unlock - acquisition), the first 65536 holds.
  std::vector<std::uint32_t> hold_ns;
};

constexpr std::uint32_t make_lock_word(std::uint32_t zone_id,
                                       std::uint32_t slot_index) noexcept {
  return ((zone_id & 0xFFFFu) << 16) | ((slot_index + 1) & 0xFFFFu);
}

/// Lock policy: the real cross-zone lock. One object per thread (it keeps
/// the waiter's observation of the holder); many objects per slot are fine.
class zone_lock {
public:
  zone_lock(region& r, std::uint32_t slot_index, std::uint32_t zone_id,
            lock_options opts = {}) noexcept;

  /// One attempt. Never blocks.
  bool try_lock() noexcept;

  /// Returns ok, or recovered if the lock was taken from a dead holder (the
  /// caller must then repair what the holder may have left half done).
  status lock() noexcept;

  /// Contract: the caller took the lock. Returns false, leaving the word
  /// alone, if another participant evicted us meanwhile (we were silent for
  /// dead_after: a stopped or paused process); the caller must then repair
  /// what its last writes may have damaged.
  bool unlock() noexcept;

  std::uint32_t word() const noexcept { return word_; }
  /// Times this object took the lock from a dead holder.
  std::uint64_t recoveries() const noexcept { return recoveries_; }
  /// What it measured (empty unless lock_options::measure).
  const lock_stats& stats() const noexcept { return stats_; }

private:
  status acquire() noexcept;
  bool holder_dead(std::uint32_t seen,
                   std::chrono::steady_clock::time_point now) noexcept;

  region* region_;
  std::atomic<std::uint32_t>* lock_;
  std::atomic<std::uint64_t>* my_heartbeat_;
  std::uint32_t word_;
  lock_options opts_;
  // The waiter's observation of the current holder: the lock word names
  // the hold (identity), the holder's slot heartbeat is its life.
  silence_watch holder_;
  std::uint64_t recoveries_ = 0;
  lock_stats stats_;
  std::chrono::steady_clock::time_point held_since_{};
};

/// Lock policy for single-threaded use and for the queue suite: no-op.
struct null_lock {
  bool try_lock() noexcept { return true; }
  status lock() noexcept { return status::ok; }
  bool unlock() noexcept { return true; }
};

/// Spin hint for busy-wait loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

} // namespace hyperamp::shm

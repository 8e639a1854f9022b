#include "shm/zone_lock.hpp"

#include <sched.h>

#include <algorithm>

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

constexpr std::size_t k_hold_samples = 65536;

} // namespace

zone_lock::zone_lock(region& r, std::uint32_t slot_index, std::uint32_t zone_id,
                     lock_options opts) noexcept
    : region_(&r),
      lock_(&r.header().queue_lock),
      my_heartbeat_(&r.slot_at(slot_index).heartbeat),
      word_(make_lock_word(zone_id, slot_index)),
      opts_(opts),
      holder_(opts.dead_after) {
  if (opts_.measure)
    stats_.hold_ns.reserve(k_hold_samples);
}

bool zone_lock::try_lock() noexcept {
  std::uint32_t expected = 0;
  // acquire: everything the previous holder wrote under the lock is visible.
  if (!lock_->compare_exchange_strong(expected, word_,
                                      std::memory_order_acquire,
                                      std::memory_order_relaxed))
    return false;
  // Every acquisition is a sign of life: a waiter that sees the same lock
  // word twice with the same heartbeat knows it is one continuous hold.
  my_heartbeat_->fetch_add(1, std::memory_order_relaxed);
  return true;
}

status zone_lock::lock() noexcept {
  if (!opts_.measure)
    return acquire();
  const auto t0 = std::chrono::steady_clock::now();
  const status st = acquire();
  held_since_ = std::chrono::steady_clock::now();
  ++stats_.acquisitions;
  stats_.wait_ns += static_cast<std::uint64_t>(
      std::chrono::nanoseconds(held_since_ - t0).count());
  return st;
}

status zone_lock::acquire() noexcept {
  std::uint32_t spins = 0;
  for (bool first = true;; first = false) {
    if (try_lock())
      return status::ok;
    if (first && opts_.measure)
      ++stats_.contended;
    // Test-and-test-and-set: spin on a plain load to keep the line shared.
    const std::uint32_t seen = lock_->load(std::memory_order_relaxed);
    if (seen == 0)
      continue;
    if (spins < opts_.spin_limit) {
      ++spins;
      cpu_relax();
      continue;
    }
    sched_yield();
    if (opts_.measure)
      ++stats_.yields;
    const auto now = opts_.clock != nullptr ? opts_.clock(opts_.clock_ctx)
                                            : std::chrono::steady_clock::now();
    if (!holder_dead(seen, now))
      continue;
    std::uint32_t expected = seen;
    if (lock_->compare_exchange_strong(expected, word_,
                                       std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      my_heartbeat_->fetch_add(1, std::memory_order_relaxed);
      // Atomic add: two waiters may evict in turn while a third reads it.
      __atomic_fetch_add(&region_->header().lock_recoveries, 1,
                         __ATOMIC_RELAXED);
      ++recoveries_;
      holder_.reset();
      return status::recovered;
    }
  }
}

bool zone_lock::unlock() noexcept {
  if (opts_.measure && stats_.hold_ns.size() < k_hold_samples) {
    const auto held = std::chrono::steady_clock::now() - held_since_;
    stats_.hold_ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
        std::chrono::nanoseconds(held).count(), UINT32_MAX)));
  }
  // release: publishes every write made under the lock. A CAS from our own
  // word, not a plain store: a holder that was stalled past dead_after and
  // evicted must not release its evictor's hold on waking up.
  std::uint32_t expected = word_;
  return lock_->compare_exchange_strong(expected, 0, std::memory_order_release,
                                        std::memory_order_relaxed);
}

bool zone_lock::holder_dead(
    std::uint32_t seen, std::chrono::steady_clock::time_point now) noexcept {
  // The holder's slot index is untrusted: an invalid one has no heartbeat
  // and so can only ever look dead, which is what a garbage word deserves.
  const std::uint32_t holder = (seen & 0xFFFFu) - 1;
  std::uint64_t beat = 0;
  if (holder <= region_->max_clients())
    beat = region_->slot_at(holder).heartbeat.load(std::memory_order_relaxed);
  return holder_.silent(seen, beat, now);
}

} // namespace hyperamp::shm

// The seed's lock as both benchmark programs model it: hvisor-tool's
// ByteFlag, a byte locked by a strong (seq_cst) CAS 0x0A -> 0x0F with
// sched_yield() after each failure, and unlocked by a CAS 0x0F -> 0x0A.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace hyperamp::bench {

constexpr std::uint8_t k_byte_unlocked = 0x0A;
constexpr std::uint8_t k_byte_locked = 0x0F;

inline void byte_lock(std::atomic<std::uint8_t>& f) noexcept {
  for (std::uint8_t e = k_byte_unlocked;
       !f.compare_exchange_strong(e, k_byte_locked); e = k_byte_unlocked)
    ::sched_yield();
}

/// False if it was not locked.
inline bool byte_unlock(std::atomic<std::uint8_t>& f) noexcept {
  std::uint8_t e = k_byte_locked;
  return f.compare_exchange_strong(e, k_byte_unlocked);
}

} // namespace hyperamp::bench

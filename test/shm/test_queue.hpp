// The queue with the operations only tests use (no doctest here: the
// libFuzzer build includes it too).
#pragma once

#include "shm/queue.hpp"

namespace hyperamp::shm::test {

/// The queue with the test-only operations: the seed's single-entry
/// push/pop/transfer under the lock, and the raw lists for tampering.
template <class Lock>
class test_queue : public queue<Lock> {
public:
  using queue<Lock>::queue;

  status push(list_ref l, std::uint32_t idx, list_id from,
              std::uint16_t owner = 0) noexcept {
    typename queue<Lock>::guard g{*this};
    return this->lists_.push_back(l, idx, from, owner);
  }

  status pop(list_ref l, std::uint32_t& idx, list_id to,
             std::uint16_t owner = 0) noexcept {
    typename queue<Lock>::guard g{*this};
    return this->lists_.pop_front(l, idx, to, owner);
  }

  status transfer(list_ref src, list_ref dst) noexcept {
    typename queue<Lock>::guard g{*this};
    return this->lists_.transfer(src, dst);
  }

  lists& raw_lists() noexcept { return this->lists_; }
  Lock& lock() noexcept { return *this->lock_; }
};

} // namespace hyperamp::shm::test

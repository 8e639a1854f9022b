// The queue with the operations only tests use (no doctest here: the
// libFuzzer build includes it too).
#pragma once

#include "shm/queue.hpp"

namespace hyperamp::shm::test {

// The fields of an entry's tag, for tests that read or tamper with them
// one by one (production code changes the tag only as a whole, by CAS).
inline std::uint16_t list_of(const entry& e) noexcept {
  return tag_of(e).list;
}
inline std::uint16_t slot_of(const entry& e) noexcept {
  return tag_of(e).slot;
}
inline void set_list(entry& e, std::uint16_t list) noexcept {
  auto t = tag_of(e);
  t.list = list;
  e.tag = pack(t);
}
inline void set_slot(entry& e, std::uint16_t slot) noexcept {
  auto t = tag_of(e);
  t.slot = slot;
  e.tag = pack(t);
}

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
  region& reg() noexcept { return *this->region_; }
};

} // namespace hyperamp::shm::test

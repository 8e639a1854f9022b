// The AmpMsgQueue operations of hyperamp's own layout, each under one
// acquisition of the lock policy `Lock` (zone_lock across zones, null_lock
// for single-threaded use): the batch operations the locked ports use. (The
// seed's single-entry push/pop/transfer are the list primitives of
// shm/lists.hpp; the tests run them under the lock through a subclass.)
//
// Entry life cycle (tags in entry::list; see docs/wire-layout.md):
//
//   free --acquire--> client(slot) --submit--> submitted --take--> in_service
//     ^                  |  ^                                          |
//     +----release-------+  +--take_completed-- completed(slot) <-complete-+
//
// No function here allocates, logs, throws or waits for anything but the
// lock. When the lock reports `recovered` (a dead holder was evicted) the
// lists are repaired from the tags before the operation proceeds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm/lists.hpp"
#include "shm/participant.hpp"
#include "shm/region.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

template <class Lock>
class queue {
public:
  queue(region& r, Lock& l) noexcept : region_(&r), lock_(&l), lists_(r) {}

  // -- client side ----------------------------------------------------------

  /// Takes up to `n` free entries for client slot `slot`.
  batch_result acquire(std::uint16_t slot, std::uint32_t* out,
                       std::size_t n) noexcept {
    guard g{*this};
    batch_result r;
    for (; r.count < n; ++r.count) {
      r.st = lists_.pop_front(lists_.free_list(), out[r.count], list_id::client,
                              slot);
      if (r.st != status::ok)
        return r.st == status::empty ? with(r, status::full) : r;
    }
    return r;
  }

  /// Appends the client's entries to the submitted list, in order.
  batch_result submit(std::uint16_t slot, const std::uint32_t* idx,
                      std::size_t n) noexcept {
    guard g{*this};
    return move_each(idx, n, [&](std::uint32_t i) {
      return lists_.push_back(lists_.submitted(), i, list_id::client, slot);
    });
  }

  /// Takes up to `n` completed entries of `slot` back into the client's hands.
  batch_result take_completed(std::uint16_t slot, std::uint32_t* out,
                              std::size_t n) noexcept {
    guard g{*this};
    return pop_many(lists_.completed(slot), out, n, list_id::client, slot);
  }

  /// Returns the client's entries to the free list.
  batch_result release(std::uint16_t slot, const std::uint32_t* idx,
                       std::size_t n) noexcept {
    guard g{*this};
    return move_each(idx, n, [&](std::uint32_t i) {
      return lists_.push_back(lists_.free_list(), i, list_id::client, slot);
    });
  }

  // -- service side ---------------------------------------------------------

  /// Moves up to `n` submitted entries (oldest first) to in_service.
  batch_result take_submitted(std::uint32_t* out, std::size_t n) noexcept {
    guard g{*this};
    batch_result r;
    for (; r.count < n; ++r.count) {
      std::uint32_t i = k_nil;
      r.st = lists_.pop_front(lists_.submitted(), i, list_id::in_service);
      if (r.st != status::ok)
        return r;
      // Taken from here on: its tag says in_service. If the in_service
      // list refuses the append (damaged), the caller's repair links it
      // there from the tag; the request is still the service's to answer.
      out[r.count] = i;
      r.st = lists_.push_back(lists_.in_service(), i, list_id::in_service);
      if (r.st != status::ok) {
        ++r.count;
        return r;
      }
    }
    return r;
  }

  /// Moves in_service entries to the completed list of their client slot.
  /// Contract: the caller wrote done_seq, status and result_length first;
  /// the lock release publishes them together with the move.
  batch_result complete(const std::uint32_t* idx, std::size_t n) noexcept {
    guard g{*this};
    return move_each(idx, n, [&](std::uint32_t i) {
      if (i >= region_->entry_count())
        return status::corrupt;
      const std::uint16_t s = tag_of(region_->entry_at(i)).slot;
      if (s < 1 || s > region_->max_clients())
        return status::corrupt;
      auto st = lists_.unlink(lists_.in_service(), i, list_id::completed);
      return st != status::ok
                 ? st
                 : lists_.push_back(lists_.completed(s), i, list_id::completed);
    });
  }

  /// Returns in_service entries the service cannot complete (their client
  /// slot field is invalid) straight to the free list.
  batch_result discard(const std::uint32_t* idx, std::size_t n) noexcept {
    guard g{*this};
    return move_each(idx, n, [&](std::uint32_t i) {
      auto st = lists_.unlink(lists_.in_service(), i, list_id::free);
      return st != status::ok
                 ? st
                 : lists_.push_back(lists_.free_list(), i, list_id::free);
    });
  }

  // -- maintenance ----------------------------------------------------------

  /// Rebuilds the lists from the tags (after `corrupt` or a recovery).
  std::size_t repair() noexcept {
    guard g{*this};
    return lists_.repair();
  }

  /// Returns every entry of a dead client slot (owned, submitted or
  /// completed) to the free list. Its in-service entries stay with the
  /// service; their completions later land on the slot's list and are
  /// released by whoever owns the slot next (their sequence numbers match
  /// nothing there). Returns the number of entries freed.
  std::size_t reap_client(std::uint16_t slot) noexcept {
    guard g{*this};
    return reap_locked(slot);
  }

  /// The reaper: client slot `slot`, whose owner of epoch `epoch` was found
  /// dead, gives back its entries (as reap_client) and is evicted, both in
  /// one hold of the lock: a new owner cannot claim the slot and take
  /// entries in between. Returns false (and changes nothing) if the slot
  /// is no longer at `epoch` (released or re-claimed meanwhile).
  bool evict_client(std::uint16_t slot, std::uint32_t epoch,
                    std::size_t* freed = nullptr) noexcept {
    guard g{*this};
    const owner_word w = read_owner(region_->slot_at(slot));
    if (!w.active() || w.epoch != epoch)
      return false;
    const std::size_t n = reap_locked(slot);
    if (freed != nullptr)
      *freed = n;
    return try_evict(region_->slot_at(slot), epoch);
  }

  /// If client slot `slot` is free, returns every entry still tagged for
  /// it (as reap_client): completions that came after their client had left
  /// (it reaped and released its slot while the service still held some of
  /// its requests, or a restarted service aborted them), and entries a
  /// damaged region left tagged for nobody. Otherwise they would wait for
  /// the slot's next owner, which may never come. The state is checked
  /// under the lock: a client claiming the slot meanwhile has no entries
  /// yet (it needs the lock to acquire). Returns the number freed.
  std::size_t reap_departed(std::uint16_t slot) noexcept {
    guard g{*this};
    return is_active(region_->slot_at(slot)) ? 0 : reap_locked(slot);
  }

  /// Completes in_service entries idx[0..n) with wire_status::aborted (to
  /// their client's completed list, or free when the slot is invalid):
  /// work nobody holds. Fills out[0..count) with the entries moved.
  batch_result abort(const std::uint32_t* idx, std::size_t n,
                     std::uint32_t* out) noexcept {
    guard g{*this};
    batch_result r;
    for (std::size_t k = 0; k < n; ++k) {
      if (lists_.unlink(lists_.in_service(), idx[k], list_id::completed) !=
          status::ok)
        continue;
      if ((r.st = finish_abort(idx[k])) != status::ok)
        return r;
      out[r.count++] = idx[k];
    }
    return r;
  }

  /// A restarted service calls this for its predecessor's unfinished work:
  /// every in_service entry is completed with wire_status::aborted. Fills
  /// `out` (up to n) with the entries so the caller can ring their clients.
  batch_result abort_in_service(std::uint32_t* out, std::size_t n) noexcept {
    guard g{*this};
    batch_result r;
    for (; r.count < n; ++r.count) {
      std::uint32_t i = k_nil;
      r.st = lists_.pop_front(lists_.in_service(), i, list_id::completed);
      if (r.st != status::ok || (r.st = finish_abort(i)) != status::ok)
        return r;
      out[r.count] = i;
    }
    return r;
  }

  /// Times this queue's holder was evicted in the middle of an operation
  /// (and repaired afterwards).
  std::uint64_t evicted_mid_operation() const noexcept { return evicted_; }

  /// How many entries each list holds, and whether they are consistent.
  list_census census() noexcept {
    guard g{*this};
    return lists_.census();
  }

protected:
  /// Holds the lock for one operation. Taking it from a dead holder means
  /// repairing what it left half done. Finding at the end that we lost it
  /// (we were stopped, declared dead and evicted mid-operation, and then
  /// resumed) means our last writes may have landed on lists somebody else
  /// had repaired: take it again and repair. Tags cannot have been wrongly
  /// changed (each is a CAS from what we saw), so the repair restores every
  /// list from them.
  struct guard {
    queue& q;
    explicit guard(queue& self) noexcept : q(self) {
      if (q.lock_->lock() == status::recovered)
        q.lists_.repair();
    }
    ~guard() {
      if (q.lock_->unlock())
        return;
      ++q.evicted_;
      q.lock_->lock();
      q.lists_.repair();
      q.lock_->unlock();
    }
  };

  /// Writes an aborted completion into entry i (just unlinked from
  /// in_service, tagged completed) and puts it on its client's completed
  /// list, or on the free list when its slot is invalid. Lock held.
  status finish_abort(std::uint32_t i) noexcept {
    entry& e = region_->entry_at(i);
    e.done_seq = e.seq;
    e.result_length = 0;
    e.status = static_cast<std::uint32_t>(wire_status::aborted);
    const std::uint16_t s = tag_of(e).slot;
    if (s < 1 || s > region_->max_clients())
      return lists_.push_back(lists_.free_list(), i, list_id::completed);
    return lists_.push_back(lists_.completed(s), i, list_id::completed);
  }

  /// reap_client's work; the caller holds the lock.
  std::size_t reap_locked(std::uint16_t slot) noexcept {
    std::size_t freed = 0;
    const auto client = static_cast<std::uint16_t>(list_id::client);
    const auto sub = static_cast<std::uint16_t>(list_id::submitted);
    for (std::uint32_t i = 0; i < region_->entry_count(); ++i) {
      const entry_tag t = tag_of(region_->entry_at(i));
      if (t.slot != slot || (t.list != client && t.list != sub))
        continue;
      if (t.list == sub && lists_.unlink(lists_.submitted(), i, list_id::client,
                                         slot) != status::ok)
        continue;
      freed += lists_.push_back(lists_.free_list(), i, list_id::client, slot) ==
               status::ok;
    }
    return freed + free_completed(slot);
  }

  /// Moves slot `slot`'s completed list to the free list (lock held).
  std::size_t free_completed(std::uint16_t slot) noexcept {
    std::size_t freed = 0;
    std::uint32_t i = k_nil;
    while (lists_.pop_front(lists_.completed(slot), i, list_id::client, slot) ==
           status::ok)
      freed += lists_.push_back(lists_.free_list(), i, list_id::client, slot) ==
               status::ok;
    return freed;
  }

  static batch_result with(batch_result r, status st) noexcept {
    r.st = st;
    return r;
  }

  template <class F>
  batch_result move_each(const std::uint32_t* idx, std::size_t n, F f) {
    batch_result r;
    for (; r.count < n; ++r.count)
      if ((r.st = f(idx[r.count])) != status::ok)
        return r;
    return r;
  }

  batch_result pop_many(list_ref l, std::uint32_t* out, std::size_t n,
                        list_id to, std::uint16_t owner) noexcept {
    batch_result r;
    for (; r.count < n; ++r.count)
      if ((r.st = lists_.pop_front(l, out[r.count], to, owner)) != status::ok)
        return r;
    return r;
  }

  region* region_;
  Lock* lock_;
  lists lists_;
  std::uint64_t evicted_ = 0; ///< times we were evicted mid-operation
};

} // namespace hyperamp::shm

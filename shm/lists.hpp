// The list primitives of the AmpMsgQueue: doubly linked index lists threaded
// through the entries. Contract for every function here: the caller holds
// queue_lock (or is the only user of the region).
//
// Everything read from the region is read once, validated, then used: an
// index out of range, a tag that does not match the list, a back link that
// does not point back, a walk longer than the entry count: each yields
// status::corrupt and leaves the region as it was (or repairable by repair()).
// Each operation writes the moved entry's tag first, so a holder that dies
// half way leaves something repair() can put right.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm/layout.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

class region;

/// The points between the writes of a list operation, in order. A test hook
/// called at each lets tests stop a lock holder exactly there.
enum class step_point {
  push_checked,     ///< push_back: checks done, nothing written
  push_tagged,      ///< ... the entry's tag changed
  push_own_links,   ///< ... its own next/prev written
  push_linked,      ///< ... the old tail (or head) points at it
  unlink_checked,   ///< unlink/pop_front: checks done, nothing written
  unlink_tagged,    ///< ... the entry's tag changed
  unlink_prev_done, ///< ... the predecessor (or head) skips it
  unlink_next_done, ///< ... the successor (or tail) skips it
};

using step_hook = void (*)(step_point);

/// Installs `h` (nullptr: none), called at every step_point of every list
/// operation in this process. For tests only.
void set_step_hook(step_hook h) noexcept;

/// Names one list in the region: its head and tail words and its tag.
struct list_ref {
  std::uint32_t* head;
  std::uint32_t* tail;
  list_id id;
  std::uint16_t slot; ///< for completed lists: the client slot; else 0
};

/// How many entries each list holds, from bounded walks (for accounting).
struct list_census {
  std::size_t free = 0, submitted = 0, in_service = 0, completed = 0,
              client = 0, total_on_lists = 0;
  bool consistent = true; ///< every entry on exactly one list or owned
};

class lists {
public:
  explicit lists(region& r) noexcept;

  list_ref free_list() noexcept;
  list_ref submitted() noexcept;
  list_ref in_service() noexcept;
  /// Contract: 1 <= slot <= max_clients.
  list_ref completed(std::uint16_t slot) noexcept;

  /// Appends entry `idx`, which must carry tag `from` (and, if `from` is
  /// list_id::client, belong to `owner`), to the tail of `l`.
  status push_back(list_ref l, std::uint32_t idx, list_id from,
                   std::uint16_t owner = 0) noexcept;

  /// Takes the head of `l`; it leaves tagged `to` (owned by `owner`).
  status pop_front(list_ref l, std::uint32_t& idx, list_id to,
                   std::uint16_t owner = 0) noexcept;

  /// Removes `idx` from the middle of `l`; it leaves tagged `to`.
  status unlink(list_ref l, std::uint32_t idx, list_id to,
                std::uint16_t owner = 0) noexcept;

  /// Appends the whole of `src` to `dst` (never overwrites), retagging.
  status transfer(list_ref src, list_ref dst) noexcept;

  /// Rebuilds every list from the entries' tags: O(entries), no allocation.
  /// Entries with an invalid tag or slot go to the free list. Returns the
  /// number of entries whose tag had to be changed.
  ///
  /// Why the tags are the truth: every operation checks, then changes the
  /// moved entry's tag (one CAS, its commit point), then writes links. A
  /// holder stopped anywhere leaves tags that say where each entry goes;
  /// links are only ever a cache of them.
  std::size_t repair() noexcept;

  /// Walks every list (bounded) and checks each entry is on exactly the list
  /// its tag names. Entries tagged client are counted, not walked.
  list_census census() noexcept;

private:
  bool valid(std::uint32_t idx) const noexcept { return idx < count_; }
  entry& at(std::uint32_t idx) noexcept;
  bool tagged(std::uint32_t idx, list_ref l) noexcept;
  /// CAS of entry idx's tag from `seen` to (to, slot, generation + 1).
  bool retag(std::uint32_t idx, std::uint64_t seen, list_id to,
             std::uint16_t slot) noexcept;
  /// repair(): appends entry i to the list its tag names.
  bool rebuild_one(std::uint32_t i) noexcept;
  std::size_t walk(list_ref l, bool& ok) noexcept;

  region* region_;
  std::uint32_t count_;
  std::uint32_t max_clients_;
};

} // namespace hyperamp::shm

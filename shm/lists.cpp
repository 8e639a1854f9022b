#include "shm/lists.hpp"

#include <atomic>

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

constexpr std::uint16_t tag(list_id id) noexcept {
  return static_cast<std::uint16_t>(id);
}

std::atomic<step_hook> g_step_hook{nullptr};

/// A point between two writes of a list operation (for tests: see
/// set_step_hook). One relaxed load when no hook is set.
inline void step(step_point p) noexcept {
  if (auto h = g_step_hook.load(std::memory_order_relaxed))
    h(p);
}

} // namespace

void set_step_hook(step_hook h) noexcept {
  g_step_hook.store(h, std::memory_order_relaxed);
}

lists::lists(region& r) noexcept
    : region_(&r), count_(r.entry_count()), max_clients_(r.max_clients()) {}

entry& lists::at(std::uint32_t idx) noexcept {
  return region_->entry_at(idx);
}

list_ref lists::free_list() noexcept {
  auto& h = region_->header();
  return {&h.free_head, &h.free_tail, list_id::free, 0};
}

list_ref lists::submitted() noexcept {
  auto& h = region_->header();
  return {&h.submitted_head, &h.submitted_tail, list_id::submitted, 0};
}

list_ref lists::in_service() noexcept {
  auto& h = region_->header();
  return {&h.in_service_head, &h.in_service_tail, list_id::in_service, 0};
}

list_ref lists::completed(std::uint16_t slot) noexcept {
  auto& s = region_->slot_at(slot);
  return {&s.completed_head, &s.completed_tail, list_id::completed, slot};
}

bool lists::tagged(std::uint32_t idx, list_ref l) noexcept {
  const entry_tag t = tag_of(at(idx));
  return t.list == tag(l.id) &&
         (l.id != list_id::completed || t.slot == l.slot);
}

bool lists::retag(std::uint32_t idx, std::uint64_t seen, list_id to,
                  std::uint16_t slot) noexcept {
  const std::uint64_t next =
      pack(entry_tag{tag(to), slot, unpack_tag(seen).gen + 1});
  // Relaxed: the lock orders it for the holder. The CAS is for a holder
  // that was evicted while stopped and resumes: if anybody moved the entry
  // meanwhile, its CAS fails and its operation stops (corrupt).
  return __atomic_compare_exchange_n(&at(idx).tag, &seen, next, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

status lists::push_back(list_ref l, std::uint32_t idx, list_id from,
                        std::uint16_t owner) noexcept {
  if (!valid(idx))
    return status::corrupt;
  entry& e = at(idx);
  const std::uint64_t seen = __atomic_load_n(&e.tag, __ATOMIC_RELAXED);
  const entry_tag t = unpack_tag(seen);
  if (t.list != tag(from) || (from == list_id::client && t.slot != owner))
    return status::corrupt;
  const std::uint32_t tl = *l.tail;
  if (tl == k_nil ? *l.head != k_nil
                  : !valid(tl) || !tagged(tl, l) || at(tl).next != k_nil)
    return status::corrupt;
  step(step_point::push_checked);
  if (!retag(idx, seen, l.id, l.id == list_id::completed ? l.slot : t.slot))
    return status::corrupt;
  step(step_point::push_tagged);
  e.next = k_nil;
  e.prev = tl;
  step(step_point::push_own_links);
  if (tl == k_nil)
    *l.head = idx;
  else
    at(tl).next = idx;
  step(step_point::push_linked);
  *l.tail = idx;
  return status::ok;
}

status lists::pop_front(list_ref l, std::uint32_t& idx, list_id to,
                        std::uint16_t owner) noexcept {
  const std::uint32_t h = *l.head;
  if (h == k_nil)
    return status::empty;
  if (!valid(h) || !tagged(h, l) || at(h).prev != k_nil)
    return status::corrupt;
  return unlink(l, h, to, owner) == status::ok ? (idx = h, status::ok)
                                               : status::corrupt;
}

status lists::unlink(list_ref l, std::uint32_t idx, list_id to,
                     std::uint16_t owner) noexcept {
  if (!valid(idx))
    return status::corrupt;
  entry& e = at(idx);
  const std::uint64_t seen = __atomic_load_n(&e.tag, __ATOMIC_RELAXED);
  const entry_tag t = unpack_tag(seen);
  if (t.list != tag(l.id) || (l.id == list_id::completed && t.slot != l.slot))
    return status::corrupt;
  const std::uint32_t p = e.prev;
  const std::uint32_t n = e.next;
  const bool p_ok = p == k_nil ? *l.head == idx
                               : valid(p) && tagged(p, l) && at(p).next == idx;
  const bool n_ok = n == k_nil ? *l.tail == idx
                               : valid(n) && tagged(n, l) && at(n).prev == idx;
  if (!p_ok || !n_ok)
    return status::corrupt;
  step(step_point::unlink_checked);
  const bool owned = to == list_id::client || to == list_id::free;
  if (!retag(idx, seen, to, owned ? owner : t.slot))
    return status::corrupt;
  step(step_point::unlink_tagged);
  if (p == k_nil)
    *l.head = n;
  else
    at(p).next = n;
  step(step_point::unlink_prev_done);
  if (n == k_nil)
    *l.tail = p;
  else
    at(n).prev = p;
  step(step_point::unlink_next_done);
  e.next = e.prev = k_nil;
  return status::ok;
}

status lists::transfer(list_ref src, list_ref dst) noexcept {
  // A list moved onto itself stays as it is (the splice below would link its
  // tail to its head and then empty it).
  if (src.head == dst.head)
    return status::ok;
  const std::uint32_t first = *src.head;
  const std::uint32_t last = *src.tail;
  if (first == k_nil)
    return last == k_nil ? status::ok : status::corrupt;
  // Validate the whole chain before changing anything.
  bool ok = true;
  walk(src, ok);
  const std::uint32_t t = *dst.tail;
  if (!ok || (t == k_nil ? *dst.head != k_nil
                         : !valid(t) || !tagged(t, dst) || at(t).next != k_nil))
    return status::corrupt;
  for (std::uint32_t i = first; i != k_nil; i = at(i).next) {
    const std::uint64_t seen = __atomic_load_n(&at(i).tag, __ATOMIC_RELAXED);
    const std::uint16_t slot =
        dst.id == list_id::completed ? dst.slot : unpack_tag(seen).slot;
    if (!retag(i, seen, dst.id, slot))
      return status::corrupt; // what moved stays moved: repair() links it
  }
  at(first).prev = t;
  if (t == k_nil)
    *dst.head = first;
  else
    at(t).next = first;
  *dst.tail = last;
  *src.head = *src.tail = k_nil;
  return status::ok;
}

std::size_t lists::walk(list_ref l, bool& ok) noexcept {
  std::size_t n = 0;
  std::uint32_t prev = k_nil;
  std::uint32_t i = *l.head;
  while (i != k_nil) {
    // More steps than entries means a cycle.
    if (!valid(i) || !tagged(i, l) || at(i).prev != prev || ++n > count_) {
      ok = false;
      return n;
    }
    prev = i;
    i = at(i).next;
  }
  if (*l.tail != prev)
    ok = false;
  return n;
}

std::size_t lists::repair() noexcept {
  // Counted in the region, for `amp-node inspect` (the lock is held).
  ++region_->header().repairs;
  auto reset = [](list_ref l) { *l.head = *l.tail = k_nil; };
  reset(free_list());
  reset(submitted());
  reset(in_service());
  for (std::uint16_t s = 1; s <= max_clients_; ++s)
    reset(completed(s));
  std::size_t changed = 0;
  for (std::uint32_t i = 0; i < count_; ++i)
    changed += rebuild_one(i) ? 1u : 0u;
  return changed;
}

bool lists::rebuild_one(std::uint32_t i) noexcept {
  entry& e = at(i);
  const std::uint64_t seen = __atomic_load_n(&e.tag, __ATOMIC_RELAXED);
  const entry_tag t = unpack_tag(seen);
  const bool slot_ok = t.slot >= 1 && t.slot <= max_clients_;
  if (t.list == tag(list_id::client) && slot_ok) {
    e.next = e.prev = k_nil; // owned by a client: on no list
    return false;
  }
  list_ref dst = free_list();
  bool changed = false;
  if (t.list == tag(list_id::submitted) && slot_ok)
    dst = submitted();
  else if (t.list == tag(list_id::in_service) && slot_ok)
    dst = in_service();
  else if (t.list == tag(list_id::completed) && slot_ok)
    dst = completed(t.slot);
  else if (t.list != tag(list_id::free))
    changed = retag(i, seen, list_id::free, 0); // invalid tag: free it
  // Append without validation: we are rebuilding from scratch.
  const std::uint32_t tl = *dst.tail;
  e.next = k_nil;
  e.prev = tl;
  if (tl == k_nil)
    *dst.head = i;
  else
    at(tl).next = i;
  *dst.tail = i;
  return changed;
}

list_census lists::census() noexcept {
  list_census c;
  bool ok = true;
  c.free = walk(free_list(), ok);
  c.submitted = walk(submitted(), ok);
  c.in_service = walk(in_service(), ok);
  for (std::uint16_t s = 1; s <= max_clients_; ++s)
    c.completed += walk(completed(s), ok);
  for (std::uint32_t i = 0; i < count_; ++i)
    if (tag_of(at(i)).list == tag(list_id::client))
      ++c.client;
  c.total_on_lists = c.free + c.submitted + c.in_service + c.completed;
  c.consistent = ok && c.total_on_lists + c.client == count_;
  return c;
}

} // namespace hyperamp::shm

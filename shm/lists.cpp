#include "shm/lists.hpp"

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

constexpr std::uint16_t tag(list_id id) noexcept {
  return static_cast<std::uint16_t>(id);
}

} // namespace

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
  const entry& e = at(idx);
  return e.list == tag(l.id) &&
         (l.id != list_id::completed || e.slot == l.slot);
}

status lists::push_back(list_ref l, std::uint32_t idx, list_id from,
                        std::uint16_t owner) noexcept {
  if (!valid(idx))
    return status::corrupt;
  entry& e = at(idx);
  if (e.list != tag(from) || (from == list_id::client && e.slot != owner))
    return status::corrupt;
  const std::uint32_t t = *l.tail;
  if (t == k_nil ? *l.head != k_nil
                 : !valid(t) || !tagged(t, l) || at(t).next != k_nil)
    return status::corrupt;
  e.list = tag(l.id);
  if (l.id == list_id::completed)
    e.slot = l.slot;
  e.next = k_nil;
  e.prev = t;
  if (t == k_nil)
    *l.head = idx;
  else
    at(t).next = idx;
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
  if (!valid(idx) || !tagged(idx, l))
    return status::corrupt;
  entry& e = at(idx);
  const std::uint32_t p = e.prev;
  const std::uint32_t n = e.next;
  const bool p_ok = p == k_nil ? *l.head == idx
                               : valid(p) && tagged(p, l) && at(p).next == idx;
  const bool n_ok = n == k_nil ? *l.tail == idx
                               : valid(n) && tagged(n, l) && at(n).prev == idx;
  if (!p_ok || !n_ok)
    return status::corrupt;
  e.list = tag(to);
  if (to == list_id::client || to == list_id::free)
    e.slot = owner;
  if (p == k_nil)
    *l.head = n;
  else
    at(p).next = n;
  if (n == k_nil)
    *l.tail = p;
  else
    at(n).prev = p;
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
    at(i).list = tag(dst.id);
    if (dst.id == list_id::completed)
      at(i).slot = dst.slot;
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
  auto reset = [](list_ref l) { *l.head = *l.tail = k_nil; };
  reset(free_list());
  reset(submitted());
  reset(in_service());
  for (std::uint16_t s = 1; s <= max_clients_; ++s)
    reset(completed(s));
  std::size_t changed = 0;
  for (std::uint32_t i = 0; i < count_; ++i) {
    entry& e = at(i);
    const std::uint16_t t = e.list;
    const std::uint16_t s = e.slot;
    const bool slot_ok = s >= 1 && s <= max_clients_;
    list_ref dst = free_list();
    if (t == tag(list_id::client) && slot_ok) {
      e.next = e.prev = k_nil; // owned by a client: on no list
      continue;
    }
    if (t == tag(list_id::submitted) && slot_ok)
      dst = submitted();
    else if (t == tag(list_id::in_service) && slot_ok)
      dst = in_service();
    else if (t == tag(list_id::completed) && slot_ok)
      dst = completed(s);
    else if (t != tag(list_id::free))
      ++changed;
    // Append without validation: we are rebuilding from scratch.
    const std::uint32_t tl = *dst.tail;
    e.list = tag(dst.id);
    e.next = k_nil;
    e.prev = tl;
    if (tl == k_nil)
      *dst.head = i;
    else
      at(tl).next = i;
    *dst.tail = i;
  }
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
    if (at(i).list == tag(list_id::client))
      ++c.client;
  c.total_on_lists = c.free + c.submitted + c.in_service + c.completed;
  c.consistent = ok && c.total_on_lists + c.client == count_;
  return c;
}

} // namespace hyperamp::shm

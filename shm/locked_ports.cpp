#include "shm/locked_ports.hpp"

#include <algorithm>

#include "shm/wire.hpp"

namespace hyperamp::shm {

namespace {

/// Reads a peer-written field exactly once.
template <class T>
T once(const T& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

bool valid_slot(const region& r, std::uint16_t slot) noexcept {
  return slot >= 1 && slot <= r.geo().max_clients;
}

} // namespace

port::~port() = default;

// -- locked_base --------------------------------------------------------------

locked_base::locked_base(std::shared_ptr<region> r, participant self,
                         const zone_options& o, zone_bells bells)
    : region_(std::move(r)),
      self_(self),
      lock_(*region_, self_.index(), o.zone_id, o.lock()),
      queue_(*region_, lock_),
      bells_(std::move(bells)),
      idx_(region_->entry_count()) {
  // A zone that attaches or takes over checks the lists before it serves
  // and repairs what it finds damaged.
  if (!queue_.census().consistent) {
    counters_.reject("the queue's lists were damaged when this zone started "
                     "(rebuilt)");
    repair_after(status::corrupt);
  }
}

void locked_base::repair_after(status st) noexcept {
  if (st != status::corrupt)
    return;
  // Counted in the region too, for `amp-node inspect`.
  __atomic_fetch_add(&region_->header().corrupt_found, 1, __ATOMIC_RELAXED);
  ++counters_.corrupt;
  ++counters_.repairs;
  queue_.repair();
}

self_check locked_base::check_own_slot() noexcept {
  const self_check c = self_.check();
  if (c == self_check::repaired) {
    ++counters_.repairs;
    counters_.reject("this zone's slot word was damaged (put back)");
  }
  return c;
}

// -- locked_client_port -------------------------------------------------------

locked_client_port::locked_client_port(std::shared_ptr<region> r,
                                       participant self, const zone_options& o,
                                       zone_bells bells)
    : locked_base(std::move(r), self, o, std::move(bells)),
      payload_(partition_offset(*region_, slot()),
               region_->geo().partition_size),
      service_live_(*region_, o.peer_dead),
      blocks_(region_->entry_count()),
      staging_(region_->entry_count()) {}

std::uint16_t locked_client_port::slot() const noexcept {
  return static_cast<std::uint16_t>(self_.index());
}

std::uint32_t locked_client_port::tickets() const noexcept {
  return region_->entry_count();
}

std::uint32_t locked_client_port::max_payload() const noexcept {
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(region_->geo().partition_size, UINT32_MAX));
}

port_counters locked_client_port::counters() const {
  auto c = counters_;
  c.evictions += lock_.recoveries();
  c.repairs += queue_.evicted_mid_operation();
  return c;
}

batch_result locked_client_port::acquire(const std::uint32_t* sizes,
                                         std::size_t n, lease* out) noexcept {
  n = std::min(n, staging_.size());
  // 1. payload space, outside the lock (the allocator is this process's).
  std::size_t k = 0;
  for (; k < n; ++k)
    if (payload_.allocate(sizes[k], staging_[k]) != status::ok)
      break;
  // 2. entries: one lock acquisition (two if the first found the free list
  // damaged: it is repaired, then the rest taken).
  const auto got = with_one_repair(k, [this](std::size_t at, std::size_t m) {
    return queue_.acquire(slot(), idx_.data() + at, m);
  });
  for (std::size_t i = got.count; i < k; ++i)
    payload_.release(staging_[i]);
  for (std::size_t i = 0; i < got.count; ++i) {
    const std::uint32_t t = idx_[i];
    if (blocks_[t].capacity != 0) {
      // Still ours for a request in flight, yet back on the free list:
      // damage gave the entry away, so that request's payload is ours to
      // free (its caller is answered by the bridge).
      payload_.release(blocks_[t]);
      counters_.reject("an entry in flight came back through the free list "
                       "(its request given up)");
    }
    blocks_[t] = staging_[i];
    out[i].ticket = t;
    out[i].data = region_->payload() + staging_[i].offset;
    out[i].capacity = staging_[i].capacity;
  }
  repair_after(got.st);
  return {got.count, got.count == n ? status::ok : status::full};
}

batch_result locked_client_port::submit(const request_desc* r,
                                        std::size_t n) noexcept {
  n = std::min(n, idx_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const payload_block& b = blocks_[r[i].ticket];
    write_request(*region_, r[i].ticket, r[i].seq, r[i].service_id, b.offset,
                  r[i].length, b.capacity);
    idx_[i] = r[i].ticket;
  }
  if (n == 0)
    return {};
  // A damaged submitted list refuses the append before anything is
  // written: rebuilt from the tags, it takes the rest.
  const auto res = with_one_repair(n, [this](std::size_t at, std::size_t m) {
    ++counters_.batches;
    return queue_.submit(slot(), idx_.data() + at, m);
  });
  if (res.count > 0) {
    bells_.peer(k_service_slot).ring();
    ++counters_.rings;
  }
  repair_after(res.st);
  return res;
}

batch_result locked_client_port::take_completed(completion* out,
                                                std::size_t n) noexcept {
  n = std::min(n, idx_.size());
  auto r = queue_.take_completed(slot(), idx_.data(), n);
  for (std::size_t i = 0; i < r.count; ++i) {
    const std::uint32_t t = idx_[i];
    const payload_block& b = blocks_[t];
    completion_view v;
    completion& c = out[i];
    c = completion{};
    c.ticket = t;
    if (read_completion(*region_, t, b.capacity, v, &c.why) != status::ok) {
      counters_.reject(c.why);
      continue;
    }
    c.done_seq = v.done_seq;
    c.result = v.result;
    c.data = region_->payload() + b.offset;
    c.length = v.result_length;
  }
  repair_after(r.st);
  return r;
}

void locked_client_port::release(const std::uint32_t* tickets,
                                 std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    payload_block& b = blocks_[tickets[i]];
    if (b.capacity != 0) // a stray completion of a former owner has none
      payload_.release(b);
    b = payload_block{};
  }
  std::size_t at = 0;
  while (at < n) {
    auto r = queue_.release(slot(), tickets + at, n - at);
    at += r.count;
    if (r.st == status::ok)
      break;
    // The entry at `at` was not ours to release (its tag says otherwise,
    // even after a repair): leave it where the repair put it.
    repair_after(status::corrupt);
    ++at;
  }
}

bool locked_client_port::lost(std::uint32_t ticket) noexcept {
  if (ticket >= blocks_.size())
    return false;
  // A submitted request is in the queue while its entry is tagged
  // submitted, in service or completed for our slot. Tagged as ours but not
  // in the queue, or tagged for anyone else: damage and repair took it
  // out, and no completion will come.
  const entry_tag t = tag_of(region_->entry_at(ticket));
  const auto is = [&t](list_id l) {
    return t.list == static_cast<std::uint16_t>(l);
  };
  if (t.slot == slot() && (is(list_id::submitted) || is(list_id::in_service) ||
                           is(list_id::completed)))
    return false;
  if (t.slot == slot() && is(list_id::client))
    queue_.release(slot(), &ticket, 1); // ours to give back
  payload_block& b = blocks_[ticket];
  if (b.capacity != 0)
    payload_.release(b);
  b = payload_block{};
  counters_.reject("a request's entry was lost to damage (given up)");
  return true;
}

std::size_t locked_client_port::sweep() noexcept {
  std::size_t n = 0;
  const auto client = static_cast<std::uint16_t>(list_id::client);
  for (std::uint32_t i = 0; i < region_->entry_count(); ++i) {
    const entry_tag t = tag_of(region_->entry_at(i));
    if (t.list == client && t.slot == slot() && blocks_[i].capacity == 0)
      idx_[n++] = i; // ours by its tag, but we never acquired it
  }
  if (n == 0)
    return 0;
  auto r = queue_.release(slot(), idx_.data(), n);
  for (std::size_t k = 0; k < r.count; ++k)
    counters_.reject("an entry tagged for this client that it never took "
                     "(given back)");
  repair_after(r.st);
  return r.count;
}

bool locked_client_port::peer_up(clock::time_point now) noexcept {
  return is_active(region_->slot_at(k_service_slot)) &&
         !service_live_.dead(k_service_slot, now);
}

bool locked_client_port::lock_held() const noexcept {
  return region_->header().queue_lock.load(std::memory_order_relaxed) != 0;
}

void locked_client_port::leave() noexcept {
  if (left_)
    return;
  left_ = true;
  // Everything of this slot but what the service still holds (its
  // completions are released by the service's reaper once we are gone).
  queue_.reap_client(slot());
  self_.release();
}

// -- locked_service_port ------------------------------------------------------

locked_service_port::locked_service_port(std::shared_ptr<region> r,
                                         participant self,
                                         const zone_options& o,
                                         zone_bells bells)
    : locked_base(std::move(r), self, o, std::move(bells)),
      clients_(*region_, o.peer_dead),
      taken_(region_->entry_count()) {
  done_.reserve(region_->entry_count());
  orphan_.reserve(region_->entry_count());
  ring_.reserve(region_->max_clients());
}

std::uint32_t locked_service_port::tickets() const noexcept {
  return region_->entry_count();
}

port_counters locked_service_port::counters() const {
  auto c = counters_;
  c.evictions += lock_.recoveries();
  c.repairs += queue_.evicted_mid_operation();
  return c;
}

batch_result locked_service_port::take_submitted(incoming* out,
                                                 std::size_t n) noexcept {
  n = std::min(n, idx_.size());
  auto r = queue_.take_submitted(idx_.data(), n);
  if (r.count > 0)
    ++counters_.batches;
  std::size_t k = 0;
  for (std::size_t i = 0; i < r.count; ++i) {
    const std::uint32_t idx = idx_[i];
    request_view v;
    const char* why = nullptr;
    if (read_request(*region_, idx, v, &why) != status::ok) {
      reject(idx, why);
      continue;
    }
    taken_[idx].seq = v.seq;
    taken_[idx].slot = v.slot;
    taken_[idx].valid = true;
    incoming& in = out[k++];
    in.ticket = idx;
    in.service_id = v.service_id;
    in.data = v.data;
    in.length = v.length;
    in.capacity = v.capacity;
  }
  publish(); // the rejected ones, if any
  repair_after(r.st);
  return {k, r.st};
}

void locked_service_port::reject(std::uint32_t idx, const char* why) noexcept {
  counters_.reject(why);
  taken_[idx] = {};
  // Answer it if it names a client slot; otherwise nobody can be answered
  // and it goes back to the free list. Each field is read once.
  const entry& e = region_->entry_at(idx);
  const std::uint16_t slot = tag_of(e).slot;
  if (!valid_slot(*region_, slot)) {
    orphan_.push_back(idx);
    return;
  }
  write_completion(*region_, idx, once(e.seq), wire_status::bad_request, 0);
  done_.push_back(idx);
  mark_ring(slot);
}

batch_result locked_service_port::complete(const outcome* o,
                                           std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (o[i].ticket >= taken_.size() || !taken_[o[i].ticket].valid)
      continue; // not a request this service holds
    taken& t = taken_[o[i].ticket];
    write_completion(*region_, o[i].ticket, t.seq, o[i].status, o[i].length);
    done_.push_back(o[i].ticket);
    mark_ring(t.slot);
    t.valid = false;
  }
  publish();
  return {n, status::ok};
}

void locked_service_port::mark_ring(std::uint16_t slot) noexcept {
  if (std::find(ring_.begin(), ring_.end(), slot) == ring_.end())
    ring_.push_back(slot);
}

void locked_service_port::publish() noexcept {
  std::size_t at = 0;
  while (at < done_.size()) {
    // The completion fields were written first; the lock's release
    // publishes them together with the move to the client's list.
    auto r = queue_.complete(done_.data() + at, done_.size() - at);
    ++counters_.batches;
    at += r.count;
    if (r.st != status::ok && at < done_.size()) {
      repair_after(status::corrupt);
      // The damage may have been in the lists (a head, a link), not in
      // this entry: rebuilt from the tags, they take it now. Only an entry
      // that fails again cannot be completed, and is freed.
      const auto again = queue_.complete(done_.data() + at, 1);
      if (again.count == 0) {
        repair_after(again.st);
        orphan_.push_back(done_[at]);
      }
      ++at;
    }
  }
  done_.clear();
  if (!orphan_.empty()) {
    queue_.discard(orphan_.data(), orphan_.size());
    orphan_.clear();
  }
  for (auto s : ring_) {
    bells_.peer(s).ring();
    ++counters_.rings;
  }
  ring_.clear();
}

std::size_t locked_service_port::abort_predecessor() noexcept {
  // Only a service moves entries to in_service, and there is one service
  // slot: whatever is in service now was left by a predecessor, whether it
  // died (taken over) or left in an orderly way with jobs still held.
  auto r = queue_.abort_in_service(idx_.data(), idx_.size());
  for (std::size_t i = 0; i < r.count; ++i) {
    const std::uint16_t slot = tag_of(region_->entry_at(idx_[i])).slot;
    if (valid_slot(*region_, slot))
      mark_ring(slot);
  }
  publish();
  repair_after(r.st);
  return r.count;
}

std::size_t locked_service_port::reap(clock::time_point now) noexcept {
  std::size_t freed = 0;
  for (std::uint32_t s = 1; s <= region_->max_clients(); ++s) {
    const auto slot = static_cast<std::uint16_t>(s);
    std::uint32_t epoch = 0;
    if (clients_.dead(s, now, &epoch)) {
      // A worker may still write into its payload partition, which the
      // slot's next owner would hand out again: the slot is evicted (and
      // its entries given back) only once this service holds none of its
      // requests. Until then it stays dead, and claimed, tick after tick.
      if (holds_work_of(slot))
        continue;
      std::size_t n = 0;
      if (queue_.evict_client(slot, epoch, &n))
        ++counters_.evictions;
      freed += n;
      clients_.reset(s);
      continue;
    }
    // A free slot with a still heartbeat: nobody lives there; zeroed, it
    // can be claimed again (see the slot protocol).
    if (clients_.silent_leftover(s, now)) {
      region_->slot_at(s).heartbeat.store(0, std::memory_order_release);
      ++counters_.repairs;
      counters_.reject("a free client slot kept a heartbeat (cleared)");
    }
  }
  return freed + sweep();
}

bool locked_service_port::holds_work_of(std::uint16_t slot) const noexcept {
  for (const taken& t : taken_)
    if (t.valid && t.slot == slot)
      return true;
  return false;
}

std::size_t locked_service_port::sweep() noexcept {
  // One pass over the tags (without the lock: a hint; each queue operation
  // checks again under it): work in service that this service does not
  // hold (a predecessor's, or a damaged region's) is aborted, and entries
  // tagged for a client slot that nobody holds are freed.
  std::vector<bool>& departed = departed_;
  departed.assign(region_->max_clients() + 1u, false);
  orphan_in_service_.clear();
  const auto is = [](entry_tag t, list_id l) {
    return t.list == static_cast<std::uint16_t>(l);
  };
  for (std::uint32_t i = 0; i < region_->entry_count(); ++i) {
    const entry_tag t = tag_of(region_->entry_at(i));
    if (is(t, list_id::in_service) && !taken_[i].valid)
      orphan_in_service_.push_back(i);
    else if ((is(t, list_id::client) || is(t, list_id::submitted) ||
              is(t, list_id::completed)) &&
             valid_slot(*region_, t.slot) &&
             !is_active(region_->slot_at(t.slot)))
      departed[t.slot] = true;
  }
  std::size_t freed = 0;
  for (std::uint16_t s = 1; s <= region_->max_clients(); ++s)
    if (departed[s])
      freed += queue_.reap_departed(s);
  if (!orphan_in_service_.empty()) {
    auto r = queue_.abort(orphan_in_service_.data(), orphan_in_service_.size(),
                          idx_.data());
    for (std::size_t k = 0; k < r.count; ++k) {
      const std::uint16_t slot = tag_of(region_->entry_at(idx_[k])).slot;
      if (valid_slot(*region_, slot))
        mark_ring(slot);
    }
    for (std::size_t k = 0; k < r.count; ++k)
      counters_.reject("work in service that nobody held (aborted)");
    publish();
  }
  return freed;
}

void locked_service_port::leave() noexcept {
  if (left_)
    return;
  left_ = true;
  publish();
  self_.release();
}

} // namespace hyperamp::shm

#include "shm/partitioned_ports.hpp"

#include <algorithm>

#include "shm/wire.hpp"

// Memory ordering. Each publishing store is a release paired with an
// acquire on the other side; the labels name the pairs (docs/wire-layout.md
// has the same table):
//   [R1] client stores req_tail     -> [A1] service loads req_tail:
//        the request cells are written before the service reads them.
//   [R2] client fetch_or pending    -> [A2] service exchange of the word:
//        a set bit is seen together with the req_tail stored before it.
//   [R3] service stores resp_tail   -> [A3] client loads resp_tail:
//        the answer cells (and payload bytes) before the client reads them.
//   [R4] client stores resp_head    -> [A4] service loads resp_head:
//        the client read the answer cells before the service reuses them.
//   [R5] service stores req_head    -> [A5] client loads req_head:
//        the service read the request cells (and wrote their records)
//        before the client reuses them.
//   [R6] service record state       -> [A6] client (lost) / successor:
//        held: fields written; free: the answer was published first.

namespace hyperamp::shm {

namespace {

/// Reads a peer-written field exactly once.
template <class T>
T once(const T& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

template <class T>
void put(T& field, T value) noexcept {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

/// Distance from `from` to `to` on a ring of `cap`, if it can be one.
bool span(std::uint64_t from, std::uint64_t to, std::uint32_t cap,
          std::uint64_t* n) noexcept {
  *n = to - from;
  return *n <= cap;
}

} // namespace

// -- partitioned_base ---------------------------------------------------------

partitioned_base::partitioned_base(std::shared_ptr<region> r, participant self,
                                   zone_bells bells)
    : region_(std::move(r)),
      self_(self),
      bells_(std::move(bells)),
      cap_(region_->entry_count()) {}

self_check partitioned_base::check_own_slot() noexcept {
  const self_check c = self_.check();
  if (c == self_check::repaired) {
    ++counters_.repairs;
    counters_.reject("this zone's slot word was damaged (put back)");
  }
  return c;
}

// -- partitioned_client_port --------------------------------------------------

partitioned_client_port::partitioned_client_port(std::shared_ptr<region> r,
                                                 participant self,
                                                 const zone_options& o,
                                                 zone_bells bells)
    : partitioned_base(std::move(r), self, std::move(bells)),
      ring_(ring_of(*region_, self_.index())),
      slot_(static_cast<std::uint16_t>(self_.index())),
      epoch_(self_.epoch()),
      payload_(partition_offset(*region_, slot_),
               region_->geo().partition_size),
      service_live_(*region_, o.peer_dead),
      flights_(cap_) {
  // Continue from the indices the slot's previous owner and the service
  // left. A pair that cannot be (more than cap apart) starts empty at the
  // peer's index. Requests of a previous owner still in the ring carry its
  // epoch: the service drops them, which gives their room to us.
  std::uint64_t n = 0;
  const std::uint64_t head = ring_.req_head.load(std::memory_order_acquire);
  req_tail_ = ring_.req_tail.load(std::memory_order_relaxed);
  if (!span(head, req_tail_, cap_, &n))
    req_tail_ = head;
  head_seen_ = head;
  const std::uint64_t tail = ring_.resp_tail.load(std::memory_order_acquire);
  resp_head_ = ring_.resp_head.load(std::memory_order_relaxed);
  if (!span(resp_head_, tail, cap_, &n))
    resp_head_ = tail;
  ring_.req_tail.store(req_tail_, std::memory_order_release);   // [R1]
  ring_.resp_head.store(resp_head_, std::memory_order_release); // [R4]
  free_.reserve(cap_);
  for (std::uint32_t t = cap_; t > 0; --t)
    free_.push_back(t - 1);
  if (req_tail_ != head) { // let the service drop them
    pending_word(*region_, slot_)
        .fetch_or(pending_mask(slot_), std::memory_order_acq_rel);
    bells_.peer(k_service_slot).ring();
  }
}

std::uint32_t partitioned_client_port::max_payload() const noexcept {
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(region_->geo().partition_size, UINT32_MAX));
}

bool partitioned_client_port::ring_room(std::uint64_t want,
                                        std::uint64_t* room) noexcept {
  // The service's head as last seen: it only grows, so the room it gives
  // is a lower bound; the shared line is read again only when that is not
  // enough (a cached index, as SPSC queues do).
  std::uint64_t used = req_tail_ - head_seen_ + unsubmitted_;
  if (used > cap_ || cap_ - used < want) {
    const std::uint64_t head =
        ring_.req_head.load(std::memory_order_acquire); // [A5]
    std::uint64_t n = 0;
    if (!span(head, req_tail_, cap_, &n)) {
      counters_.reject("the service's request ring head is out of range");
      ++counters_.corrupt;
      return false;
    }
    head_seen_ = head;
    used = n + unsubmitted_;
  }
  *room = used >= cap_ ? 0 : cap_ - used;
  return true;
}

batch_result partitioned_client_port::acquire(const std::uint32_t* sizes,
                                              std::size_t n,
                                              lease* out) noexcept {
  std::uint64_t room = 0;
  if (!ring_room(n, &room))
    return {0, status::full};
  std::size_t k = 0;
  for (; k < n && k < room && !free_.empty(); ++k) {
    payload_block b;
    if (payload_.allocate(sizes[k], b) != status::ok)
      break;
    const std::uint32_t t = free_.back();
    free_.pop_back();
    flight& f = flights_[t];
    f = flight{};
    f.block = b;
    f.st = state::acquired;
    ++unsubmitted_;
    out[k].ticket = t;
    out[k].data = region_->payload() + b.offset;
    out[k].capacity = b.capacity;
  }
  return {k, k == n ? status::ok : status::full};
}

batch_result partitioned_client_port::submit(const request_desc* r,
                                             std::size_t n) noexcept {
  std::size_t k = 0;
  for (; k < n; ++k) {
    if (r[k].ticket >= cap_ || flights_[r[k].ticket].st != state::acquired)
      break; // not a ticket acquired and not yet submitted
    flight& f = flights_[r[k].ticket];
    request_cell& c = request_at(*region_, slot_, req_tail_);
    put(c.seq, r[k].seq);
    put(c.epoch, epoch_);
    put(c.ticket, r[k].ticket);
    put(c.service_id, r[k].service_id);
    put(c.payload_offset, f.block.offset);
    put(c.payload_length, r[k].length);
    put(c.payload_capacity, f.block.capacity);
    f.seq = r[k].seq;
    f.pos = req_tail_++;
    f.st = state::submitted;
    --unsubmitted_;
  }
  if (k == 0)
    return {0, n == 0 ? status::ok : status::corrupt};
  ring_.req_tail.store(req_tail_, std::memory_order_release); // [R1]
  ++counters_.batches;
  // [R2] Coalescing: whoever sets the bit rings; a bit already set means
  // the service has not scanned since our last ring, so it will see this.
  const std::uint64_t was =
      pending_word(*region_, slot_)
          .fetch_or(pending_mask(slot_), std::memory_order_acq_rel);
  if ((was & pending_mask(slot_)) == 0) {
    bells_.peer(k_service_slot).ring();
    ++counters_.rings;
  }
  return {k, k == n ? status::ok : status::corrupt};
}

bool partitioned_client_port::read_answer(std::uint64_t pos,
                                          completion& c) noexcept {
  const response_cell& cell = response_at(*region_, slot_, pos);
  const std::uint32_t epoch = once(cell.epoch);
  const std::uint32_t ticket = once(cell.ticket);
  const std::uint64_t seq = once(cell.done_seq);
  const std::uint32_t st = once(cell.status);
  const std::uint32_t len = once(cell.result_length);
  if (epoch != epoch_)
    return false; // an answer for the slot's previous owner
  if (ticket >= cap_) {
    counters_.reject("an answer names a ticket out of range");
    return false;
  }
  flight& f = flights_[ticket];
  if (f.st != state::submitted || f.seq != seq) {
    counters_.reject("an answer matches no request in flight");
    return false;
  }
  c = completion{};
  c.ticket = ticket;
  c.done_seq = seq;
  f.st = state::completed;
  if (st == 0 || st > k_wire_status_max)
    c.why = "completion status invalid";
  else if (len > f.block.capacity)
    c.why = "result length exceeds the buffer";
  if (c.why != nullptr) {
    counters_.reject(c.why);
    return true;
  }
  c.result = static_cast<wire_status>(st);
  c.data = region_->payload() + f.block.offset;
  c.length = len;
  return true;
}

batch_result partitioned_client_port::take_completed(completion* out,
                                                     std::size_t n) noexcept {
  const std::uint64_t tail =
      ring_.resp_tail.load(std::memory_order_acquire); // [A3]
  std::uint64_t avail = 0;
  if (!span(resp_head_, tail, cap_, &avail)) {
    counters_.reject("the service's response ring tail is out of range");
    ++counters_.corrupt;
    return {0, status::empty};
  }
  std::size_t k = 0;
  while (resp_head_ != tail && k < n)
    if (read_answer(resp_head_++, out[k]))
      ++k;
  if (avail > 0)
    ring_.resp_head.store(resp_head_, std::memory_order_release); // [R4]
  return {k, resp_head_ != tail ? status::ok : status::empty};
}

void partitioned_client_port::give_back(std::uint32_t t) noexcept {
  flight& f = flights_[t];
  if (f.st == state::acquired)
    --unsubmitted_;
  payload_.release(f.block);
  f = flight{};
  free_.push_back(t);
}

void partitioned_client_port::release(const std::uint32_t* tickets,
                                      std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t t = tickets[i];
    // Submitted requests stay reserved until answered (or lost()).
    if (t < cap_ && (flights_[t].st == state::acquired ||
                     flights_[t].st == state::completed))
      give_back(t);
  }
}

bool partitioned_client_port::held_by_service(std::uint32_t t) noexcept {
  const flight& f = flights_[t];
  for (std::uint32_t i = 0; i < cap_; ++i) {
    service_record& rec = record_at(*region_, i);
    if (rec.state.load(std::memory_order_acquire) == 1 && // [A6]
        once(rec.slot) == slot_ && once(rec.epoch) == epoch_ &&
        once(rec.ticket) == t && once(rec.seq) == f.seq)
      return true;
  }
  return false;
}

bool partitioned_client_port::answer_waiting(std::uint32_t t) noexcept {
  const std::uint64_t tail = ring_.resp_tail.load(std::memory_order_acquire);
  std::uint64_t n = 0;
  if (!span(resp_head_, tail, cap_, &n))
    return true; // cannot tell: keep it
  for (std::uint64_t p = resp_head_; p != tail; ++p) {
    const response_cell& c = response_at(*region_, slot_, p);
    if (once(c.ticket) == t && once(c.done_seq) == flights_[t].seq)
      return true;
  }
  return false;
}

bool partitioned_client_port::lost(std::uint32_t t) noexcept {
  if (t >= cap_ || flights_[t].st != state::submitted)
    return false;
  // In the ring still, held by the service, or answered and not yet taken:
  // an answer will come. Otherwise the service took it and its answer was
  // lost to damage. Order: the record is cleared only after the answer was
  // published ([R6] after [R3]), so reading the record first and the ring
  // second cannot miss both.
  const std::uint64_t head = ring_.req_head.load(std::memory_order_acquire);
  std::uint64_t n = 0;
  if (!span(head, req_tail_, cap_, &n) || head - flights_[t].pos > cap_ ||
      head == flights_[t].pos)
    return false; // not taken yet (or the head makes no sense)
  if (held_by_service(t) || answer_waiting(t))
    return false;
  give_back(t);
  counters_.reject("a request's answer was lost (given up)");
  return true;
}

std::size_t partitioned_client_port::sweep() noexcept {
  // Our indices again: whatever damaged them in the region heals.
  ring_.req_tail.store(req_tail_, std::memory_order_release);   // [R1]
  ring_.resp_head.store(resp_head_, std::memory_order_release); // [R4]
  return 0;
}

bool partitioned_client_port::peer_up(clock::time_point now) noexcept {
  return is_active(region_->slot_at(k_service_slot)) &&
         !service_live_.dead(k_service_slot, now);
}

void partitioned_client_port::leave() noexcept {
  if (left_)
    return;
  left_ = true;
  // Requests still in the ring carry our epoch; the next owner's requests
  // will not, so the service drops ours then.
  self_.release();
}

// -- partitioned_service_port -------------------------------------------------

partitioned_service_port::partitioned_service_port(std::shared_ptr<region> r,
                                                   participant self,
                                                   const zone_options& o,
                                                   zone_bells bells)
    : partitioned_base(std::move(r), self, std::move(bells)),
      clients_(*region_, o.peer_dead),
      lanes_(region_->max_clients() + 1u),
      held_(cap_) {
  waiting_.reserve(cap_);
  done_.reserve(cap_);
  touched_.reserve(region_->max_clients());
  free_.reserve(cap_);
  // Records a predecessor left held are adopted: abort_predecessor()
  // answers them. Every other ticket is free.
  for (std::uint32_t t = cap_; t > 0; --t) {
    if (record_at(*region_, t - 1).state.load(std::memory_order_acquire) != 0)
      held_[t - 1].st = state::adopted;
    else
      free_.push_back(t - 1);
  }
  start_lanes();
}

void partitioned_service_port::start_lanes() noexcept {
  // Continue from the indices a predecessor left; an index that cannot be
  // (more than cap from the client's) starts at the client's.
  for (std::uint16_t s = 1; s <= region_->max_clients(); ++s) {
    ring_control& rc = ring_of(*region_, s);
    lane& l = lanes_[s];
    std::uint64_t n = 0;
    l.req_head = rc.req_head.load(std::memory_order_relaxed);
    const std::uint64_t tail = rc.req_tail.load(std::memory_order_acquire);
    if (!span(l.req_head, tail, cap_, &n))
      l.req_head = tail;
    l.resp_tail = rc.resp_tail.load(std::memory_order_relaxed);
    const std::uint64_t head = rc.resp_head.load(std::memory_order_acquire);
    if (!span(head, l.resp_tail, cap_, &n))
      l.resp_tail = head;
    l.head_seen = head;
    rc.req_head.store(l.req_head, std::memory_order_release);   // [R5]
    rc.resp_tail.store(l.resp_tail, std::memory_order_release); // [R3]
    set_pending(s); // scan every slot once
  }
}

void partitioned_service_port::gather_pending() noexcept {
  ring_summary& sum = summary_of(*region_);
  const std::uint32_t words = (region_->max_clients() + 63) / 64;
  for (std::uint32_t w = 0; w < words; ++w)
    if (sum.pending[w].load(std::memory_order_relaxed) != 0)
      pending_[w] |= sum.pending[w].exchange(0, std::memory_order_acq_rel);
  // [A2]
}

batch_result partitioned_service_port::take_submitted(incoming* out,
                                                      std::size_t n) noexcept {
  publish(); // answers that waited for room
  gather_pending();
  const std::uint32_t clients = region_->max_clients();
  std::size_t k = 0;
  const std::uint32_t first = cursor_;
  for (std::uint32_t i = 0; i < clients && k < n && !free_.empty(); ++i) {
    const auto s = static_cast<std::uint16_t>((first - 1 + i) % clients + 1);
    const std::uint64_t bit = pending_mask(s);
    if ((pending_[(s - 1u) / 64] & bit) == 0)
      continue;
    std::size_t got = 0;
    if (take_from(s, out + k, n - k, &got))
      pending_[(s - 1u) / 64] &= ~bit;
    k += got;
    // Fairness: the next call starts after the last slot served.
    cursor_ = s % clients + 1;
  }
  if (k > 0)
    ++counters_.batches;
  publish(); // the answers to rejected requests
  if (k == n)
    return {k, status::ok};
  return {k, free_.empty() ? status::full : status::empty};
}

bool partitioned_service_port::room_for(lane& l, std::uint16_t s,
                                        std::uint64_t want) noexcept {
  if (!l.room_known) {
    l.room_known = true;
    touched_.push_back(s);
    // The client's head as last seen is a lower bound (it only grows); the
    // shared line is read again only when that leaves less than `want`.
    std::uint64_t used = l.resp_tail - l.head_seen;
    if (used > cap_ || cap_ - used < want) {
      const std::uint64_t head =
          ring_of(*region_, s)
              .resp_head.load(std::memory_order_acquire); // [A4]
      if (!span(head, l.resp_tail, cap_, &used)) {
        counters_.reject("a client's response ring head is out of range");
        ++counters_.corrupt;
        used = cap_; // no room until the client stores it again
      } else {
        l.head_seen = head;
      }
    }
    l.resp_room = cap_ - used;
  }
  return l.resp_room > 0;
}

bool partitioned_service_port::take_from(std::uint16_t s, incoming* out,
                                         std::size_t n,
                                         std::size_t* got) noexcept {
  const owner_word owner = read_owner(region_->slot_at(s));
  lane& l = lanes_[s];
  if (!owner.active() || (l.doomed && owner.epoch == l.doomed_epoch))
    return true; // nobody to serve; a new owner's requests set the bit
  ring_control& rc = ring_of(*region_, s);
  const std::uint64_t tail =
      rc.req_tail.load(std::memory_order_acquire); // [A1]
  std::uint64_t avail = 0;
  if (!span(l.req_head, tail, cap_, &avail)) {
    counters_.reject("a client's request ring tail is out of range");
    ++counters_.corrupt;
    return true; // the client stores it again on its next submit or tick
  }
  // Room for every answer this slot may be owed: what we hold of it plus
  // what its response ring holds stays within cap.
  room_for(l, s, l.held + std::min<std::uint64_t>(avail, n));
  std::size_t k = 0;
  const std::uint64_t start = l.req_head;
  while (l.req_head != tail && k < n && !free_.empty() &&
         l.held < l.resp_room) {
    if (accept(s, owner.epoch, l.req_head++, out[k]))
      ++k;
  }
  if (l.req_head != start)
    rc.req_head.store(l.req_head, std::memory_order_release); // [R5]
  *got = k;
  return l.req_head == tail;
}

bool partitioned_service_port::accept(std::uint16_t s, std::uint32_t epoch,
                                      std::uint64_t pos,
                                      incoming& out) noexcept {
  const request_cell& c = request_at(*region_, s, pos);
  const std::uint64_t seq = once(c.seq);
  const std::uint32_t cell_epoch = once(c.epoch);
  const std::uint32_t ticket = once(c.ticket);
  const std::uint32_t off = once(c.payload_offset);
  const std::uint32_t len = once(c.payload_length);
  const std::uint32_t capacity = once(c.payload_capacity);
  if (cell_epoch != epoch) {
    counters_.reject("a request of the slot's previous owner (dropped)");
    return false;
  }
  if (ticket >= cap_) {
    counters_.reject("a request names a ticket out of range (dropped)");
    return false;
  }
  const std::uint32_t t = free_.back();
  free_.pop_back();
  held& h = held_[t];
  h = held{seq, pos, epoch, ticket, s, state::held};
  ++lanes_[s].held;
  service_record& rec = record_at(*region_, t);
  put(rec.seq, seq);
  put(rec.pos, pos);
  put(rec.epoch, epoch);
  put(rec.ticket, ticket);
  put(rec.slot, s);
  rec.state.store(1, std::memory_order_release); // [R6] before [R5]
  // 64-bit arithmetic on 32-bit inputs: cannot overflow.
  const std::uint64_t lo = partition_offset(*region_, s);
  const std::uint64_t hi = lo + region_->geo().partition_size;
  const char* why = seq == 0                     ? "sequence number is zero"
                    : off % k_payload_align != 0 ? "payload offset not "
                                                   "64-byte aligned"
                    : len > capacity             ? "payload length exceeds "
                                                   "capacity"
                    : off < lo || off + std::uint64_t{capacity} > hi
                        ? "payload outside the client's partition"
                        : nullptr;
  if (why != nullptr) {
    counters_.reject(why);
    answer(t, wire_status::bad_request, 0);
    return false;
  }
  out.ticket = t;
  out.service_id = once(c.service_id);
  out.data = region_->payload() + off;
  out.length = len;
  out.capacity = capacity;
  return true;
}

void partitioned_service_port::answer(std::uint32_t t, wire_status st,
                                      std::uint32_t length) noexcept {
  held& h = held_[t];
  h.result = st;
  h.length = length;
  h.st = state::answered;
  waiting_.push_back(t);
}

batch_result partitioned_service_port::complete(const outcome* o,
                                                std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (o[i].ticket < cap_ && held_[o[i].ticket].st == state::held)
      answer(o[i].ticket, o[i].status, o[i].length);
  publish();
  return {n, status::ok};
}

void partitioned_service_port::publish() noexcept {
  std::size_t keep = 0;
  for (const std::uint32_t t : waiting_) {
    const held& h = held_[t];
    lane& l = lanes_[h.slot];
    if (!room_for(l, h.slot, l.held)) {
      waiting_[keep++] = t; // its ring is full: next time
      continue;
    }
    response_cell& c = response_at(*region_, h.slot, l.resp_tail++);
    put(c.done_seq, h.seq);
    put(c.epoch, h.epoch);
    put(c.ticket, h.ticket);
    put(c.status, static_cast<std::uint32_t>(h.result));
    put(c.result_length, h.length);
    --l.resp_room;
    l.published = true;
    done_.push_back(t);
  }
  waiting_.resize(keep);
  for (const std::uint16_t s : touched_) {
    lane& l = lanes_[s];
    l.room_known = false;
    if (!l.published)
      continue;
    l.published = false;
    ring_of(*region_, s)
        .resp_tail.store(l.resp_tail,
                         std::memory_order_release); // [R3]
    bells_.peer(s).ring();
    ++counters_.rings;
  }
  touched_.clear();
  for (const std::uint32_t t : done_)
    free_ticket(t);
  done_.clear();
}

void partitioned_service_port::free_ticket(std::uint32_t t) noexcept {
  // [R6] after [R3]: a record reads free only once its answer is out.
  record_at(*region_, t).state.store(0, std::memory_order_release);
  held& h = held_[t];
  if (h.slot >= 1 && h.slot < lanes_.size() && lanes_[h.slot].held > 0)
    --lanes_[h.slot].held;
  h = held{};
  free_.push_back(t);
}

std::size_t partitioned_service_port::abort_predecessor() noexcept {
  // Records held by a predecessor: requests it took (their position is
  // before the ring's head) and never answered. A record whose request is
  // still in the ring (it died between recording and publishing the head)
  // is simply taken again.
  std::size_t n = 0;
  for (std::uint32_t t = 0; t < cap_; ++t) {
    if (held_[t].st != state::adopted)
      continue;
    const service_record& rec = record_at(*region_, t);
    held& h = held_[t];
    h = held{once(rec.seq),    once(rec.pos),  once(rec.epoch),
             once(rec.ticket), once(rec.slot), state::adopted};
    const bool slot_ok = h.slot >= 1 && h.slot <= region_->max_clients();
    const owner_word w =
        slot_ok ? read_owner(region_->slot_at(h.slot)) : owner_word{};
    const lane& l = slot_ok ? lanes_[h.slot] : lanes_[0];
    if (!slot_ok || !w.active() || w.epoch != h.epoch || h.ticket >= cap_ ||
        l.req_head - h.pos - 1 >= cap_) {
      h.slot = 0;
      free_ticket(t); // nobody to answer, or not taken after all
      continue;
    }
    ++lanes_[h.slot].held;
    answer(t, wire_status::aborted, 0);
    ++n;
  }
  publish();
  return n;
}

void partitioned_service_port::drop_answers_of(std::uint16_t s) noexcept {
  std::size_t keep = 0;
  for (const std::uint32_t t : waiting_)
    if (held_[t].slot == s)
      free_ticket(t);
    else
      waiting_[keep++] = t;
  waiting_.resize(keep);
}

std::size_t partitioned_service_port::reap(clock::time_point now) noexcept {
  std::size_t evicted = 0;
  for (std::uint16_t s = 1; s <= region_->max_clients(); ++s) {
    lane& l = lanes_[s];
    std::uint32_t epoch = 0;
    l.doomed = clients_.dead(s, now, &epoch);
    if (l.doomed) {
      l.doomed_epoch = epoch;
      // Its answers can never be taken; evict once none of its requests is
      // held by this service any more (nothing is written into its
      // partition after a new owner claims it).
      drop_answers_of(s);
      if (l.held == 0 && evict(s, epoch)) {
        ++counters_.evictions;
        ++evicted;
        clients_.reset(s);
        l.doomed = false;
      }
      continue;
    }
    if (clients_.silent_leftover(s, now)) {
      region_->slot_at(s).heartbeat.store(0, std::memory_order_release);
      ++counters_.repairs;
      counters_.reject("a free client slot kept a heartbeat (cleared)");
    }
    // Our indices again (damage heals), and a look at every ring: a lost
    // pending bit costs one tick, never a hang.
    ring_control& rc = ring_of(*region_, s);
    rc.req_head.store(l.req_head, std::memory_order_release);   // [R5]
    rc.resp_tail.store(l.resp_tail, std::memory_order_release); // [R3]
    if (rc.req_tail.load(std::memory_order_relaxed) != l.req_head)
      set_pending(s);
  }
  publish();
  return evicted;
}

bool partitioned_service_port::evict(std::uint16_t s,
                                     std::uint32_t epoch) noexcept {
  // The dead client writes nothing any more: its requests still in the ring
  // are dropped and its unread answers discarded, both before the slot is
  // freed, so the next owner starts with empty rings. (A client that was
  // only stopped and resumes finds itself replaced: check_self.)
  ring_control& rc = ring_of(*region_, s);
  lane& l = lanes_[s];
  std::uint64_t n = 0;
  const std::uint64_t tail = rc.req_tail.load(std::memory_order_acquire);
  if (span(l.req_head, tail, cap_, &n))
    l.req_head = tail;
  rc.req_head.store(l.req_head, std::memory_order_release);   // [R5]
  rc.resp_head.store(l.resp_tail, std::memory_order_release); // its owner's
  l.head_seen = l.resp_tail;
  return try_evict(region_->slot_at(s), epoch);
}

void partitioned_service_port::leave() noexcept {
  if (left_)
    return;
  left_ = true;
  publish();
  // Records still held (jobs in our workers) are answered `aborted` by the
  // next service.
  self_.release();
}

} // namespace hyperamp::shm

#include "shm/v1_ports.hpp"

#include <algorithm>
#include <thread>

namespace hyperamp::shm::v1 {

namespace {

using clock = std::chrono::steady_clock;

/// deal_state seen without a result (hvisor-tool's service stores the two
/// bit-fields one after the other): wait this long for the result.
constexpr auto k_no_result_grace = std::chrono::milliseconds{10};

/// Reads a field the peer may write, once.
template <class T>
T load(const T& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
}

/// Writes a field the peer reads. Release: what was written before (the
/// entry, the payload) is visible to a peer that reads this value.
template <class T, class V>
void store(T& field, V value) noexcept {
  __atomic_store_n(&field, static_cast<T>(value), __ATOMIC_RELEASE);
}

std::int64_t ns_of(clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

/// The payload area of the client: [64, buffer end), whole 64-byte
/// granules, offsets and capacities within 32 bits.
std::uint64_t payload_bytes(std::uint64_t buffer_size) noexcept {
  if (buffer_size <= k_buffer_reserved)
    return 0;
  const std::uint64_t most = (std::uint64_t{1} << 32) - 2 * k_payload_align;
  return std::min(buffer_size - k_buffer_reserved, most) / k_payload_align *
         k_payload_align;
}

result result_for(wire_status st) noexcept {
  switch (st) {
  case wire_status::ok:
    return result::success;
  case wire_status::unknown_service:
    return result::not_exists;
  default:
    return result::fail;
  }
}

wire_status status_for(result r) noexcept {
  switch (r) {
  case result::success:
    return wire_status::ok;
  case result::not_exists:
    return wire_status::unknown_service;
  default:
    return wire_status::service_failed;
  }
}

std::string hex32(std::uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4)
    out += digits[(v >> shift) & 15];
  return out;
}

bool service_up(std::uint32_t word) noexcept {
  return word == k_ready || word == k_mark_idle;
}

} // namespace

std::string bell_options_of(const bell_settings& b, bell_options& out) {
  if (b.kind == bell_kind::hvisor) {
    out.device = bell_device::hvisor;
    out.hvisor_device = b.hvisor.hvisor_device;
    out.hshm_device = b.hvisor.hshm_device;
    out.target_zone = b.hvisor.target_zone;
    out.swi = b.hvisor.swi;
  } else if (b.kind == bell_kind::fifo) {
    out.device = bell_device::fifo;
    out.fifo_path = b.fifo_path;
  } else {
    return "the hvisor-tool-v1 layout has no doorbell word in shared "
           "memory: use doorbell.backend = \"hvisor\" (a board: /dev/hvisor "
           "and /dev/hshm0) or \"fifo\" (a host)";
  }
  out.spin = b.spin;
  return {};
}

void init_queue(window_map& m) noexcept {
  const auto n = static_cast<std::uint16_t>(m.capacity());
  queue_header& h = m.header();
  store(h.buf_size, n);
  store(h.empty_h, 0);
  store(h.wait_h, n);
  store(h.proc_ing_h, n);
  for (std::uint32_t i = 0; i < n; ++i) {
    msg_entry& e = m.entry(i);
    store(e.m.flag, 0);
    store(e.m.service_id, 0);
    store(e.m.offset, 0);
    store(e.m.length, 0);
    store(e.cur_idx, i);
    store(e.nxt_idx, i + 1);
  }
  store(h.working_mark, k_mark_idle);
}

// -- client_port --------------------------------------------------------------

client_port::client_port(std::unique_ptr<window_map> m,
                         std::unique_ptr<ringer> r, const zone_options& o)
    : map_(std::move(m)),
      ringer_(std::move(r)),
      end_(map_->capacity()),
      rering_(std::chrono::milliseconds(o.region.v1.rering_ms)),
      payload_(k_buffer_reserved, payload_bytes(map_->buffer_size())),
      bell_(*this, o.bell.spin),
      t_(end_),
      waiting_(end_),
      on_list_(end_),
      watch_words_((end_ + 63) / 64) {
  watch_ = std::make_unique<std::atomic<std::uint64_t>[]>(watch_words_);
  for (std::size_t i = 0; i < watch_words_; ++i)
    watch_[i].store(0, std::memory_order_relaxed);
  outstanding_.reserve(end_);
  settling_.reserve(end_);
  local_done_.reserve(end_);
  init_queue(*map_);
  free_count_ = end_;
  probe_on_list_.store(end_, std::memory_order_relaxed);
}

client_port::~client_port() = default;

std::uint32_t client_port::max_payload() const noexcept {
  const std::uint64_t area = payload_.size();
  return area == 0 ? 0 : static_cast<std::uint32_t>(area - 1);
}

bool client_port::peer_up(clock::time_point) noexcept {
  return service_up(load(map_->ready_word()));
}

batch_result client_port::acquire(const std::uint32_t* sizes, std::size_t n,
                                  lease* out) noexcept {
  n = std::min<std::size_t>(n, end_);
  std::size_t k = 0;
  for (; k < n; ++k) {
    if (sizes[k] > max_payload())
      break;
    payload_block b;
    // Room for the trailing NUL hvisor-tool's service expects.
    if (payload_.allocate(sizes[k] + 1, b) != status::ok)
      break;
    const std::uint32_t idx = pop_free();
    if (idx == end_) {
      payload_.release(b);
      break;
    }
    ticket& t = t_[idx];
    t = ticket{};
    t.st = state::leased;
    t.block = b;
    t.offset = b.offset;
    out[k].ticket = idx;
    out[k].data = map_->buffer() + b.offset;
    out[k].capacity = sizes[k];
  }
  return {k, k == n ? status::ok : status::full};
}

batch_result client_port::submit(const request_desc* r,
                                 std::size_t n) noexcept {
  const auto now = clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t idx = r[i].ticket;
    if (idx >= end_ || t_[idx].st != state::leased)
      continue; // not a lease of ours
    ticket& t = t_[idx];
    t.seq = r[i].seq;
    if (r[i].service_id > 0xFFFF || r[i].length >= t.block.capacity) {
      // A 16-bit service id on the wire; the NUL must fit the block.
      t.local_fail = true;
      t.st = state::done;
      local_done_.push_back(idx);
      continue;
    }
    t.service_id = static_cast<std::uint16_t>(r[i].service_id);
    t.length = r[i].length + 1;
    map_->buffer()[t.offset + r[i].length] = 0;
    msg_entry& e = map_->entry(idx);
    store(e.m.flag, 0);
    store(e.m.service_id, t.service_id);
    store(e.m.offset, t.offset);
    store(e.m.length, t.length);
    store(e.nxt_idx, end_);
    t.st = state::waiting;
    waiting_[(waiting_head_ + waiting_count_) % end_] = idx;
    ++waiting_count_;
  }
  if (n > 0)
    ++counters_.batches;
  progress(now);
  return {n, status::ok};
}

void client_port::progress(clock::time_point now) noexcept {
  queue_header& h = map_->header();
  if (load(h.buf_size) != end_) {
    // Someone else initialised the queue (another client process) or
    // wrote over the header: our entries are not what the service sees.
    counters_.reject("buf_size changed under the client (another client "
                     "re-initialised the queue?); restored");
    store(h.buf_size, end_);
  }
  const std::uint32_t mark = load(h.working_mark);
  std::uint32_t head = load(h.proc_ing_h);
  if (head > end_) {
    counters_.reject("proc_ing_h beyond buf_size; reset to empty");
    ++counters_.repairs;
    store(h.proc_ing_h, end_);
    head = end_;
  }
  if (on_list_ != end_ && head != on_list_)
    on_list_ = end_; // taken by the service
  bool idle = mark != k_mark_busy;
  if (!idle && head == end_ && (waiting_count_ > 0 || !settling_.empty())) {
    // BUSY over an empty list: the service is between taking and writing
    // IDLE, or it never will (it died, or it is not a hvisor-tool peer).
    if (!busy_empty_) {
      busy_empty_ = true;
      busy_empty_since_ = now;
    } else if (now - busy_empty_since_ >= rering_) {
      counters_.reject("working_mark stayed BUSY over an empty list; taken "
                       "as IDLE");
      idle = true;
    }
  } else {
    busy_empty_ = false;
  }
  if (idle) {
    // Every entry handed over so far has been let go of by the service.
    idle_gen_ = busy_gen_;
    busy_empty_ = false;
    settle();
  }
  if (head == end_ && idle && waiting_count_ > 0) {
    const std::uint32_t idx = waiting_[waiting_head_];
    waiting_head_ = (waiting_head_ + 1) % end_;
    --waiting_count_;
    hand_over(idx, now);
  } else if (on_list_ != end_ && head == on_list_ &&
             is_done(load(map_->entry(on_list_).m.flag))) {
    // Our entry is done but still at the head. hvisor-tool's service
    // unlinks it right after marking it done (BUSY until then); IDLE with
    // it still listed means the service left it there (a cycle on the
    // list?): taken off, never handed over again.
    if (idle) {
      counters_.reject("the service left a finished request on the "
                       "processing list; taken off");
      ++counters_.repairs;
      store(h.proc_ing_h, end_);
      on_list_ = end_;
    }
  } else if (on_list_ != end_ && head == on_list_) {
    if (idle) {
      // The service set IDLE but left our entry on the list: hand it over
      // again (BUSY) and ring.
      store(h.working_mark, k_mark_busy);
      t_[on_list_].gen = ++busy_gen_;
      ring(on_list_, now);
      ++rerings_;
    } else if (now - last_ring_ >= rering_) {
      // Not taken: the ring may have come before the service listened.
      ring(on_list_, now);
      ++rerings_;
    }
  }
  publish_probe_state(now);
}

void client_port::hand_over(std::uint32_t idx, clock::time_point now) noexcept {
  queue_header& h = map_->header();
  ticket& t = t_[idx];
  store(h.working_mark, k_mark_busy);
  t.gen = ++busy_gen_;
  t.st = state::handed;
  outstanding_.push_back(idx);
  watch(idx, true);
  // Publishes the entry and its payload (release), then rings.
  store(h.proc_ing_h, idx);
  on_list_ = idx;
  ring(idx, now);
}

void client_port::ring(std::uint32_t idx, clock::time_point now) noexcept {
  ringer_->ring(t_[idx].service_id);
  ++counters_.rings;
  last_ring_ = now;
}

void client_port::settle() noexcept {
  for (std::size_t i = 0; i < settling_.size();) {
    const std::uint32_t idx = settling_[i];
    if (t_[idx].gen > idle_gen_) {
      ++i;
      continue;
    }
    msg_entry& e = map_->entry(idx);
    store(e.m.flag, 0);
    store(e.m.length, 0);
    push_free(idx);
    settling_[i] = settling_.back();
    settling_.pop_back();
  }
}

batch_result client_port::take_completed(completion* out,
                                         std::size_t n) noexcept {
  const auto now = clock::now();
  progress(now);
  std::size_t k = 0;
  while (k < n && !local_done_.empty()) {
    const std::uint32_t idx = local_done_.back();
    local_done_.pop_back();
    completion& c = out[k++];
    c = completion{};
    c.ticket = idx;
    c.done_seq = t_[idx].seq;
    c.result = wire_status::bad_request;
    c.data = map_->buffer() + t_[idx].offset;
  }
  for (std::size_t i = 0; i < outstanding_.size() && k < n;) {
    const std::uint32_t idx = outstanding_[i];
    ticket& t = t_[idx];
    msg_entry& e = map_->entry(idx);
    const std::uint16_t flag = load(e.m.flag);
    if (!is_done(flag)) {
      ++i;
      continue;
    }
    const result res = result_of(flag);
    completion& c = out[k];
    c = completion{};
    c.ticket = idx;
    if (res == result::none) {
      if (!t.none_seen) {
        t.none_seen = true;
        t.none_since = now;
      }
      if (now - t.none_since < k_no_result_grace) {
        ++i;
        continue;
      }
      c.why = "the service marked a request done without a result";
    } else {
      const std::uint32_t length = load(e.m.length);
      if (load(e.m.offset) != t.offset)
        c.why = "the service changed a request's payload offset";
      else if (load(e.m.service_id) != t.service_id)
        c.why = "the service changed a request's service id";
      else if (length == 0 || length > t.length)
        c.why = "the service wrote a result length out of range";
      else {
        c.done_seq = t.seq;
        c.result = status_for(res);
        c.data = map_->buffer() + t.offset;
        c.length = length - 1;
      }
    }
    if (c.why != nullptr)
      counters_.reject(c.why);
    t.st = state::done;
    watch(idx, false);
    outstanding_[i] = outstanding_.back();
    outstanding_.pop_back();
    ++k;
  }
  publish_probe_state(now);
  return {k, k == n ? status::ok : status::empty};
}

void client_port::release(const std::uint32_t* tickets,
                          std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t idx = tickets[i];
    if (idx >= end_)
      continue;
    ticket& t = t_[idx];
    if (t.block.capacity != 0) {
      payload_.release(t.block);
      t.block = payload_block{};
    }
    if (t.st == state::leased) {
      push_free(idx);
    } else if (t.st == state::done) {
      if (t.local_fail || t.gen <= idle_gen_) {
        msg_entry& e = map_->entry(idx);
        store(e.m.flag, 0);
        store(e.m.length, 0);
        push_free(idx);
      } else {
        // hvisor-tool's service unlinks an entry after marking it done:
        // it goes back to the free list once IDLE shows the service is
        // through with it.
        t.st = state::settling;
        settling_.push_back(idx);
      }
    }
  }
  publish_probe_state(clock::now());
}

bool client_port::lost(std::uint32_t idx) noexcept {
  if (idx >= end_ || t_[idx].st != state::waiting)
    return false;
  // Out of the ring of waiting tickets, the order of the others kept.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < waiting_count_; ++i) {
    const std::uint32_t w = waiting_[(waiting_head_ + i) % end_];
    if (w != idx)
      waiting_[(waiting_head_ + kept++) % end_] = w;
  }
  waiting_count_ = kept;
  ticket& t = t_[idx];
  if (t.block.capacity != 0)
    payload_.release(t.block);
  msg_entry& e = map_->entry(idx);
  store(e.m.flag, 0);
  store(e.m.length, 0);
  push_free(idx);
  publish_probe_state(clock::now());
  return true;
}

std::uint32_t client_port::pop_free() noexcept {
  if (free_count_ == 0)
    return end_;
  queue_header& h = map_->header();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::uint32_t head = load(h.empty_h);
    if (head < end_ && t_[head].st == state::free) {
      const std::uint32_t next = load(map_->entry(head).nxt_idx);
      const bool next_ok = next == end_ ? free_count_ == 1
                                        : next < end_ && next != head &&
                                              t_[next].st == state::free;
      if (next_ok) {
        store(h.empty_h, next);
        store(map_->entry(head).nxt_idx, end_);
        --free_count_;
        t_[head].st = state::leased;
        return head;
      }
    }
    rebuild_free();
  }
  return end_;
}

void client_port::push_free(std::uint32_t idx) noexcept {
  queue_header& h = map_->header();
  store(map_->entry(idx).nxt_idx, load(h.empty_h));
  store(h.empty_h, idx);
  ++free_count_;
  t_[idx] = ticket{};
}

void client_port::rebuild_free() noexcept {
  // The free list is this process's alone; what it holds is known here.
  counters_.reject("the free list (empty_h) was damaged; rebuilt");
  ++counters_.repairs;
  std::uint32_t next = end_;
  for (std::uint32_t i = end_; i-- > 0;)
    if (t_[i].st == state::free) {
      store(map_->entry(i).nxt_idx, next);
      next = i;
    }
  store(map_->header().empty_h, next);
}

void client_port::watch(std::uint32_t idx, bool on) noexcept {
  const std::uint64_t bit = std::uint64_t{1} << (idx % 64);
  if (on)
    watch_[idx / 64].fetch_or(bit, std::memory_order_release);
  else
    watch_[idx / 64].fetch_and(~bit, std::memory_order_relaxed);
}

void client_port::publish_probe_state(clock::time_point now) noexcept {
  (void)now;
  probe_waiting_.store(static_cast<std::uint32_t>(waiting_count_),
                       std::memory_order_relaxed);
  probe_settling_.store(static_cast<std::uint32_t>(settling_.size()),
                        std::memory_order_relaxed);
  probe_on_list_.store(on_list_, std::memory_order_relaxed);
  std::int64_t due = 0;
  if (on_list_ != end_)
    due = ns_of(last_ring_ + rering_);
  else if (busy_empty_)
    due = ns_of(busy_empty_since_ + rering_);
  probe_due_.store(due, std::memory_order_relaxed);
}

bool client_port::ready() noexcept {
  // A handed-over entry marked done.
  for (std::size_t w = 0; w < watch_words_; ++w) {
    std::uint64_t bits = watch_[w].load(std::memory_order_acquire);
    while (bits != 0) {
      const auto idx = static_cast<std::uint32_t>(
          w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits)));
      if (is_done(load(map_->entry(idx).m.flag)))
        return true;
      bits &= bits - 1;
    }
  }
  // Something the IDLE mark lets us do: settle, hand over, ring again.
  const std::uint32_t waiting = probe_waiting_.load(std::memory_order_relaxed);
  const std::uint32_t settling =
      probe_settling_.load(std::memory_order_relaxed);
  const std::uint32_t on_list = probe_on_list_.load(std::memory_order_relaxed);
  if (waiting > 0 || settling > 0 || on_list != end_) {
    const queue_header& h = map_->header();
    if (load(h.working_mark) != k_mark_busy) {
      const std::uint32_t head = load(h.proc_ing_h);
      if (settling > 0 || (waiting > 0 && head == end_) ||
          (on_list != end_ && head == on_list))
        return true;
    }
  }
  // A re-ring or a stale BUSY mark is due.
  const std::int64_t due = probe_due_.load(std::memory_order_relaxed);
  return due != 0 && ns_of(clock::now()) >= due;
}

// -- service_port -------------------------------------------------------------

service_port::service_port(std::unique_ptr<window_map> m,
                           std::unique_ptr<listen_bell> bell)
    : map_(std::move(m)),
      bell_(std::move(bell)),
      taken_(map_->capacity()),
      stamp_(map_->capacity(), 0) {
  failed_.reserve(map_->capacity());
  requeue_.reserve(map_->capacity());
  // Listening already (the bell is open): a client may now hand over.
  store(map_->ready_word(), k_ready);
}

service_port::~service_port() = default;

std::uint32_t service_port::tickets() const noexcept {
  return map_->capacity();
}

void service_port::leave() noexcept {
  std::uint32_t& word = map_->ready_word();
  if (load(word) == k_ready)
    store(word, 0);
}

self_check service_port::check_self() noexcept {
  std::uint32_t& word = map_->ready_word();
  if (load(word) == k_ready)
    return self_check::ours;
  counters_.reject("the readiness word was overwritten while the service "
                   "runs; written again");
  store(word, k_ready);
  return self_check::repaired;
}

std::uint32_t service_port::entries() noexcept {
  const std::uint32_t n = load(map_->header().buf_size);
  if (n == 0)
    return 0; // no client has initialised the queue yet
  if (n > map_->capacity()) {
    if (n != bad_size_) {
      bad_size_ = n;
      counters_.reject("buf_size is larger than the queue window holds; "
                       "the queue is ignored until a client initialises it");
    }
    return 0;
  }
  return n;
}

void service_port::answer(std::uint32_t idx, result r) noexcept {
  store(map_->entry(idx).m.flag, done_flag(r));
}

void service_port::answer_failed() noexcept {
  for (const std::uint32_t f : failed_)
    answer(f, result::fail);
  failed_.clear();
}

void service_port::fix_mark(std::uint32_t end) noexcept {
  queue_header& h = map_->header();
  // The mark first: a client writes BUSY only after it has put its list at
  // proc_ing_h (hvisor-tool) or just before (hyperamp, which rings again
  // if we wrote IDLE over its entry), so BUSY then an empty list means we
  // took that list before the client's BUSY landed.
  if (load(h.working_mark) != k_mark_busy || load(h.proc_ing_h) != end)
    return;
  std::uint32_t expected = k_mark_busy;
  __atomic_compare_exchange_n(&h.working_mark, &expected, k_mark_idle, false,
                              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

std::size_t service_port::reap(clock::time_point) noexcept {
  if (const std::uint32_t end = entries(); end != 0)
    fix_mark(end);
  return 0;
}

bool service_port::accept(std::uint32_t idx, incoming& in) noexcept {
  msg_entry& e = map_->entry(idx);
  const std::uint16_t flag = load(e.m.flag);
  const std::uint16_t service = load(e.m.service_id);
  const std::uint32_t offset = load(e.m.offset);
  const std::uint32_t length = load(e.m.length);
  if (is_done(flag)) {
    counters_.reject("an entry on the processing list was already marked "
                     "done; skipped");
    return false;
  }
  const std::uint64_t size = map_->buffer_size();
  if (length == 0) {
    counters_.reject("a message of length 0 (answered FAIL)");
    failed_.push_back(idx);
    return false;
  }
  if (offset > size || length > size - offset) {
    counters_.reject("a message's offset and length reach beyond the buffer "
                     "window (answered FAIL)");
    failed_.push_back(idx);
    return false;
  }
  taken_[idx] = taken{true, false, service, offset, length};
  in.ticket = idx;
  in.service_id = service;
  in.data = map_->buffer() + offset;
  // The payload without its trailing NUL; the response fits in place.
  in.length = length - 1;
  in.capacity = length - 1;
  return true;
}

batch_result service_port::take_submitted(incoming* out,
                                          std::size_t n) noexcept {
  std::size_t k = 0;
  failed_.clear();
  // Entries handed over again while we held them, now free to run.
  while (k < n && !requeue_.empty()) {
    const std::uint32_t idx = requeue_.back();
    requeue_.pop_back();
    if (accept(idx, out[k]))
      ++k;
  }
  const std::uint32_t end = entries();
  if (end == 0) {
    answer_failed();
    return {k, status::empty};
  }
  queue_header& h = map_->header();
  std::uint32_t idx = load(h.proc_ing_h);
  if (idx >= end) {
    if (idx > end) {
      counters_.reject("proc_ing_h beyond buf_size; reset to empty");
      store(h.proc_ing_h, end);
    }
    fix_mark(end);
    answer_failed();
    return {k, status::empty};
  }
  if (++walk_ == 0) { // wrapped: forget every old stamp
    std::fill(stamp_.begin(), stamp_.end(), 0);
    walk_ = 1;
  }
  const std::size_t before = k;
  // Walk the list: at most `end` distinct entries (the stamps stop a
  // cycle), every index checked before it is used.
  while (idx < end && k < n) {
    msg_entry& e = map_->entry(idx);
    stamp_[idx] = walk_;
    const std::uint32_t next = load(e.nxt_idx);
    store(e.nxt_idx, end); // unlinked: the entry is ours now
    const char* bad_link = nullptr;
    if (next > end)
      bad_link = "an entry's nxt_idx is beyond buf_size (the entry is "
                 "answered FAIL, the list ends there)";
    else if (next < end && stamp_[next] == walk_)
      bad_link = "the processing list has a cycle (the entry closing it is "
                 "answered FAIL, the list ends there)";
    if (bad_link != nullptr) {
      counters_.reject(bad_link);
      if (taken_[idx].valid)
        taken_[idx].rehanded = true;
      else
        failed_.push_back(idx);
      idx = end;
      break;
    }
    if (taken_[idx].valid) {
      // Handed over again while its first run is still out (a client
      // re-initialised the queue and reused it): taken anew afterwards.
      counters_.reject("an entry was handed over again while the service "
                       "still ran it");
      taken_[idx].rehanded = true;
    } else if (accept(idx, out[k])) {
      ++k;
    }
    idx = next;
  }
  // The rest of the list (if n stopped the walk) stays for the next take.
  store(h.proc_ing_h, idx);
  if (idx == end)
    store(h.working_mark, k_mark_idle); // taken: the client may hand over
  if (k > before || !failed_.empty())
    ++counters_.batches;
  // Answered only now: every entry is off the list before the client can
  // see it done and reuse it.
  answer_failed();
  return {k, idx != end || k == n ? status::ok : status::empty};
}

batch_result service_port::complete(const outcome* o, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t idx = o[i].ticket;
    if (idx >= taken_.size() || !taken_[idx].valid)
      continue; // not a request this service holds
    taken t = taken_[idx];
    taken_[idx] = taken{};
    if (t.rehanded) {
      counters_.reject("the first result of an entry handed over again was "
                       "dropped");
      requeue_.push_back(idx);
      continue;
    }
    msg_entry& e = map_->entry(idx);
    if (is_done(load(e.m.flag)) || load(e.m.service_id) != t.service_id ||
        load(e.m.offset) != t.offset || load(e.m.length) != t.length) {
      counters_.reject("the client reused an entry before its request was "
                       "completed (it re-initialised the queue?); the "
                       "result is dropped");
      continue;
    }
    result r = result_for(o[i].status);
    const std::uint32_t room = t.length - 1;
    if (r == result::success && o[i].length > room)
      r = result::fail; // a response must stay inside the request's bytes
    if (r == result::success && o[i].length != room) {
      map_->buffer()[t.offset + o[i].length] = 0;
      store(e.m.length, o[i].length + 1);
    }
    // One store publishes deal_state and the result together, after the
    // payload and the length (release).
    answer(idx, r);
  }
  if (n > 0)
    ++counters_.batches;
  return {n, status::ok};
}

// -- opening ------------------------------------------------------------------

namespace {

/// Polls the readiness word until a service is up or the timeout passes.
bool await_ready(window_map& m, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  for (;;) {
    if (service_up(load(m.ready_word())))
      return true;
    if (clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string not_ready(window_map& m, std::chrono::milliseconds timeout) {
  return "no service zone is up: the readiness word at " +
         hex(m.windows().ready_addr) + " (" + m.path() + ") is " +
         hex32(load(m.ready_word())) + " after " +
         std::to_string(timeout.count()) +
         " ms, not 0xeeeeeeee (written by `hvisor shm hyper_amp_service` or "
         "`amp-node hyper_amp_service` when it starts)";
}

} // namespace

port_result<shm::client_port> open_client(const zone_options& o) {
  port_result<shm::client_port> out;
  bell_options bo;
  if (out.error = bell_options_of(o.bell, bo); !out.error.empty())
    return out;
  auto m = window_map::open(o.region);
  if (!m) {
    out.error = m.message;
    return out;
  }
  if (o.wait_for_service.count() > 0 &&
      !await_ready(*m.value, o.wait_for_service)) {
    out.error = not_ready(*m.value, o.wait_for_service);
    return out;
  }
  auto r = ringer::open(bo, &out.error);
  if (!r)
    return out;
  out.port = std::make_unique<client_port>(std::move(m.value), std::move(r), o);
  return out;
}

port_result<shm::service_port> open_service(const zone_options& o) {
  port_result<shm::service_port> out;
  bell_options bo;
  if (out.error = bell_options_of(o.bell, bo); !out.error.empty())
    return out;
  auto m = window_map::open(o.region);
  if (!m) {
    out.error = m.message;
    return out;
  }
  auto bell = listen_bell::open(bo, &out.error);
  if (!bell)
    return out;
  out.port =
      std::make_unique<service_port>(std::move(m.value), std::move(bell));
  return out;
}

std::string wait_for_service(const region_options& o,
                             std::chrono::milliseconds timeout) {
  auto m = window_map::open(o);
  if (!m)
    return m.message;
  return await_ready(*m.value, timeout) ? std::string{}
                                        : not_ready(*m.value, timeout);
}

} // namespace hyperamp::shm::v1

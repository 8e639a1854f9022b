// The peer-written-garbage harness, shared by the doctest fuzz suite
// (fuzz_test.cpp, seeded PRNG) and the libFuzzer target
// (fuzz/region_fuzzer.cpp, fuzzer bytes).
//
// One round: re-initialise the region, perform a few valid operations,
// corrupt what the peer can write (header line 1, slots' completed lists,
// every entry field, stray bytes; header line 0 for region::check), then run
// every reader and check that each returns a status from its allowed set,
// that every index it hands out is in range, and that a validated request
// points into the payload area. Finally repair() must leave the lists
// consistent, and from there every entry must be recoverable to the free
// list (abort_in_service + reap_client of every slot).
//
// Out-of-region accesses: the region is a real file mapping (the region API
// needs one), so ASan cannot see it. Instead the mapping is laid out so that
// the entry array ends exactly where the payload area starts, and the
// payload area plus one extra page mapped after the region are PROT_NONE
// while the harness runs (no shm/ queue or wire function may touch payload
// bytes: they only compute pointers). A page before the region is made
// PROT_NONE too when that address is free. Any stray read or write past the
// last entry, or before the header, then faults in every build.
#pragma once

#include "shm/lists.hpp"
#include "shm/queue.hpp"
#include "shm/region.hpp"
#include "shm/wire.hpp"
#include "shm/zone_lock.hpp"
#include "test_queue.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace hyperamp::shm::fuzz {

using test::list_of;
using test::set_list;
using test::set_slot;
using test::slot_of;

// 45 entries x 64 B start at 1216 (= 256 + 5 slots x 192) and end at 4096,
// exactly where the payload area begins.
inline constexpr std::uint32_t k_entries = 45;
inline constexpr std::uint32_t k_clients = 4;
inline constexpr std::uint64_t k_payload = 4096; // 1 KiB per client
inline constexpr std::size_t k_page = 4096;

static_assert(make_geometry(k_entries, k_clients, k_payload).entries_offset +
                      k_entries * sizeof(entry) ==
                  make_geometry(k_entries, k_clients, k_payload).payload_offset,
              "the guard layout needs the entries to end at the payload");
static_assert(make_geometry(k_entries, k_clients, k_payload).region_size %
                      k_page ==
                  0,
              "the guard page after the region must be page aligned");

/// A region file mapped by region::open with guard pages around what the
/// queue may touch. The file is unlinked at once: the mapping keeps it.
class guarded_region {
public:
  /// Empty message on success.
  std::string open(const std::string& path) {
    region_options o;
    o.path = path;
    o.entries = k_entries;
    o.max_clients = k_clients;
    o.payload_size = k_payload;
    o.create = create_mode::create;
    const geometry g = make_geometry(k_entries, k_clients, k_payload);
    o.size = g.region_size + k_page; // one more page: the guard after
    auto res = region::open(o);
    ::unlink(path.c_str());
    if (!res)
      return res.message;
    r_ = std::move(res.value);
    std::uint8_t* base = r_->base();
    if (::mprotect(base + g.payload_offset, g.payload_size + k_page,
                   PROT_NONE) != 0)
      return "mprotect failed";
    void* before =
        ::mmap(base - k_page, k_page, PROT_NONE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (before == base - k_page)
      guard_before_ = before;
    else if (before != MAP_FAILED)
      ::munmap(before, k_page); // old kernel: placed elsewhere
    return {};
  }

  ~guarded_region() {
    r_.reset();
    if (guard_before_)
      ::munmap(guard_before_, k_page);
  }

  region& get() { return *r_; }
  bool guard_before() const { return guard_before_ != nullptr; }

private:
  std::unique_ptr<region> r_;
  void* guard_before_ = nullptr;
};

/// Counters a caller may print.
struct stats {
  std::uint64_t rounds = 0, ops = 0, corruptions = 0, corrupt_statuses = 0,
                requests_ok = 0, repairs_changed = 0;
};

/// Source: std::uint32_t below(std::uint32_t n) in [0, n), n >= 1, and
/// std::uint32_t word(). Check: void(bool ok, const char* what), called for
/// every property; it decides whether a failure aborts.
template <class Source, class Check>
class harness {
public:
  harness(region& r, Source& src, Check& check, stats& st)
      : r_(r), src_(src), check_(check), st_(st), q_(r, lock_) {}

  void round() {
    ++st_.rounds;
    region::initialise(r_.base(), r_.geo());
    owned_.assign(k_clients + 1, {});
    in_service_.clear();
    const std::uint32_t valid_ops = src_.below(24);
    for (std::uint32_t k = 0; k < valid_ops; ++k)
      valid_op();
    const std::uint32_t hits = 1 + src_.below(8);
    for (std::uint32_t k = 0; k < hits; ++k)
      corrupt();
    const std::uint32_t reads = src_.below(40);
    for (std::uint32_t k = 0; k < reads; ++k)
      reader();
    check_header();
    recover();
  }

private:
  // -- choices -------------------------------------------------------------

  std::uint16_t any_slot() {
    return static_cast<std::uint16_t>(1 + src_.below(k_clients));
  }

  /// An index a caller might pass: mostly its own, sometimes anything.
  std::uint32_t some_index(std::uint16_t slot) {
    auto& mine = owned_[slot];
    switch (src_.below(4)) {
    case 0:
      if (!mine.empty())
        return mine[src_.below(static_cast<std::uint32_t>(mine.size()))];
      [[fallthrough]];
    case 1:
      return src_.below(k_entries);
    case 2:
      return interesting();
    default:
      return src_.word();
    }
  }

  std::uint32_t interesting() {
    static constexpr std::uint32_t v[] = {
        0,      1,         2,         k_entries - 1, k_entries,  k_entries + 1,
        0xFFFF, 0x10000,   k_nil,     k_nil - 1,     0x7FFFFFFF, 0x80000000,
        63,     64,        1024,      1024 - 64,     2048,       3072,
        4096,   4096 - 64, 4096 + 64, 0xFFFFFFC0,    5,          6,
        7,
    };
    return src_.below(3) == 0
               ? src_.word()
               : v[src_.below(static_cast<std::uint32_t>(std::size(v)))];
  }

  list_ref any_list() {
    lists& L = q_.raw_lists();
    switch (src_.below(4)) {
    case 0:
      return L.free_list();
    case 1:
      return L.submitted();
    case 2:
      return L.in_service();
    default:
      return L.completed(any_slot());
    }
  }

  list_id any_tag() { return static_cast<list_id>(1 + src_.below(5)); }

  // -- phase 1: valid operations
  // ------------------------------------------------

  void valid_op() {
    const std::uint16_t s = any_slot();
    auto& mine = owned_[s];
    std::uint32_t buf[k_entries];
    const std::size_t n = 1 + src_.below(4);
    switch (src_.below(6)) {
    case 0: {
      const batch_result b = q_.acquire(s, buf, n);
      for (std::size_t k = 0; k < b.count; ++k) {
        const auto off = static_cast<std::uint32_t>(partition_offset(r_, s) +
                                                    64 * src_.below(16));
        write_request(r_, buf[k], 1 + src_.below(1000), 66, off, src_.below(65),
                      64);
        mine.push_back(buf[k]);
      }
      break;
    }
    case 1: {
      const std::size_t m = std::min(n, mine.size());
      q_.submit(s, mine.data(), m);
      mine.erase(mine.begin(), mine.begin() + static_cast<long>(m));
      break;
    }
    case 2: {
      const batch_result b = q_.take_submitted(buf, n);
      in_service_.insert(in_service_.end(), buf, buf + b.count);
      break;
    }
    case 3: {
      const std::size_t m = std::min(n, in_service_.size());
      for (std::size_t k = 0; k < m; ++k)
        write_completion(r_, in_service_[k], r_.entry_at(in_service_[k]).seq,
                         wire_status::ok, src_.below(65));
      q_.complete(in_service_.data(), m);
      in_service_.erase(in_service_.begin(),
                        in_service_.begin() + static_cast<long>(m));
      break;
    }
    case 4: {
      const batch_result b = q_.take_completed(s, buf, n);
      mine.insert(mine.end(), buf, buf + b.count);
      break;
    }
    default: {
      const std::size_t m = std::min(n, mine.size());
      q_.release(s, mine.data(), m);
      mine.erase(mine.begin(), mine.begin() + static_cast<long>(m));
      break;
    }
    }
  }

  // -- phase 2: what a broken or hostile peer writes
  // ---------------------------

  template <class T>
  void put(T& field) {
    const std::uint32_t v = interesting();
    T x;
    if constexpr (sizeof(T) == 8)
      x = src_.below(2) ? T{v} : (T{v} << 32 | src_.word());
    else
      x = static_cast<T>(v);
    std::memcpy(&field, &x, sizeof(T));
  }

  void corrupt() {
    ++st_.corruptions;
    region_header& h = r_.header();
    const std::uint32_t victim = src_.below(k_entries);
    entry& e = r_.entry_at(victim);
    switch (src_.below(23)) {
    case 0:
      return put(h.free_head);
    case 1:
      return put(h.free_tail);
    case 2:
      return put(h.submitted_head);
    case 3:
      return put(h.submitted_tail);
    case 4:
      return put(h.in_service_head);
    case 5:
      return put(h.in_service_tail);
    case 6: {
      slot& sl = r_.slot_at(src_.below(k_clients + 1));
      return src_.below(2) ? put(sl.completed_head) : put(sl.completed_tail);
    }
    case 7:
      return put(e.next);
    case 8:
      return put(e.prev);
    case 9:
      return put(e.tag);
    case 10:
      return set_slot(e, static_cast<std::uint16_t>(interesting()));
    case 11:
      return put(e.seq);
    case 12:
      return put(e.service_id);
    case 13:
      return put(e.payload_offset);
    case 14:
      return put(e.payload_length);
    case 15:
      return put(e.payload_capacity);
    case 16:
      return put(e.done_seq);
    case 17:
      return put(e.result_length);
    case 18:
      return put(e.status);
    case 19: { // a small tag, the most likely to pass a first look
      set_list(e, static_cast<std::uint16_t>(src_.below(8)));
      set_slot(e, static_cast<std::uint16_t>(src_.below(k_clients + 2)));
      return;
    }
    case 21: {
      plausible_request(e);
      return read_request_op(victim);
    }
    case 20: { // any byte between header line 1 and the payload
      const std::uint32_t span =
          static_cast<std::uint32_t>(r_.geo().payload_offset - 64);
      r_.base()[64 + src_.below(span)] = static_cast<std::uint8_t>(src_.word());
      return;
    }
    default: { // header line 0: only region::check reads it
      std::uint32_t w = interesting();
      std::memcpy(r_.base() + 4 * src_.below(16), &w, sizeof(w));
      return;
    }
    }
  }

  /// A request that is valid but for one or two boundary values: slot just
  /// out of range, buffer one line past a partition, length over capacity.
  void plausible_request(entry& e) {
    const auto slot = static_cast<std::uint16_t>(src_.below(k_clients + 2));
    const auto part = static_cast<std::uint32_t>(r_.geo().partition_size);
    const std::uint32_t base = part * src_.below(k_clients + 2);
    const std::uint32_t cap = 64 * src_.below(part / 64 + 2);
    const std::uint32_t off = base + 64 * src_.below(part / 64 + 1);
    const std::uint32_t len =
        src_.below(4) == 0 ? cap + 1 : src_.below(cap + 1);
    set_slot(e, slot);
    e.seq = src_.below(8);
    e.payload_offset = off - (src_.below(8) == 0 ? 32 : 0);
    e.payload_capacity = cap;
    e.payload_length = len;
  }

  /// Every byte the queue may write (header to the end of the entries).
  std::vector<std::uint8_t> snapshot() const {
    return {r_.base(), r_.base() + r_.geo().payload_offset};
  }

  /// Independent of lists::census: walks every list itself, checking next
  /// and prev links, tags and tails, and that every entry is on exactly one
  /// list or owned by a client. True if the queue is structurally sound.
  bool sound() {
    std::vector<int> seen(k_entries, 0);
    lists& L = q_.raw_lists();
    bool ok = true;
    auto walk = [&](list_ref l) {
      std::uint32_t prev = k_nil;
      std::uint32_t n = 0;
      for (std::uint32_t i = *l.head; i != k_nil; i = r_.entry_at(i).next) {
        if (i >= k_entries || ++n > k_entries) {
          ok = false;
          return;
        }
        const entry& e = r_.entry_at(i);
        ok = ok && e.prev == prev &&
             list_of(e) == static_cast<std::uint16_t>(l.id) &&
             (l.id != list_id::completed || slot_of(e) == l.slot);
        ++seen[i];
        prev = i;
      }
      ok = ok && *l.tail == prev;
    };
    walk(L.free_list());
    walk(L.submitted());
    walk(L.in_service());
    for (std::uint16_t sl = 1; sl <= k_clients; ++sl)
      walk(L.completed(sl));
    for (std::uint32_t i = 0; i < k_entries; ++i) {
      const entry& e = r_.entry_at(i);
      const bool owned =
          list_of(e) == static_cast<std::uint16_t>(list_id::client);
      ok = ok && seen[i] == (owned ? 0 : 1);
    }
    return ok;
  }

  // -- phase 3: every reader
  // ------------------------------------------------------

  static bool one_of(status s, std::initializer_list<status> ok) {
    return std::find(ok.begin(), ok.end(), s) != ok.end();
  }

  void note(status s) {
    ++st_.ops;
    st_.corrupt_statuses += s == status::corrupt;
  }

  void indices_in_range(const std::uint32_t* idx, std::size_t n,
                        const char* what) {
    for (std::size_t k = 0; k < n; ++k)
      check_(idx[k] < k_entries, what);
  }

  void reader() {
    const std::uint16_t s = any_slot();
    std::uint32_t buf[k_entries];
    std::uint32_t args[4];
    const std::size_t n = 1 + src_.below(4);
    for (auto& a : args)
      a = some_index(s);
    lists& L = q_.raw_lists();
    switch (src_.below(16)) {
    case 0: {
      const batch_result b = q_.acquire(s, buf, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::full, status::corrupt}),
             "acquire: status");
      check_(b.count <= n, "acquire: count");
      indices_in_range(buf, b.count, "acquire: index");
      break;
    }
    case 1: {
      const batch_result b = q_.submit(s, args, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::corrupt}), "submit: status");
      break;
    }
    case 2: {
      const batch_result b = q_.take_submitted(buf, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::empty, status::corrupt}),
             "take_submitted: status");
      indices_in_range(buf, b.count, "take_submitted: index");
      break;
    }
    case 3: {
      const batch_result b = q_.complete(args, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::corrupt}), "complete: status");
      break;
    }
    case 4: {
      const batch_result b = q_.take_completed(s, buf, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::empty, status::corrupt}),
             "take_completed: status");
      indices_in_range(buf, b.count, "take_completed: index");
      break;
    }
    case 5: {
      const batch_result b = q_.release(s, args, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::corrupt}), "release: status");
      break;
    }
    case 6: {
      const auto before = snapshot();
      const status st = q_.transfer(any_list(), any_list());
      note(st);
      check_(one_of(st, {status::ok, status::corrupt}), "transfer: status");
      check_(st == status::ok || snapshot() == before,
             "transfer: corrupt changes nothing");
      break;
    }
    case 7: {
      const auto before = snapshot();
      const status st = q_.push(any_list(), args[0], any_tag(), s);
      note(st);
      check_(one_of(st, {status::ok, status::corrupt}), "push: status");
      check_(st == status::ok || snapshot() == before,
             "push: corrupt changes nothing");
      break;
    }
    case 8: {
      const auto before = snapshot();
      std::uint32_t i = k_nil;
      const status st = q_.pop(any_list(), i, any_tag(), s);
      note(st);
      check_(one_of(st, {status::ok, status::empty, status::corrupt}),
             "pop: status");
      check_(st != status::ok || i < k_entries, "pop: index");
      check_(st == status::ok || snapshot() == before,
             "pop: corrupt or empty changes nothing");
      break;
    }
    case 9: {
      const batch_result b = q_.abort_in_service(buf, n);
      note(b.st);
      check_(one_of(b.st, {status::ok, status::empty, status::corrupt}),
             "abort_in_service: status");
      indices_in_range(buf, b.count, "abort_in_service: index");
      break;
    }
    case 10: {
      const list_census c = q_.census();
      ++st_.ops;
      check_(!c.consistent || c.total_on_lists + c.client == k_entries,
             "census: consistent means every entry counted once");
      check_(c.consistent == sound(),
             "census: agrees with an independent walk");
      break;
    }
    case 11: {
      ++st_.ops;
      check_(q_.reap_client(s) <= k_entries, "reap_client: count");
      break;
    }
    case 12:
      return read_request_op(args[0]);
    case 13:
      return read_completion_op(args[0]);
    case 14: {
      ++st_.ops;
      check_(L.repair() <= k_entries, "repair: count");
      break;
    }
    default:
      return check_op();
    }
  }

  void read_request_op(std::uint32_t idx) {
    request_view v;
    const char* why = nullptr;
    const status st = read_request(r_, idx, v, &why);
    note(st);
    check_(one_of(st, {status::ok, status::corrupt}), "read_request: status");
    if (st != status::ok) {
      check_(why != nullptr && *why != '\0', "read_request: says why");
      return;
    }
    ++st_.requests_ok;
    const std::uint8_t* lo = r_.payload();
    const std::uint8_t* hi = lo + r_.geo().payload_size;
    check_(v.data >= lo && v.data <= hi, "read_request: data in payload");
    check_(v.capacity <= static_cast<std::uint64_t>(hi - v.data),
           "read_request: data + capacity in payload");
    check_(v.length <= v.capacity, "read_request: length <= capacity");
    check_((v.data - lo) % 64 == 0, "read_request: aligned");
    check_(v.slot >= 1 && v.slot <= k_clients, "read_request: slot");
    const std::uint8_t* part = lo + partition_offset(r_, v.slot);
    check_(v.data >= part &&
               v.data + v.capacity <= part + r_.geo().partition_size,
           "read_request: inside the slot's partition");
    check_(v.seq != 0 && v.index == idx, "read_request: seq and index");
  }

  void read_completion_op(std::uint32_t idx) {
    completion_view v;
    const char* why = nullptr;
    const std::uint32_t cap = 64 * src_.below(3);
    const status st = read_completion(r_, idx, cap, v, &why);
    note(st);
    check_(one_of(st, {status::ok, status::corrupt}),
           "read_completion: status");
    if (st == status::ok) {
      const auto res = static_cast<std::uint32_t>(v.result);
      check_(res >= 1 && res <= k_wire_status_max, "read_completion: result");
      check_(v.result_length <= cap, "read_completion: length");
    } else {
      check_(why != nullptr && *why != '\0', "read_completion: says why");
    }
  }

  /// region::check on a heap copy of the header of random length, so that
  /// ASan sees any read past what it was told is mapped.
  void check_op() {
    ++st_.ops;
    const std::size_t len =
        src_.below(static_cast<std::uint32_t>(2 * sizeof(region_header) + 1));
    std::vector<std::uint8_t> copy(len);
    if (len != 0)
      std::memcpy(copy.data(), r_.base(), std::min(len, sizeof(region_header)));
    std::string why;
    const open_error e = region::check(copy.data(), copy.size(), &why);
    check_(len >= sizeof(region_header) || e == open_error::too_small,
           "check: short buffer is too_small");
    check_(e == open_error::none || !why.empty(), "check: says why");
  }

  /// region::check on the mapping itself, after all the damage.
  void check_header() {
    std::string why;
    const auto mapped = r_.geo().region_size + k_page;
    const open_error e = region::check(r_.base(), mapped, &why);
    const bool known = e == open_error::none || e == open_error::too_small ||
                       e == open_error::bad_magic ||
                       e == open_error::bad_version ||
                       e == open_error::bad_geometry;
    check_(known, "check: error kind");
    if (e != open_error::none) {
      check_(!why.empty(), "check: says why");
      return;
    }
    // Accepted: then its own numbers must describe a layout that fits.
    const region_header& h = r_.header();
    const geometry g = make_geometry(h.entry_count, h.max_clients,
                                     h.partition_size * h.max_clients);
    check_(g.region_size <= mapped, "check: accepted layout fits");
    check_(h.entry_count >= 2 && h.entry_count <= k_max_entries &&
               h.max_clients >= 1 && h.max_clients <= k_max_clients,
           "check: accepted counts in range");
  }

  // -- phase 4: repair, then everything comes back
  // ------------------------------

  void recover() {
    st_.repairs_changed += q_.repair();
    const list_census c = q_.census();
    check_(c.consistent, "repair: census consistent");
    check_(sound(), "repair: lists sound by an independent walk");
    std::uint32_t buf[k_entries];
    const batch_result a = q_.abort_in_service(buf, k_entries);
    check_(a.count == c.in_service, "recover: every in-service entry aborted");
    check_(a.st == status::empty ||
               (a.st == status::ok && a.count == k_entries),
           "recover: abort stops at empty");
    for (std::uint16_t s = 1; s <= k_clients; ++s)
      q_.reap_client(s);
    const list_census f = q_.census();
    check_(f.consistent && f.free == k_entries,
           "recover: every entry back on the free list");
  }

  region& r_;
  Source& src_;
  Check& check_;
  stats& st_;
  null_lock lock_;
  test::test_queue<null_lock> q_;
  std::vector<std::vector<std::uint32_t>> owned_;
  std::vector<std::uint32_t> in_service_;
};

} // namespace hyperamp::shm::fuzz

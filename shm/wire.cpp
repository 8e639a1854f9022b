#include "shm/wire.hpp"

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

/// Reads a peer-written field exactly once (no re-fetch by the compiler).
template <class T>
T once(const T& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

template <class T>
void put(T& field, T value) noexcept {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

} // namespace

std::uint64_t partition_offset(const region& r, std::uint16_t slot) noexcept {
  return (slot - 1ull) * r.geo().partition_size;
}

void write_request(region& r, std::uint32_t idx, std::uint64_t seq,
                   std::uint32_t service_id, std::uint32_t offset,
                   std::uint32_t length, std::uint32_t capacity) noexcept {
  entry& e = r.entry_at(idx);
  put(e.seq, seq);
  put(e.service_id, service_id);
  put(e.payload_offset, offset);
  put(e.payload_length, length);
  put(e.payload_capacity, capacity);
  put(e.done_seq, std::uint64_t{0});
  put(e.result_length, 0u);
  put(e.status, static_cast<std::uint32_t>(wire_status::pending));
}

status read_request(region& r, std::uint32_t idx, request_view& out,
                    const char** why) noexcept {
  auto bad = [&](const char* w) {
    *why = w;
    return status::corrupt;
  };
  if (idx >= r.entry_count())
    return bad("entry index out of range");
  const entry& e = r.entry_at(idx);
  const std::uint16_t slot = tag_of(e).slot;
  const std::uint64_t seq = once(e.seq);
  const std::uint32_t off = once(e.payload_offset);
  const std::uint32_t len = once(e.payload_length);
  const std::uint32_t cap = once(e.payload_capacity);
  if (slot < 1 || slot > r.max_clients())
    return bad("client slot out of range");
  if (seq == 0)
    return bad("sequence number is zero");
  if (off % k_payload_align != 0)
    return bad("payload offset not 64-byte aligned");
  if (len > cap)
    return bad("payload length exceeds capacity");
  // 64-bit arithmetic on 32-bit inputs: cannot overflow.
  const std::uint64_t lo = partition_offset(r, slot);
  const std::uint64_t hi = lo + r.geo().partition_size;
  if (off < lo || std::uint64_t{off} + cap > hi)
    return bad("payload outside the client's partition");
  out.index = idx;
  out.slot = slot;
  out.seq = seq;
  out.service_id = once(e.service_id);
  out.data = r.payload() + off;
  out.length = len;
  out.capacity = cap;
  return status::ok;
}

void write_completion(region& r, std::uint32_t idx, std::uint64_t seq,
                      wire_status st, std::uint32_t result_length) noexcept {
  entry& e = r.entry_at(idx);
  put(e.done_seq, seq);
  put(e.result_length, result_length);
  put(e.status, static_cast<std::uint32_t>(st));
}

status read_completion(region& r, std::uint32_t idx, std::uint32_t capacity,
                       completion_view& out, const char** why) noexcept {
  if (idx >= r.entry_count()) {
    *why = "entry index out of range";
    return status::corrupt;
  }
  const entry& e = r.entry_at(idx);
  const std::uint32_t st = once(e.status);
  const std::uint32_t len = once(e.result_length);
  out.index = idx;
  out.done_seq = once(e.done_seq);
  if (st == 0 || st > k_wire_status_max) {
    *why = "completion status invalid";
    return status::corrupt;
  }
  if (len > capacity) {
    *why = "result length exceeds the buffer";
    return status::corrupt;
  }
  out.result = static_cast<wire_status>(st);
  out.result_length = len;
  return status::ok;
}

} // namespace hyperamp::shm

// The wire structs of the partitioned layout (region.layout =
// "partitioned"): every client slot owns a single-producer single-consumer
// request ring (client -> service) and a response ring (service -> client);
// no queue_lock anywhere. docs/wire-layout.md draws it and gives the memory
// ordering of every shared field; this header asserts every offset.
//
// Region, in address order (sizes for the defaults: 256 entries, 32
// clients):
//
//   0x000000  region_header            256 B  as in the hyperamp layout;
//                                             layout_version 0x00010001
//   0x000100  slot[0..max_clients]     192 B  each, as in the hyperamp layout
//             (summary_offset = entries_offset, 64-aligned)
//             ring_summary              64 B  one pending bit per client slot
//             service_record[entries]   32 B  each: what the service holds
//             (rings_offset, 64-aligned)
//             ring block of slot 1..max_clients, ring_stride bytes each:
//               ring_control           256 B  four indices, one line each
//               request_cell[entries]   32 B  each, written by the client
//               response_cell[entries]  32 B  each, written by the service
//             (payload_offset, 4096-aligned)
//             payload area                    as in the hyperamp layout
//
// Indices are 64-bit positions that only grow; a position's cell is
// position % entries. Each index has one writer at a time (the slot's owner
// or the service), which keeps its own copy and only ever stores it: a
// damaged index in the region heals on the writer's next store.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shm/layout.hpp"
#include "shm/region.hpp"

namespace hyperamp::shm {

/// One pending bit per client slot: the client sets its bit after
/// publishing requests, the service clears a whole word when it scans.
struct ring_summary {
  /// Bit (k - 1) % 64 of word (k - 1) / 64 is client slot k.
  std::atomic<std::uint64_t> pending[4]; // 0
  std::uint8_t reserved[32];             // 32
};

/// What the service holds: written by the service when it takes a request
/// (before it publishes the ring's new head), cleared after it published
/// the response. A service that takes over answers every record still held
/// with `aborted`.
struct service_record {
  std::uint64_t seq;                // 0  echoed in the answer
  std::uint64_t pos;                // 8  the request's ring position
  std::uint32_t epoch;              // 16 the client slot's epoch
  std::uint32_t ticket;             // 20 the client's ticket, echoed
  std::uint16_t slot;               // 24 client slot
  std::uint16_t reserved;           // 26
  std::atomic<std::uint32_t> state; // 28 0 free, 1 held
};

/// The four indices of one client slot's rings, one cache line each.
struct ring_control {
  std::atomic<std::uint64_t> req_tail; // 0   client: requests published
  std::uint8_t pad0[56];
  std::atomic<std::uint64_t> req_head; // 64  service: requests taken
  std::uint8_t pad1[56];
  std::atomic<std::uint64_t> resp_tail; // 128 service: answers published
  std::uint8_t pad2[56];
  std::atomic<std::uint64_t> resp_head; // 192 client: answers taken
  std::uint8_t pad3[56];
};

/// A request, written by the client before it publishes req_tail.
struct request_cell {
  std::uint64_t seq;              // 0  never 0; the answer echoes it
  std::uint32_t epoch;            // 8  the client's epoch of its slot
  std::uint32_t ticket;           // 12 the client's name for it, echoed
  std::uint32_t service_id;       // 16
  std::uint32_t payload_offset;   // 20 from the payload area, 64-aligned
  std::uint32_t payload_length;   // 24
  std::uint32_t payload_capacity; // 28 the response may use all of it
};

/// An answer, written by the service before it publishes resp_tail.
struct response_cell {
  std::uint64_t done_seq;      // 0  echoes the request's seq
  std::uint32_t epoch;         // 8  echoes the request's epoch
  std::uint32_t ticket;        // 12 echoes the request's ticket
  std::uint32_t status;        // 16 wire_status, 1..5
  std::uint32_t result_length; // 20 response bytes at the request's payload
  std::uint64_t reserved;      // 24
};

static_assert(std::is_standard_layout_v<ring_summary> &&
                  std::is_standard_layout_v<service_record> &&
                  std::is_standard_layout_v<ring_control> &&
                  std::is_standard_layout_v<request_cell> &&
                  std::is_standard_layout_v<response_cell>,
              "wire structs must be standard layout for offsetof");
static_assert(sizeof(ring_summary) == k_summary_size,
              "the summary is one cache line");
static_assert(offsetof(ring_summary, pending) == 0);
static_assert(sizeof(service_record) == k_record_size &&
                  alignof(service_record) == 8,
              "two records per cache line, 8-aligned");
static_assert(offsetof(service_record, seq) == 0);
static_assert(offsetof(service_record, pos) == 8);
static_assert(offsetof(service_record, epoch) == 16);
static_assert(offsetof(service_record, ticket) == 20);
static_assert(offsetof(service_record, slot) == 24);
static_assert(offsetof(service_record, state) == 28);
static_assert(sizeof(ring_control) == k_ring_control_size,
              "four indices, one writer per cache line");
static_assert(offsetof(ring_control, req_tail) == 0);
static_assert(offsetof(ring_control, req_head) == 64);
static_assert(offsetof(ring_control, resp_tail) == 128);
static_assert(offsetof(ring_control, resp_head) == 192);
static_assert(sizeof(request_cell) == k_cell_size && alignof(request_cell) == 8,
              "two request cells per cache line");
static_assert(offsetof(request_cell, seq) == 0);
static_assert(offsetof(request_cell, epoch) == 8);
static_assert(offsetof(request_cell, ticket) == 12);
static_assert(offsetof(request_cell, service_id) == 16);
static_assert(offsetof(request_cell, payload_offset) == 20);
static_assert(offsetof(request_cell, payload_length) == 24);
static_assert(offsetof(request_cell, payload_capacity) == 28);
static_assert(sizeof(response_cell) == k_cell_size &&
                  alignof(response_cell) == 8,
              "two response cells per cache line");
static_assert(offsetof(response_cell, done_seq) == 0);
static_assert(offsetof(response_cell, epoch) == 8);
static_assert(offsetof(response_cell, ticket) == 12);
static_assert(offsetof(response_cell, status) == 16);
static_assert(offsetof(response_cell, result_length) == 20);
static_assert(k_ring_control_size % k_cache_line == 0 &&
                  (2 * k_cell_size) % k_cache_line == 0,
              "every ring block starts on a cache line");

// -- accessors (a region of the partitioned layout; offsets checked by
// region::open) -----------------------------------------------------------

inline ring_summary& summary_of(region& r) noexcept {
  return *reinterpret_cast<ring_summary*>(r.base() + r.geo().summary_offset);
}

inline service_record& record_at(region& r, std::uint32_t i) noexcept {
  return reinterpret_cast<service_record*>(r.base() +
                                           r.geo().records_offset)[i];
}

/// The ring block of client slot `slot` (1..max_clients).
inline std::uint8_t* ring_block(region& r, std::uint32_t slot) noexcept {
  return r.base() + r.geo().rings_offset + (slot - 1ull) * r.geo().ring_stride;
}

inline ring_control& ring_of(region& r, std::uint32_t slot) noexcept {
  return *reinterpret_cast<ring_control*>(ring_block(r, slot));
}

inline request_cell& request_at(region& r, std::uint32_t slot,
                                std::uint64_t pos) noexcept {
  return reinterpret_cast<request_cell*>(
      ring_block(r, slot) + k_ring_control_size)[pos % r.entry_count()];
}

inline response_cell& response_at(region& r, std::uint32_t slot,
                                  std::uint64_t pos) noexcept {
  return reinterpret_cast<response_cell*>(
      ring_block(r, slot) + k_ring_control_size +
      k_cell_size * r.entry_count())[pos % r.entry_count()];
}

/// The pending bit of client slot `slot`: its word and its mask.
inline std::atomic<std::uint64_t>& pending_word(region& r,
                                                std::uint32_t slot) noexcept {
  return summary_of(r).pending[(slot - 1) / 64];
}

constexpr std::uint64_t pending_mask(std::uint32_t slot) noexcept {
  return std::uint64_t{1} << ((slot - 1) % 64);
}

} // namespace hyperamp::shm

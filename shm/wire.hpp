// Typed access to one entry's request and completion fields. The reading
// side snapshots every field once, validates it, and only then uses it.
#pragma once

#include <cstdint>

#include "shm/layout.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

class region;

/// A validated request, as the service sees it.
struct request_view {
  std::uint32_t index = k_nil;
  std::uint16_t slot = 0;
  std::uint64_t seq = 0;
  std::uint32_t service_id = 0;
  std::uint8_t* data = nullptr; ///< inside the slot's payload partition
  std::uint32_t length = 0;
  std::uint32_t capacity = 0;
};

/// A validated completion, as the client sees it.
struct completion_view {
  std::uint32_t index = k_nil;
  std::uint64_t done_seq = 0;
  wire_status result = wire_status::pending;
  std::uint32_t result_length = 0;
};

/// Client: fills in the request fields of an entry it owns.
void write_request(region& r, std::uint32_t idx, std::uint64_t seq,
                   std::uint32_t service_id, std::uint32_t offset,
                   std::uint32_t length, std::uint32_t capacity) noexcept;

/// Service: snapshots and validates entry `idx`. ok, or corrupt with `*why`
/// naming the first bad field (the request then fails alone).
status read_request(region& r, std::uint32_t idx, request_view& out,
                    const char** why) noexcept;

/// Service: writes the completion fields (before queue::complete publishes).
void write_completion(region& r, std::uint32_t idx, std::uint64_t seq,
                      wire_status st, std::uint32_t result_length) noexcept;

/// Client: snapshots and validates the completion of entry `idx`, whose
/// payload capacity the client knows from its own records (never from the
/// region). ok or corrupt.
status read_completion(region& r, std::uint32_t idx, std::uint32_t capacity,
                       completion_view& out, const char** why) noexcept;

/// Byte offset (from the payload area) of client slot `slot`'s partition.
std::uint64_t partition_offset(const region& r, std::uint16_t slot) noexcept;

} // namespace hyperamp::shm

// Payload buffers: a thread-safe allocator over one client slot's partition
// of the payload area. The partition belongs to exactly one client process,
// so the allocator's bookkeeping is process-local (a bitmap of 64-byte
// granules) and a crashed client's space is reclaimed with its slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "shm/layout.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

/// One allocation: offset from the start of the payload area, and the
/// rounded-up size actually reserved (a multiple of 64).
struct payload_block {
  std::uint32_t offset = 0;
  std::uint32_t capacity = 0;
};

class payload_allocator {
public:
  /// Manages [base, base + size) of the payload area; base and size are
  /// multiples of 64 and base + size fits in 32 bits.
  payload_allocator(std::uint64_t base, std::uint64_t size);

  /// Reserves at least `bytes` (at least one granule), 64-byte aligned.
  /// ok, or full when no contiguous run is free. Safe from many threads.
  status allocate(std::uint32_t bytes, payload_block& out);

  /// Returns a block. corrupt unless it is exactly a block allocate() handed
  /// out and not yet released: nothing is changed then, so a double or
  /// partial free cannot hand out space twice.
  status release(payload_block b);

  std::uint64_t in_use() const;
  std::uint64_t size() const noexcept { return granules_ * k_payload_align; }

private:
  bool run_free(std::size_t first, std::size_t n) const noexcept;
  void mark(std::size_t first, std::size_t n, bool used) noexcept;
  bool test(std::size_t g) const noexcept {
    return (bits_[g / 64] >> (g % 64)) & 1u;
  }

  std::uint64_t base_;
  std::size_t granules_;
  mutable std::mutex mtx_;
  std::vector<std::uint64_t> bits_;
  /// Granules of the block starting at each granule (0: no block starts).
  std::vector<std::uint32_t> length_at_;
  std::size_t hint_ = 0;
  std::size_t used_ = 0;
};

} // namespace hyperamp::shm

#include "shm/payload.hpp"

namespace hyperamp::shm {

payload_allocator::payload_allocator(std::uint64_t base, std::uint64_t size)
    : base_(base),
      granules_(static_cast<std::size_t>(size / k_payload_align)),
      bits_((granules_ + 63) / 64, 0),
      length_at_(granules_, 0) {}

bool payload_allocator::run_free(std::size_t first,
                                 std::size_t n) const noexcept {
  for (std::size_t g = first; g < first + n; ++g)
    if (test(g))
      return false;
  return true;
}

void payload_allocator::mark(std::size_t first, std::size_t n,
                             bool used) noexcept {
  for (std::size_t g = first; g < first + n; ++g) {
    const std::uint64_t bit = std::uint64_t{1} << (g % 64);
    if (used)
      bits_[g / 64] |= bit;
    else
      bits_[g / 64] &= ~bit;
  }
}

status payload_allocator::allocate(std::uint32_t bytes, payload_block& out) {
  const std::size_t n =
      bytes == 0 ? 1 : (bytes + k_payload_align - 1) / k_payload_align;
  std::lock_guard<std::mutex> guard{mtx_};
  if (n > granules_ - used_)
    return status::full;
  // Next fit from the hint, wrapping once; whole used words are skipped.
  for (std::size_t step = 0, g = hint_; step < granules_;) {
    if (g + n > granules_) {
      step += granules_ - g;
      g = 0;
      continue;
    }
    if (g % 64 == 0 && bits_[g / 64] == ~std::uint64_t{0}) {
      g += 64;
      step += 64;
      continue;
    }
    if (!run_free(g, n)) {
      ++g;
      ++step;
      continue;
    }
    mark(g, n, true);
    length_at_[g] = static_cast<std::uint32_t>(n);
    used_ += n;
    hint_ = (g + n) % granules_;
    out.offset = static_cast<std::uint32_t>(base_ + g * k_payload_align);
    out.capacity = static_cast<std::uint32_t>(n * k_payload_align);
    return status::ok;
  }
  return status::full;
}

status payload_allocator::release(payload_block b) {
  if (b.offset < base_ || b.offset % k_payload_align != 0 ||
      b.capacity % k_payload_align != 0 || b.capacity == 0)
    return status::corrupt;
  const std::size_t first = (b.offset - base_) / k_payload_align;
  const std::size_t n = b.capacity / k_payload_align;
  std::lock_guard<std::mutex> guard{mtx_};
  if (first + n > granules_ || length_at_[first] != n)
    return status::corrupt;
  length_at_[first] = 0;
  mark(first, n, false);
  used_ -= n;
  return status::ok;
}

std::uint64_t payload_allocator::in_use() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return used_ * k_payload_align;
}

} // namespace hyperamp::shm

// The three windows of the hvisor-tool-v1 layout (shm/v1_layout.hpp),
// mapped MAP_SHARED each where the options put it:
//
//   physical backend (a board): open("/dev/mem", O_RDWR | O_SYNC) and one
//     mmap per window at its physical address (rounded down to a page);
//   file backend (a host): a file stands for the physical memory from
//     `phys_addr` on, and each window is mapped at (addr - phys_addr).
//
// Both run the same code; only the mmap offset differs. No CAF, no
// exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/region.hpp"
#include "shm/v1_layout.hpp"

namespace hyperamp::shm::v1 {

/// One mmap: unmapped by the destructor.
class mapping {
public:
  mapping() = default;
  mapping(void* base, std::size_t length, std::size_t delta) noexcept
      : base_(base), length_(length), delta_(delta) {}
  ~mapping();
  mapping(mapping&& other) noexcept;
  mapping& operator=(mapping&& other) noexcept;
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;

  /// The first byte of the window (the mapping starts up to a page before).
  std::uint8_t* data() const noexcept {
    return static_cast<std::uint8_t*>(base_) + delta_;
  }

private:
  void* base_ = nullptr;
  std::size_t length_ = 0;
  std::size_t delta_ = 0;
};

/// What can be wrong with a set of windows, "" if nothing: empty, too
/// small, overlapping, beyond 32-bit offsets, overflowing.
std::string check_windows(const layout_options& o);

class window_map {
public:
  struct result;

  /// Maps the three windows of `o.v1` as o.backend says. Never writes.
  static result open(const region_options& o);

  queue_header& header() noexcept {
    return *reinterpret_cast<queue_header*>(queue_.data());
  }
  /// Entry `i`; only for i < capacity().
  msg_entry& entry(std::uint32_t i) noexcept {
    return reinterpret_cast<msg_entry*>(queue_.data() + k_entries_offset)[i];
  }
  /// Entries the queue window holds: buf_size may not exceed it.
  std::uint32_t capacity() const noexcept { return capacity_; }
  std::uint8_t* buffer() noexcept { return buffer_.data(); }
  std::uint64_t buffer_size() const noexcept { return windows_.buffer.size; }
  /// The readiness word (offset 0 of the ready page).
  std::uint32_t& ready_word() noexcept {
    return *reinterpret_cast<std::uint32_t*>(ready_.data());
  }
  const layout_options& windows() const noexcept { return windows_; }
  /// "/dev/mem" or the window file.
  const std::string& path() const noexcept { return path_; }

private:
  window_map() = default;

  mapping buffer_, queue_, ready_;
  layout_options windows_;
  std::uint32_t capacity_ = 0;
  std::string path_;
};

struct window_map::result {
  std::unique_ptr<window_map> value;
  std::string message; ///< why not, naming the window and the path
  explicit operator bool() const noexcept { return value != nullptr; }
};

/// "0xde400000".
std::string hex(std::uint64_t n);

} // namespace hyperamp::shm::v1

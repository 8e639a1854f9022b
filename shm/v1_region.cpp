#include "shm/v1_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

namespace hyperamp::shm::v1 {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint64_t k_page = 4096;
/// Message offsets and lengths are 32-bit.
constexpr std::uint64_t k_max_buffer = std::uint64_t{1} << 32;

struct named_window {
  const char* name;
  window w;
};

/// The windows as one list, the ready page as a 4-byte window.
void windows_of(const layout_options& o, named_window (&out)[3]) {
  out[0] = {"buffer window (linux-2-npucore-buf)", o.buffer};
  out[1] = {"queue window (linux-2-npucore-msg)", o.queue};
  out[2] = {"readiness word (zonex_ram_ipa of linux-2-npucore-msg)",
            {o.ready_addr, 4}};
}

std::string span(const window& w) {
  return hex(w.addr) + "..+" + hex(w.size);
}

std::string errno_text() {
  return std::strerror(errno);
}

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

std::string hex(std::uint64_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[n & 15]);
    n >>= 4;
  } while (n != 0);
  return "0x" + out;
}

mapping::~mapping() {
  if (base_ != nullptr)
    ::munmap(base_, length_);
}

mapping::mapping(mapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      length_(std::exchange(other.length_, 0)),
      delta_(std::exchange(other.delta_, 0)) {}

mapping& mapping::operator=(mapping&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr)
      ::munmap(base_, length_);
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    delta_ = std::exchange(other.delta_, 0);
  }
  return *this;
}

std::string check_windows(const layout_options& o) {
  named_window ws[3];
  windows_of(o, ws);
  for (const auto& [name, w] : ws) {
    if (w.size == 0)
      return std::string{name} + " is empty";
    if (w.addr > UINT64_MAX - w.size)
      return std::string{name} + " " + span(w) + " wraps around";
  }
  if (o.ready_addr % 4 != 0)
    return "the readiness word at " + hex(o.ready_addr) +
           " is not 4-byte aligned";
  if (o.queue.addr % 4 != 0)
    return "the queue window at " + hex(o.queue.addr) +
           " is not 4-byte aligned";
  if (entries_for(o.queue.size) == 0)
    return "the queue window is " + std::to_string(o.queue.size) +
           " bytes, too small for the 12-byte header and one 16-byte entry";
  if (o.buffer.size < k_page)
    return "the buffer window is " + std::to_string(o.buffer.size) +
           " bytes; it needs at least one page (4096)";
  if (o.buffer.size > k_max_buffer)
    return "the buffer window is " + hex(o.buffer.size) +
           " bytes; message offsets are 32-bit, so at most 4 GiB";
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j) {
      const window& a = ws[i].w;
      const window& b = ws[j].w;
      if (a.addr < b.addr + b.size && b.addr < a.addr + a.size)
        return std::string{"the "} + ws[i].name + " " + span(a) +
               " overlaps the " + ws[j].name + " " + span(b);
    }
  return {};
}

window_map::result window_map::open(const region_options& o) {
  result r;
  const layout_options& v = o.v1;
  const bool physical = o.backend == region_backend::physical;
  if (auto why = check_windows(v); !why.empty()) {
    r.message = "hvisor-tool-v1 layout: " + why;
    return r;
  }
  named_window ws[3];
  windows_of(v, ws);
  std::uint64_t lowest = UINT64_MAX;
  std::uint64_t end = 0;
  for (const auto& nw : ws) {
    lowest = std::min(lowest, nw.w.addr / k_page * k_page);
    end = std::max(end, nw.w.addr + nw.w.size);
  }
  // The file backend: the file's byte 0 is physical address `base`.
  const std::uint64_t base =
      physical ? 0 : (o.phys_addr != 0 ? o.phys_addr : lowest);
  if (!physical) {
    if (base % k_page != 0) {
      r.message = "window file " + o.path + ": its base address " + hex(base) +
                  " (region.phys_addr) is not 4096-aligned";
      return r;
    }
    for (const auto& nw : ws)
      if (nw.w.addr < base) {
        r.message = "window file " + o.path + " starts at " + hex(base) +
                    " (region.phys_addr), after the " + nw.name + " at " +
                    hex(nw.w.addr);
        return r;
      }
  }
  const std::uint64_t needed = physical ? 0 : std::max(end - base, o.size);

  fd_guard fd;
  if (physical) {
    fd.fd = ::open(o.path.c_str(), O_RDWR | O_SYNC | O_CLOEXEC);
    if (fd.fd < 0) {
      r.message = "cannot open " + o.path + ": " + errno_text() +
                  " (the physical backend maps hvisor-tool's windows through "
                  "it; root is needed on a board)";
      return r;
    }
  } else {
    const auto deadline = clock_type::now() + o.attach_timeout;
    const bool may_create = o.create != create_mode::attach;
    for (;;) {
      fd.fd = ::open(o.path.c_str(),
                     O_RDWR | O_CLOEXEC | (may_create ? O_CREAT : 0), 0660);
      if (fd.fd >= 0 || errno != ENOENT || clock_type::now() >= deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (fd.fd < 0) {
      r.message = "cannot open window file " + o.path + ": " + errno_text();
      return r;
    }
    struct stat st {};
    for (;;) {
      if (::fstat(fd.fd, &st) != 0) {
        r.message = "cannot stat window file " + o.path + ": " + errno_text();
        return r;
      }
      if (!S_ISREG(st.st_mode)) {
        r.message = "window file " + o.path + " is not a regular file";
        return r;
      }
      if (static_cast<std::uint64_t>(st.st_size) >= needed)
        break;
      // Grow only: the other zone may have mapped it already.
      if (may_create) {
        if (::ftruncate(fd.fd, static_cast<off_t>(needed)) != 0) {
          r.message = "cannot size window file " + o.path + " to " +
                      std::to_string(needed) + " bytes: " + errno_text();
          return r;
        }
        continue;
      }
      if (clock_type::now() >= deadline) {
        r.message = "window file " + o.path + " is " +
                    std::to_string(st.st_size) + " bytes; the windows need " +
                    std::to_string(needed) + " from base " + hex(base);
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::unique_ptr<window_map> m{new window_map()};
  mapping* targets[3] = {&m->buffer_, &m->queue_, &m->ready_};
  for (int i = 0; i < 3; ++i) {
    const window& w = ws[i].w;
    const std::uint64_t at = w.addr - base;
    const std::uint64_t first = at / k_page * k_page;
    const std::uint64_t delta = at - first;
    const std::uint64_t length =
        (delta + w.size + k_page - 1) / k_page * k_page;
    void* p = ::mmap(nullptr, static_cast<std::size_t>(length),
                     PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd,
                     static_cast<off_t>(first));
    if (p == MAP_FAILED) {
      r.message = std::string{"cannot map the "} + ws[i].name + " " + span(w) +
                  " through " + o.path + ": " + errno_text();
      return r;
    }
    *targets[i] = mapping{p, static_cast<std::size_t>(length),
                          static_cast<std::size_t>(delta)};
  }
  m->windows_ = v;
  m->capacity_ = entries_for(v.queue.size);
  m->path_ = o.path;
  r.value = std::move(m);
  return r;
}

} // namespace hyperamp::shm::v1

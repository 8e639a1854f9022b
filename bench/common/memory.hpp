// Memory the benchmark programs share with their second process: anonymous
// shared mappings and region files. No CAF.
#pragma once

#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <new>
#include <string>
#include <utility>

#include "shm/region.hpp"

namespace hyperamp::bench {

/// One T in an anonymous MAP_SHARED mapping, so shared with children forked
/// later; destroyed and unmapped with this object. !ok(): mmap failed.
template <class T>
class shared {
public:
  template <class... Args>
  explicit shared(Args&&... args) {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return;
    try {
      if constexpr (sizeof...(Args) == 0)
        p_ = new (p) T; // default-initialised: the pages are zero already
      else
        p_ = new (p) T(std::forward<Args>(args)...);
    } catch (...) {
      ::munmap(p, sizeof(T));
      throw;
    }
  }
  ~shared() {
    if (p_) {
      p_->~T();
      ::munmap(p_, sizeof(T));
    }
  }
  shared(const shared&) = delete;
  shared& operator=(const shared&) = delete;

  bool ok() const noexcept { return p_ != nullptr; }
  T& operator*() const noexcept { return *p_; }
  T* operator->() const noexcept { return p_; }

private:
  T* p_ = nullptr;
};

shm::region_options region_options(
    const std::string& path, std::uint32_t entries, std::uint32_t max_clients,
    std::uint64_t payload_size, shm::create_mode mode,
    std::chrono::milliseconds attach_timeout = std::chrono::seconds(5));

/// /dev/shm/hyperamp-bench-<pid>
std::string region_path();

/// region_path() + "-<n>", a new n on every call.
std::string fresh_region_path();

/// A region file's name; the file is removed, if it exists, with this.
class region_file {
public:
  explicit region_file(std::string path) : path_(std::move(path)) {}
  ~region_file();
  region_file(const region_file&) = delete;
  region_file& operator=(const region_file&) = delete;
  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

} // namespace hyperamp::bench

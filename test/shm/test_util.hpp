// Helpers shared by the shm test suites: unique region files under /dev/shm
// that are removed at the end of the test, iteration scaling for sanitizer
// builds, and fork/pipe helpers for the multi-process tests.
//
// Child processes never use doctest: they report through their exit code (or
// counters in a MAP_SHARED mapping) and leave with _exit, so no test-runner
// state is flushed twice.
#pragma once

#include "shm/region.hpp"
#include "test_queue.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <utility>

namespace hyperamp::shm::test {

// -- iteration counts --------------------------------------------------------

#if defined(__SANITIZE_THREAD__)
inline constexpr bool k_tsan = true;
#else
inline constexpr bool k_tsan = false;
#endif
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool k_asan = true;
#else
inline constexpr bool k_asan = false;
#endif

/// `release` iterations in a plain build, `tsan` under ThreadSanitizer (which
/// is 5-15x slower). HYPERAMP_TEST_SCALE (a positive integer) multiplies
/// either, for a longer soak run.
inline std::size_t scaled(std::size_t release, std::size_t tsan) {
  std::size_t n = k_tsan ? tsan : release;
  if (const char* s = std::getenv("HYPERAMP_TEST_SCALE")) {
    const long f = std::strtol(s, nullptr, 10);
    if (f > 0)
      n *= static_cast<std::size_t>(f);
  }
  return n;
}

/// HYPERAMP_TEST_TIME_SCALE (a positive integer, default 1) multiplies
/// deadlines, for slow runs such as the aarch64 build under qemu-user.
inline std::chrono::milliseconds time_scaled(std::chrono::milliseconds d) {
  long f = 1;
  if (const char* s = std::getenv("HYPERAMP_TEST_TIME_SCALE"))
    f = std::strtol(s, nullptr, 10);
  return f > 0 && f < 1000 ? d * f : d;
}

// -- region files -------------------------------------------------------------

/// "/dev/shm/hyperamp-test-<pid>-<n>-<tag>": unique per process and call.
inline std::string unique_path(const char* tag = "r") {
  static std::atomic<unsigned> counter{0};
  return "/dev/shm/hyperamp-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + "-" + tag;
}

/// Owns a path: unlinks it on destruction (whether or not it was created).
struct temp_path {
  std::string path;
  explicit temp_path(const char* tag = "r") : path(unique_path(tag)) {}
  ~temp_path() { ::unlink(path.c_str()); }
  temp_path(const temp_path&) = delete;
  temp_path& operator=(const temp_path&) = delete;
};

inline region_options small_options(const std::string& path,
                                    std::uint32_t entries = 16,
                                    std::uint32_t clients = 4,
                                    std::uint64_t payload = 4 * 4096) {
  region_options o;
  o.path = path;
  o.entries = entries;
  o.max_clients = clients;
  o.payload_size = payload;
  o.create = create_mode::create;
  o.attach_timeout = time_scaled(std::chrono::milliseconds(2000));
  return o;
}

/// A freshly created region in its own file; the file is removed at the end.
/// Declared in this order so the mapping goes before the file name.
struct test_region {
  temp_path file;
  std::unique_ptr<region> r;

  explicit test_region(std::uint32_t entries = 16, std::uint32_t clients = 4,
                       std::uint64_t payload = 4 * 4096)
      : test_region(small_options({}, entries, clients, payload)) {}

  explicit test_region(region_options o) {
    o.path = file.path;
    auto res = region::open(o);
    INFO(res.message);
    REQUIRE(res);
    REQUIRE(res.value->created());
    r = std::move(res.value);
  }

  region& operator*() const { return *r; }
  region* operator->() const { return r.get(); }
};

// -- processes ----------------------------------------------------------------

/// Forks; the child runs `f` and leaves with _exit(f()). Returns the pid.
template <class F>
pid_t spawn(F f) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 99;
    try {
      rc = f();
    } catch (...) {
      rc = 98;
    }
    ::_exit(rc);
  }
  return pid;
}

/// Waits for `pid`; returns its exit code, or 128 + signal number.
inline int wait_child(pid_t pid) {
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &st, 0);
  } while (r < 0 && errno == EINTR);
  REQUIRE(r == pid);
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return -1;
}

/// A pipe used as a one-shot event between processes.
struct event_pipe {
  int fd[2] = {-1, -1};
  event_pipe() { REQUIRE(::pipe(fd) == 0); }
  ~event_pipe() {
    close_read();
    close_write();
  }
  event_pipe(const event_pipe&) = delete;
  event_pipe& operator=(const event_pipe&) = delete;
  void close_read() {
    if (fd[0] >= 0)
      ::close(fd[0]);
    fd[0] = -1;
  }
  void close_write() {
    if (fd[1] >= 0)
      ::close(fd[1]);
    fd[1] = -1;
  }
  /// Async-signal-safe; usable in a forked child.
  bool signal(char c = '!') {
    ssize_t n;
    do {
      n = ::write(fd[1], &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1;
  }
  /// Blocks until a byte arrives; returns it, or 0 at end of file.
  char wait() {
    char c = 0;
    ssize_t n;
    do {
      n = ::read(fd[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? c : 0;
  }
};

/// `n` value-initialised objects of type T in a MAP_SHARED anonymous
/// mapping, visible to the parent and to every child forked after
/// construction. T must work in shared memory (lock-free atomics, plain data).
template <class T>
class shared_array {
public:
  explicit shared_array(std::size_t n = 1) : n_(n), bytes_(sizeof(T) * n) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    ptr_ = static_cast<T*>(p);
    for (std::size_t i = 0; i < n_; ++i)
      new (ptr_ + i) T();
  }
  ~shared_array() {
    for (std::size_t i = 0; i < n_; ++i)
      ptr_[i].~T();
    ::munmap(ptr_, bytes_);
  }
  shared_array(const shared_array&) = delete;
  shared_array& operator=(const shared_array&) = delete;
  std::size_t size() const { return n_; }
  T* get() const { return ptr_; }
  T* operator->() const { return ptr_; }
  T& operator*() const { return *ptr_; }
  T& operator[](std::size_t i) const { return ptr_[i]; }

private:
  std::size_t n_;
  std::size_t bytes_;
  T* ptr_ = nullptr;
};

} // namespace hyperamp::shm::test

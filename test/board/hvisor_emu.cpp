// libhvisor_emu.so: the board's three devices emulated on a host, for
// LD_PRELOAD, so that the exact board code path (open("/dev/mem"), mmap at
// physical addresses, ioctl(/dev/hvisor, 10, ...), poll(/dev/hshm0)) runs
// in CI. Environment:
//
//   HVISOR_EMU_MEM   a file standing for physical memory (required for
//                    /dev/mem; without it /dev/mem does not exist)
//   HVISOR_EMU_BASE  the physical address of the file's first byte (hex)
//   HVISOR_EMU_FIFO  a named pipe: the hypervisor's IRQ line (required for
//                    /dev/hvisor and /dev/hshm0; made if missing)
//   HVISOR_EMU_LOG   optional: one line appended per device call
//
// What each device does:
//   /dev/mem     open gives the file; mmap(offset = physical address) maps
//                the file at (address - base); outside the file: ENXIO
//   /dev/hvisor  ioctl(10, {u64 zone, u64 service_id, u64 swi}) writes one
//                byte into the FIFO if someone listens on /dev/hshm0, and
//                drops it otherwise (as on the board: a ring before the
//                service opened /dev/hshm0 is lost); other requests ENOTTY
//   /dev/hshm0   the FIFO's read end; poll() reports POLLIN when at least
//                one ring came since the last poll and consumes them all
//                (the driver resets its flag in poll)
//
// Not built with sanitizers: it is preloaded into sanitized and plain
// programs alike.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

enum kind : unsigned char { none = 0, mem = 1, hvisor = 2, hshm = 3 };

constexpr int k_max_fd = 65536;
std::atomic<unsigned char> g_kind[k_max_fd];

using open_fn = int (*)(const char*, int, ...);
using openat_fn = int (*)(int, const char*, int, ...);
using mmap_fn = void* (*)(void*, size_t, int, int, int, off_t);
using ioctl_fn = int (*)(int, unsigned long, ...);
using poll_fn = int (*)(pollfd*, nfds_t, int);
using close_fn = int (*)(int);

template <class F>
F next(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  F f = nullptr;
  static_assert(sizeof f == sizeof p);
  std::memcpy(&f, &p, sizeof f);
  return f;
}

open_fn real_open() {
  static open_fn f = next<open_fn>("open");
  return f;
}
openat_fn real_openat() {
  static openat_fn f = next<openat_fn>("openat");
  return f;
}
mmap_fn real_mmap() {
  static mmap_fn f = next<mmap_fn>("mmap");
  return f;
}
ioctl_fn real_ioctl() {
  static ioctl_fn f = next<ioctl_fn>("ioctl");
  return f;
}
poll_fn real_poll() {
  static poll_fn f = next<poll_fn>("poll");
  return f;
}
close_fn real_close() {
  static close_fn f = next<close_fn>("close");
  return f;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

void log_line(const char* fmt, ...) {
  const char* path = env("HVISOR_EMU_LOG");
  if (path == nullptr)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n <= 0)
    return;
  const int fd =
      real_open()(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  const auto len = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n)
                                                        : sizeof line - 1;
  (void)!::write(fd, line, len);
  real_close()(fd);
}

void set_kind(int fd, kind k) {
  if (fd >= 0 && fd < k_max_fd)
    g_kind[fd].store(k, std::memory_order_relaxed);
}

kind kind_of(int fd) {
  return fd >= 0 && fd < k_max_fd
             ? static_cast<kind>(g_kind[fd].load(std::memory_order_relaxed))
             : none;
}

std::uint64_t base() {
  const char* b = env("HVISOR_EMU_BASE");
  return b == nullptr ? 0 : std::strtoull(b, nullptr, 16);
}

/// The FIFO, made if missing; nullptr (errno ENOENT) without one.
const char* fifo_path() {
  const char* f = env("HVISOR_EMU_FIFO");
  if (f == nullptr) {
    errno = ENOENT;
    return nullptr;
  }
  if (::mkfifo(f, 0660) != 0 && errno != EEXIST)
    return nullptr;
  return f;
}

/// Opens one of the emulated devices, or returns -2 for any other path.
int open_device(const char* path, int flags) {
  const int cloexec = flags & O_CLOEXEC;
  if (std::strcmp(path, "/dev/mem") == 0) {
    const char* file = env("HVISOR_EMU_MEM");
    if (file == nullptr) {
      errno = ENOENT;
      return -1;
    }
    const int fd = real_open()(file, O_RDWR | cloexec);
    set_kind(fd, mem);
    log_line("open /dev/mem%s -> %d\n", (flags & O_SYNC) ? " O_SYNC" : "", fd);
    return fd;
  }
  if (std::strcmp(path, "/dev/hvisor") == 0) {
    if (fifo_path() == nullptr)
      return -1;
    const int fd = real_open()("/dev/null", O_RDWR | cloexec);
    set_kind(fd, hvisor);
    log_line("open /dev/hvisor -> %d\n", fd);
    return fd;
  }
  if (std::strcmp(path, "/dev/hshm0") == 0) {
    const char* f = fifo_path();
    if (f == nullptr)
      return -1;
    // Read and write: the FIFO stays open (no POLLHUP) without a ringer.
    const int fd = real_open()(f, O_RDWR | O_NONBLOCK | cloexec);
    set_kind(fd, hshm);
    log_line("open /dev/hshm0 -> %d\n", fd);
    return fd;
  }
  return -2;
}

int signal_ring(void* arg) {
  std::uint64_t a[3] = {0, 0, 0};
  std::memcpy(a, arg, sizeof a);
  const char* f = fifo_path();
  if (f == nullptr)
    return -1;
  // O_WRONLY | O_NONBLOCK fails with ENXIO when nobody has the FIFO open
  // for reading: nobody listens on /dev/hshm0, the interrupt is lost.
  const int fd = real_open()(f, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    log_line("ioctl 10 zone=%llu service=%llu swi=%llu dropped (nobody "
             "listens on /dev/hshm0)\n",
             static_cast<unsigned long long>(a[0]),
             static_cast<unsigned long long>(a[1]),
             static_cast<unsigned long long>(a[2]));
    return 0;
  }
  const char b = 1;
  (void)!::write(fd, &b, 1); // EAGAIN: a ring is pending already
  real_close()(fd);
  log_line("ioctl 10 zone=%llu service=%llu swi=%llu delivered\n",
           static_cast<unsigned long long>(a[0]),
           static_cast<unsigned long long>(a[1]),
           static_cast<unsigned long long>(a[2]));
  return 0;
}

} // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    va_end(ap);
  }
  const int fd = open_device(path, flags);
  return fd != -2 ? fd : real_open()(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    va_end(ap);
  }
  return open(path, flags, mode);
}

int openat(int dir, const char* path, int flags, ...) {
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    va_end(ap);
  }
  if (path[0] == '/') {
    const int fd = open_device(path, flags);
    if (fd != -2)
      return fd;
  }
  return real_openat()(dir, path, flags, mode);
}

void* mmap(void* addr, size_t length, int prot, int flags, int fd,
           off_t offset) {
  if (kind_of(fd) != mem)
    return real_mmap()(addr, length, prot, flags, fd, offset);
  const std::uint64_t pa = static_cast<std::uint64_t>(offset);
  const std::uint64_t b = base();
  struct stat st {};
  if (pa < b || ::fstat(fd, &st) != 0 ||
      pa - b + length > static_cast<std::uint64_t>(st.st_size)) {
    log_line("mmap /dev/mem pa=0x%llx len=0x%zx outside the window\n",
             static_cast<unsigned long long>(pa), length);
    errno = ENXIO;
    return MAP_FAILED;
  }
  log_line("mmap /dev/mem pa=0x%llx len=0x%zx%s\n",
           static_cast<unsigned long long>(pa), length,
           (flags & MAP_SHARED) ? " MAP_SHARED" : "");
  return real_mmap()(addr, length, prot, flags, fd, static_cast<off_t>(pa - b));
}

void* mmap64(void* addr, size_t length, int prot, int flags, int fd,
             off_t offset) {
  return mmap(addr, length, prot, flags, fd, offset);
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (kind_of(fd) != hvisor)
    return real_ioctl()(fd, request, arg);
  if (request != 10) {
    log_line("ioctl %lu on /dev/hvisor: not emulated\n", request);
    errno = ENOTTY;
    return -1;
  }
  return signal_ring(arg);
}

int poll(pollfd* fds, nfds_t n, int timeout) {
  const int rc = real_poll()(fds, n, timeout);
  if (rc <= 0)
    return rc;
  for (nfds_t i = 0; i < n; ++i)
    if (kind_of(fds[i].fd) == hshm && (fds[i].revents & POLLIN) != 0) {
      char buf[256];
      while (::read(fds[i].fd, buf, sizeof buf) > 0) {
      }
    }
  return rc;
}

int close(int fd) {
  set_kind(fd, none);
  return real_close()(fd);
}

} // extern "C"

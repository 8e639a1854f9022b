#include "shm/v1_bells.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

namespace hyperamp::shm::v1 {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::chrono::nanoseconds k_first_nap = std::chrono::microseconds{1};
constexpr std::chrono::nanoseconds k_max_nap = std::chrono::milliseconds{1};
constexpr int k_spins_per_clock_read = 64;

std::string errno_message(int e) {
  return std::error_code(e, std::generic_category()).message();
}

/// Opens (making it if needed) the FIFO at `path`, O_RDWR | O_NONBLOCK: a
/// reader and a writer at once, so neither side ever blocks or sees the
/// other end closed. -1 and *error if not.
int open_fifo(const std::string& path, std::string* error) {
  if (path.empty()) {
    if (error != nullptr)
      *error = "no FIFO path given for the fifo doorbell";
    return -1;
  }
  if (::mkfifo(path.c_str(), 0660) != 0 && errno != EEXIST) {
    if (error != nullptr)
      *error = "cannot make FIFO " + path + ": " + errno_message(errno);
    return -1;
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (error != nullptr)
      *error = "cannot open FIFO " + path + ": " + errno_message(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ::close(fd);
    if (error != nullptr)
      *error = path + " exists and is not a FIFO";
    return -1;
  }
  return fd;
}

int open_device(const device_ops& ops, const std::string& path, int flags,
                std::string* error) {
  const int fd = ops.open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 && error != nullptr)
    *error = "cannot open " + path + ": " + errno_message(errno);
  return fd;
}

void pause_hint() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

int poll_ms(clock::time_point deadline) noexcept {
  const auto now = clock::now();
  if (now >= deadline)
    return 0;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      std::min<clock::duration>(deadline - now, std::chrono::hours{1}));
  return static_cast<int>(left.count());
}

} // namespace

probe::~probe() = default;

// -- probe_doorbell -----------------------------------------------------------

probe_doorbell::probe_doorbell(probe& p, std::chrono::nanoseconds spin) noexcept
    : probe_(&p), spin_(spin) {}

void probe_doorbell::ring() noexcept {
  rings_.add();
  self_.store(true, std::memory_order_release);
}

bool probe_doorbell::check() noexcept {
  if (self_.exchange(false, std::memory_order_acq_rel))
    return true;
  return probe_->ready();
}

wait_result probe_doorbell::wait(clock::time_point deadline) noexcept {
  if (check()) {
    spins_satisfied_.add();
    return wait_result::rung;
  }
  // Spin (politely: the peer may need this core), then nap.
  const auto start = clock::now();
  const auto spin_until = std::min(deadline, start + spin_);
  while (clock::now() < spin_until) {
    for (int i = 0; i < k_spins_per_clock_read; ++i) {
      pause_hint();
      if (check()) {
        spins_satisfied_.add();
        return wait_result::rung;
      }
    }
    sched_yield();
  }
  auto nap = k_first_nap;
  for (;;) {
    if (check())
      return wait_result::rung;
    const auto now = clock::now();
    if (now >= deadline)
      return wait_result::timeout;
    const auto d = std::min<std::chrono::nanoseconds>(nap, deadline - now);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(d.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(d.count() % 1'000'000'000);
    sleeps_.add();
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
    nap = std::min(nap * 2, k_max_nap);
  }
}

doorbell_stats probe_doorbell::stats() const noexcept {
  doorbell_stats s;
  s.rings = rings_.get();
  s.sleep_syscalls = sleeps_.get();
  s.spins_satisfied = spins_satisfied_.get();
  return s;
}

// -- listen_bell --------------------------------------------------------------

std::unique_ptr<listen_bell> listen_bell::open(const bell_options& o,
                                               std::string* error,
                                               const device_ops& ops) {
  const int fd = o.device == bell_device::fifo
                     ? open_fifo(o.fifo_path, error)
                     : open_device(ops, o.hshm_device, O_RDONLY, error);
  if (fd < 0)
    return nullptr;
  std::unique_ptr<listen_bell> bell{new (std::nothrow) listen_bell(o, ops, fd)};
  if (!bell) {
    if (o.device == bell_device::fifo)
      ::close(fd);
    else
      ops.close(fd);
    if (error != nullptr)
      *error = "cannot create the listening bell: out of memory";
  }
  return bell;
}

listen_bell::listen_bell(const bell_options& o, const device_ops& ops,
                         int fd) noexcept
    : device_(o.device), ops_(ops), fd_(fd) {}

listen_bell::~listen_bell() {
  if (device_ == bell_device::fifo)
    ::close(fd_);
  else
    ops_.close(fd_);
}

void listen_bell::ring() noexcept {
  rings_.add();
  self_.store(true, std::memory_order_release);
  if (device_ == bell_device::fifo) {
    const char b = 1;
    // Our own FIFO: wakes our poll at once. EAGAIN (full) wakes it too.
    if (::write(fd_, &b, 1) < 0 && errno != EAGAIN)
      wake_errors_.add();
  }
}

void listen_bell::drain() noexcept {
  char buf[256];
  while (::read(fd_, buf, sizeof buf) > 0) {
  }
}

wait_result listen_bell::wait(clock::time_point deadline) noexcept {
  if (primed_) {
    // The first wait, right after the device was opened: whatever was
    // handed over and rung before we listened is looked at now.
    primed_ = false;
    return wait_result::rung;
  }
  for (;;) {
    if (self_.exchange(false, std::memory_order_acq_rel)) {
      if (device_ == bell_device::fifo)
        drain();
      return wait_result::rung;
    }
    const int ms = poll_ms(deadline);
    if (ms == 0 && clock::now() >= deadline)
      return wait_result::timeout;
    pollfd p{fd_, POLLIN, 0};
    sleeps_.add();
    // /dev/hshm0's driver reports POLLIN once per burst of interrupts and
    // resets its flag in poll(); a FIFO keeps its bytes until drained.
    const int rc =
        device_ == bell_device::fifo ? ::poll(&p, 1, ms) : ops_.poll(&p, 1, ms);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      return wait_result::error;
    }
    if (rc == 0)
      continue; // the deadline check above ends the loop
    if ((p.revents & (POLLERR | POLLNVAL)) != 0)
      return wait_result::error;
    if ((p.revents & POLLIN) != 0) {
      wakes_.add();
      if (device_ == bell_device::fifo)
        drain();
      return wait_result::rung;
    }
  }
}

doorbell_stats listen_bell::stats() const noexcept {
  doorbell_stats s;
  s.rings = rings_.get();
  s.wake_syscalls = wakes_.get();
  s.sleep_syscalls = sleeps_.get();
  s.wake_errors = wake_errors_.get();
  return s;
}

// -- ringer -------------------------------------------------------------------

std::unique_ptr<ringer> ringer::open(const bell_options& o, std::string* error,
                                     const device_ops& ops) {
  const int fd = o.device == bell_device::fifo
                     ? open_fifo(o.fifo_path, error)
                     : open_device(ops, o.hvisor_device, O_RDWR, error);
  if (fd < 0)
    return nullptr;
  std::unique_ptr<ringer> r{new (std::nothrow) ringer(o, ops, fd)};
  if (!r) {
    if (o.device == bell_device::fifo)
      ::close(fd);
    else
      ops.close(fd);
    if (error != nullptr)
      *error = "cannot create the ringer: out of memory";
  }
  return r;
}

ringer::ringer(const bell_options& o, const device_ops& ops, int fd) noexcept
    : device_(o.device),
      ops_(ops),
      fd_(fd),
      target_zone_(o.target_zone),
      swi_(o.swi) {}

ringer::~ringer() {
  if (device_ == bell_device::fifo)
    ::close(fd_);
  else
    ops_.close(fd_);
}

void ringer::ring(std::uint16_t service_id) noexcept {
  rings_.add();
  wakes_.add();
  if (device_ == bell_device::fifo) {
    const char b = 1;
    // EAGAIN: the pipe is full of rings nobody read yet; one more is moot.
    if (::write(fd_, &b, 1) < 0 && errno != EAGAIN)
      wake_errors_.add();
    return;
  }
  // HVISOR_SHM_SIGNAL (10): the hypervisor raises IRQ 74 in the target zone.
  hvisor_signal_args args{target_zone_, service_id, swi_};
  if (ops_.ioctl(fd_, k_hvisor_shm_signal, &args) < 0)
    wake_errors_.add();
}

doorbell_stats ringer::stats() const noexcept {
  doorbell_stats s;
  s.rings = rings_.get();
  s.wake_syscalls = wakes_.get();
  s.wake_errors = wake_errors_.get();
  return s;
}

} // namespace hyperamp::shm::v1

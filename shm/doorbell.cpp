// The doorbell protocol is Dekker's: each side writes its own word, then reads
// the other's, all four accesses seq_cst, so in their single total order at
// least one side sees the other's write:
//
//   ringer                         owner (after the spin phase)
//   R1 bell_seq.fetch_add(1)       W1 bell_sleeping.store(1)
//   R2 if (bell_sleeping.load())   W2 if (bell_seq.load() != seen) -> rung
//        wake()                         else sleep while bell_seq == seen
//
// If W2 misses R1, then W2 precedes R1 in the total order, so W1 (sequenced
// before W2) precedes R2 and the ringer sees the owner asleep and wakes it.
// The sleep itself re-checks bell_seq atomically (futex) or is followed by a
// re-check (poll, nanosleep), so a ring between W2 and the sleep only makes
// the sleep return early. Hence no wake-up is lost. docs/doorbell.md has more.
#include "shm/doorbell.hpp"

#include <sched.h>

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <initializer_list>
#include <new>
#include <system_error>

namespace hyperamp::shm {

namespace {

using clock = std::chrono::steady_clock;

/// Longest single sleep; the loops re-check and sleep again.
constexpr std::chrono::nanoseconds k_max_sleep = std::chrono::hours{1};
/// Polling backend: first and longest nap.
constexpr std::chrono::nanoseconds k_first_nap = std::chrono::microseconds{1};
constexpr std::chrono::nanoseconds k_max_nap = std::chrono::milliseconds{1};
/// Spin iterations between two reads of the clock.
constexpr int k_spins_per_clock_read = 64;

/// Spin hint: tells the core we are busy-waiting (saves power, frees the
/// sibling hyper-thread).
inline void bell_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Time left until `deadline`, capped at k_max_sleep; zero if it has passed.
std::chrono::nanoseconds remaining(clock::time_point deadline) noexcept {
  auto now = clock::now();
  if (now >= deadline)
    return std::chrono::nanoseconds{0};
  return std::min<std::chrono::nanoseconds>(deadline - now, k_max_sleep);
}

timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(d.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(d.count() % 1'000'000'000);
  return ts;
}

std::uint32_t* futex_word(std::atomic<std::uint32_t>& a) noexcept {
  static_assert(sizeof(a) == sizeof(std::uint32_t),
                "the futex word is the atomic's object representation");
  return reinterpret_cast<std::uint32_t*>(&a);
}

} // namespace

doorbell::~doorbell() = default;

// -- bell_core ---------------------------------------------------------------

namespace detail {

bell_core::bell_core(slot& s, std::chrono::nanoseconds spin) noexcept
    : slot_(&s),
      spin_(spin),
      // acquire: rings before this point are taken as seen; the owner drains
      // its queue once before its first wait() (see the header).
      seen_(s.bell_seq.load(std::memory_order_acquire)) {}

void bell_core::bump() noexcept {
  rings.add();
  // R1. seq_cst: (a) release, so everything the ringer wrote to the queue is
  // visible to an owner that acquires this value; (b) in the single total
  // order with the owner's W1/W2, the Dekker half that R2 completes.
  slot_->bell_seq.fetch_add(1, std::memory_order_seq_cst);
}

void bell_core::bump_self() noexcept {
  // relaxed: a statistic, read by stats() only.
  self_wakes.fetch_add(1, std::memory_order_relaxed);
  // R1 of wake_self(): the same seq_cst bump as a ring, so the owner's
  // Dekker half (W1/W2) pairs with it exactly as with the peer's.
  slot_->bell_seq.fetch_add(1, std::memory_order_seq_cst);
}

bool bell_core::peer_sleeping() const noexcept {
  // R2. seq_cst: ordered after R1 in the total order; if the owner's W2 did
  // not see R1, this load sees the owner's W1 (bell_sleeping = 1).
  return slot_->bell_sleeping.load(std::memory_order_seq_cst) != 0;
}

bool bell_core::take(std::uint32_t now_seq) noexcept {
  if (now_seq == seen_)
    return false;
  seen_ = now_seq;
  return true;
}

bool bell_core::observe() noexcept {
  // acquire: pairs with R1, so the queue writes made before a ring are
  // visible once we see its value.
  return take(slot_->bell_seq.load(std::memory_order_acquire));
}

bool bell_core::recheck() noexcept {
  // W2. seq_cst: the owner half of the Dekker pair; it must not be ordered
  // before W1 (an acquire load may be, e.g. by a store buffer). Also an
  // acquire, like observe().
  return take(slot_->bell_seq.load(std::memory_order_seq_cst));
}

bool bell_core::spin(clock::time_point deadline) noexcept {
  if (observe()) {
    spins_satisfied.add();
    return true;
  }
  if (spin_.count() <= 0)
    return false;
  auto now = clock::now();
  if (now >= deadline)
    return false;
  auto until = deadline - now > spin_ ? now + spin_ : deadline;
  do {
    for (int i = 0; i < k_spins_per_clock_read; ++i) {
      bell_pause();
      if (observe()) {
        spins_satisfied.add();
        return true;
      }
    }
    // Polite spinning: on a machine with fewer cores than busy threads (two
    // zones, each with a waiter and CAF workers) a pure spin would keep the
    // very thread we wait for off the core until the next time slice.
    // sched_yield returns at once when nothing else wants this core.
    sched_yield();
  } while (clock::now() < until);
  return false;
}

void bell_core::arm() noexcept {
  // W1. seq_cst: must precede W2 in the total order (a release store would
  // let W2 move before it and a ring between them would be lost).
  slot_->bell_sleeping.store(1, std::memory_order_seq_cst);
}

void bell_core::disarm() noexcept {
  // seq_cst for symmetry; a ringer that still sees 1 only makes a spurious
  // wake syscall, and the owner ignores a wake with bell_seq unchanged.
  slot_->bell_sleeping.store(0, std::memory_order_seq_cst);
}

doorbell_stats bell_core::stats() const noexcept {
  doorbell_stats s;
  s.rings = rings.get();
  s.wake_syscalls = wakes.get();
  s.sleep_syscalls = sleeps.get();
  s.spins_satisfied = spins_satisfied.get();
  s.wake_errors = wake_errors.get();
  s.self_wakes = self_wakes.load(std::memory_order_relaxed);
  return s;
}

} // namespace detail

// -- futex_doorbell ----------------------------------------------------------

futex_doorbell::futex_doorbell(slot& s, std::chrono::nanoseconds spin) noexcept
    : core_(s, spin) {}

void futex_doorbell::ring() noexcept {
  core_.bump();
  if (!core_.peer_sleeping())
    return; // the owner is spinning or busy: it will see bell_seq itself
  core_.wakes.add();
  // No FUTEX_PRIVATE_FLAG: the owner may be another process (MAP_SHARED).
  if (syscall(SYS_futex, futex_word(core_.seq()), FUTEX_WAKE, INT_MAX, nullptr,
              nullptr, 0) < 0)
    core_.wake_errors.add();
}

bool futex_doorbell::wake_self() noexcept {
  core_.bump_self(); // R1
  if (!core_.peer_sleeping())
    return true; // R2: the owner spins or works; it sees bell_seq itself
  // Not counted in `wakes` (the ringer's single-writer counter). Shared
  // futex: the owner waits with the shared kind (the peer wakes it too).
  syscall(SYS_futex, futex_word(core_.seq()), FUTEX_WAKE, INT_MAX, nullptr,
          nullptr, 0);
  return true;
}

wait_result futex_doorbell::wait(clock::time_point deadline) noexcept {
  if (core_.spin(deadline))
    return wait_result::rung;
  if (clock::now() >= deadline)
    return wait_result::timeout;
  core_.arm();
  auto result = sleep_until(deadline);
  core_.disarm();
  return result;
}

wait_result futex_doorbell::sleep_until(clock::time_point deadline) noexcept {
  for (;;) {
    if (core_.recheck()) // W2
      return wait_result::rung;
    auto left = remaining(deadline);
    if (left.count() == 0)
      return wait_result::timeout;
    auto ts = to_timespec(left);
    core_.sleeps.add();
    // The kernel sleeps only if bell_seq still equals the value we saw, and
    // checks that atomically with queueing us: a ring after W2 either makes
    // this return EAGAIN or finds us queued (R2 saw bell_sleeping = 1).
    auto rc = syscall(SYS_futex, futex_word(core_.seq()), FUTEX_WAIT,
                      core_.seen(), &ts, nullptr, 0);
    if (rc < 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
      return wait_result::error;
    // Woken, interrupted, timed out or spurious: re-check seq and deadline.
  }
}

// -- polling_doorbell --------------------------------------------------------

polling_doorbell::polling_doorbell(slot& s,
                                   std::chrono::nanoseconds spin) noexcept
    : core_(s, spin) {}

void polling_doorbell::ring() noexcept {
  // Only R1: nobody can interrupt the owner, so there is nothing to wake.
  core_.bump();
}

bool polling_doorbell::wake_self() noexcept {
  core_.bump_self(); // R1
  // R2 (seq_cst): pairs with the owner's napping_ = 1 and re-check in nap().
  if (napping_.load(std::memory_order_seq_cst) != 0)
    syscall(SYS_futex, futex_word(core_.seq()), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
            INT_MAX, nullptr, nullptr, 0);
  return true;
}

wait_result polling_doorbell::wait(clock::time_point deadline) noexcept {
  if (core_.spin(deadline))
    return wait_result::rung;
  auto nap_time = k_first_nap;
  for (;;) {
    if (core_.observe()) // acquire, pairs with R1
      return wait_result::rung;
    auto left = remaining(deadline);
    if (left.count() == 0)
      return wait_result::timeout;
    core_.sleeps.add();
    nap(std::min(nap_time, left));
    nap_time = std::min(nap_time * 2, k_max_nap);
  }
}

void polling_doorbell::nap(std::chrono::nanoseconds d) noexcept {
  auto ts = to_timespec(d);
  if (plain_naps_) {
    // EINTR only shortens the nap; the caller re-checks.
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
    return;
  }
  // W1 (seq_cst), then W2: the re-check; a wake_self() whose R1 came after
  // W2 makes the futex wait return EAGAIN (bell_seq moved) or finds us
  // queued (its R2 saw napping_ = 1). The peer's rings are seen after the
  // nap, as before.
  napping_.store(1, std::memory_order_seq_cst);
  if (core_.seq().load(std::memory_order_seq_cst) == core_.seen()) {
    // Private: only threads of this process wake it (wake_self).
    auto rc =
        syscall(SYS_futex, futex_word(core_.seq()),
                FUTEX_WAIT | FUTEX_PRIVATE_FLAG, core_.seen(), &ts, nullptr, 0);
    if (rc < 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
      plain_naps_ = true; // e.g. a mapping the kernel cannot futex on
  }
  napping_.store(0, std::memory_order_seq_cst);
}

// -- device_ops --------------------------------------------------------------

namespace detail {

int posix_open(const char* path, int flags) {
  return ::open(path, flags);
}

int posix_close(int fd) {
  return ::close(fd);
}

int posix_ioctl(int fd, unsigned long request, void* arg) {
  return ::ioctl(fd, request, arg);
}

int posix_poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  return ::poll(fds, nfds, timeout_ms);
}

} // namespace detail

const device_ops& real_device_ops() noexcept {
  static const device_ops ops;
  return ops;
}

// -- hvisor_doorbell ---------------------------------------------------------

namespace {

/// Opens `path`; on failure returns -1 and describes it in `*error`.
int open_device(const device_ops& ops, const std::string& path, int flags,
                std::string* error) {
  int fd = ops.open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 && error != nullptr) {
    auto code = std::error_code(errno, std::generic_category());
    *error = "cannot open " + path + ": " + code.message();
  }
  return fd;
}

int poll_timeout_ms(std::chrono::nanoseconds left) noexcept {
  // Round up: a poll that returns before the deadline only costs a loop.
  return static_cast<int>(
      std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

} // namespace

std::unique_ptr<hvisor_doorbell>
hvisor_doorbell::open(slot& s, const hvisor_options& opts, std::string* error,
                      const device_ops& ops) {
  int hvisor_fd = -1;
  int hshm_fd = -1;
  if (opts.can_ring) {
    hvisor_fd = open_device(ops, opts.hvisor_device, O_RDWR, error);
    if (hvisor_fd < 0)
      return nullptr;
  }
  if (opts.can_wait) {
    hshm_fd = open_device(ops, opts.hshm_device, O_RDONLY, error);
    if (hshm_fd < 0) {
      if (hvisor_fd >= 0)
        ops.close(hvisor_fd);
      return nullptr;
    }
  }
  std::unique_ptr<hvisor_doorbell> bell{
      new (std::nothrow) hvisor_doorbell(s, opts, ops, hvisor_fd, hshm_fd)};
  if (!bell) {
    if (error != nullptr)
      *error = "cannot create hvisor_doorbell: out of memory";
    for (int fd : {hvisor_fd, hshm_fd})
      if (fd >= 0)
        ops.close(fd);
  }
  return bell;
}

hvisor_doorbell::hvisor_doorbell(slot& s, const hvisor_options& opts,
                                 const device_ops& ops, int hvisor_fd,
                                 int hshm_fd) noexcept
    : core_(s, opts.spin),
      ops_(ops),
      args_{opts.target_zone, opts.service_id, opts.swi},
      hvisor_fd_(hvisor_fd),
      hshm_fd_(hshm_fd) {}

hvisor_doorbell::~hvisor_doorbell() {
  for (int fd : {hvisor_fd_, hshm_fd_})
    if (fd >= 0)
      ops_.close(fd);
}

void hvisor_doorbell::ring() noexcept {
  core_.bump();
  if (!core_.peer_sleeping())
    return; // the owner is spinning or busy: it will see bell_seq itself
  if (hvisor_fd_ < 0) {
    core_.wake_errors.add(); // opened without can_ring: cannot interrupt
    return;
  }
  core_.wakes.add();
  // Hypercall 10: an IRQ (74) on every CPU of the target zone; its driver
  // collapses them into one POLLIN.
  auto args = args_;
  if (ops_.ioctl(hvisor_fd_, k_hvisor_shm_signal, &args) < 0)
    core_.wake_errors.add();
}

wait_result hvisor_doorbell::wait(clock::time_point deadline) noexcept {
  if (core_.spin(deadline))
    return wait_result::rung;
  if (hshm_fd_ < 0)
    return wait_result::error; // opened without can_wait
  if (clock::now() >= deadline)
    return wait_result::timeout;
  core_.arm();
  auto result = poll_until(deadline);
  core_.disarm();
  return result;
}

wait_result hvisor_doorbell::poll_until(clock::time_point deadline) noexcept {
  for (;;) {
    // W2. Also the re-check after every POLLIN: the driver's flag may be left
    // over from an earlier burst, so only a changed bell_seq means rung.
    if (core_.recheck())
      return wait_result::rung;
    auto left = remaining(deadline);
    if (left.count() == 0)
      return wait_result::timeout;
    pollfd pfd{hshm_fd_, POLLIN, 0};
    core_.sleeps.add();
    // An IRQ raised after W2 (because R2 saw bell_sleeping = 1) sets the
    // driver's flag, which this poll reports even if it came before the call.
    int rc = ops_.poll(&pfd, 1, poll_timeout_ms(left));
    if (rc < 0 && errno != EINTR)
      return wait_result::error;
    if (rc > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0)
      return wait_result::error;
  }
}

} // namespace hyperamp::shm

// The doorbell of a slot (line C of struct slot): the peer rings, the slot's
// owner waits. Coalesced (no wake-up lost, no syscall for a busy owner): the
// owner spins briefly,
// then declares itself asleep; a ringer makes a syscall only for a sleeping
// owner. bell_seq is a counter, so a ring is never lost: the owner remembers
// the last value it saw and any change means "drain your queue".
//
// Owner loop (the contract that makes "no lost wake-up" hold):
//
//   futex_doorbell bell{my_slot, spin};   // remembers bell_seq now
//   for (;;) {
//     drain_until_empty();                // also once before the first wait
//     if (bell.wait(deadline) == wait_result::error) ...;
//   }
//
// Three backends (docs/doorbell.md):
//   futex_doorbell    host: futex on bell_seq (works across processes)
//   polling_doorbell  a zone nobody can interrupt: spin, then adaptive naps
//   hvisor_doorbell   board: ioctl(/dev/hvisor, 10) rings, poll(/dev/hshm0)
//
// One doorbell object belongs to one thread (it keeps the last seq seen);
// stats() may be called from any thread. Ringer and owner use separate
// objects on the same slot. The slot must outlive the doorbell.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/layout.hpp"

namespace hyperamp::shm {

enum class wait_result { rung, timeout, error };

/// Counters of one doorbell object (not of the slot).
struct doorbell_stats {
  std::uint64_t rings = 0;           ///< ring() calls
  std::uint64_t wake_syscalls = 0;   ///< futex wakes / ioctls issued by ring()
  std::uint64_t sleep_syscalls = 0;  ///< futex waits / polls / naps by wait()
  std::uint64_t spins_satisfied = 0; ///< waits that saw a ring before arming
  std::uint64_t wake_errors = 0;     ///< wakes that failed or had no device
  std::uint64_t self_wakes = 0;      ///< wake_self() calls (any thread)
};

/// The interface the bridge uses; one concrete backend per platform.
class doorbell {
public:
  doorbell() = default;
  doorbell(const doorbell&) = delete;
  doorbell& operator=(const doorbell&) = delete;
  virtual ~doorbell();

  /// Ringer side: signal the owner of the bell. Never blocks; coalesced: makes
  /// a syscall only when the owner declared itself asleep.
  virtual void ring() noexcept = 0;

  /// Owner side: returns `rung` as soon as at least one ring happened since
  /// the last ring this object saw (rings are never lost), `timeout` at the
  /// deadline, `error` if the backend cannot sleep. Spins for the spin budget,
  /// then declares itself asleep, re-checks bell_seq and only then sleeps.
  /// Contract: after every `rung` the caller drains its queue until empty,
  /// then calls wait() again.
  virtual wait_result
  wait(std::chrono::steady_clock::time_point deadline) noexcept = 0;

  virtual doorbell_stats stats() const noexcept = 0;

  /// Any thread of the owner's process: makes the owner's wait() (or its
  /// next one) return `rung`, as a ring does, so that one thread can wait
  /// for the peer and for work of its own process together. Thread-safe and
  /// never blocks; touches none of the single-writer counters (it bumps
  /// bell_seq and wakes the owner only if it sleeps). Returns false, doing
  /// nothing, where the backend cannot (hvisor: poll() on /dev/hshm0 only
  /// returns for an interrupt).
  virtual bool wake_self() noexcept { return false; }

  /// Whether wake_self() works on this backend.
  virtual bool can_wake_self() const noexcept { return false; }
};

namespace detail {

/// The protocol steps the backends share: one per doorbell object.
class bell_core {
public:
  using clock = std::chrono::steady_clock;

  bell_core(slot& s, std::chrono::nanoseconds spin) noexcept;

  /// Ringer: publishes one ring (seq_cst, also a release of queue writes).
  void bump() noexcept;
  /// Any thread of the owner's process: the R1 of wake_self(); counts in
  /// its own (multi-writer) counter, not in `rings`.
  void bump_self() noexcept;
  /// Ringer: did the owner declare itself asleep? (seq_cst, after bump)
  bool peer_sleeping() const noexcept;
  /// Owner: true if bell_seq moved since the last value seen; remembers it.
  /// observe() loads with acquire (spin phase), recheck() with seq_cst
  /// (after arm(): the owner's half of the Dekker pair).
  bool observe() noexcept;
  bool recheck() noexcept;
  /// Owner: checks, then spins until the spin budget or the deadline ends.
  bool spin(clock::time_point deadline) noexcept;
  /// Owner: bell_sleeping = 1 / 0 (seq_cst).
  void arm() noexcept;
  void disarm() noexcept;

  std::atomic<std::uint32_t>& seq() noexcept { return slot_->bell_seq; }
  std::uint32_t seen() const noexcept { return seen_; }
  void set_spin(std::chrono::nanoseconds spin) noexcept { spin_ = spin; }
  doorbell_stats stats() const noexcept;

  /// A single-writer counter that another thread may read.
  struct counter {
    std::atomic<std::uint64_t> value{0};
    void add() noexcept {
      value.store(value.load(std::memory_order_relaxed) + 1,
                  std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept {
      return value.load(std::memory_order_relaxed);
    }
  };
  counter rings, wakes, sleeps, spins_satisfied, wake_errors;
  std::atomic<std::uint64_t> self_wakes{0};

private:
  bool take(std::uint32_t now_seq) noexcept;

  slot* slot_;
  std::chrono::nanoseconds spin_;
  std::uint32_t seen_;
};

} // namespace detail

// -- host backend ------------------------------------------------------------

/// futex(2) on bell_seq, without FUTEX_PRIVATE_FLAG, so ringer and owner may
/// be two processes mapping the same region (MAP_SHARED).
class futex_doorbell final : public doorbell {
public:
  futex_doorbell(slot& s, std::chrono::nanoseconds spin) noexcept;
  void ring() noexcept override;
  wait_result
  wait(std::chrono::steady_clock::time_point deadline) noexcept override;
  doorbell_stats stats() const noexcept override { return core_.stats(); }
  /// R1 and R2 of a ring, made by the owner's process itself.
  bool wake_self() noexcept override;
  bool can_wake_self() const noexcept override { return true; }
  void set_spin(std::chrono::nanoseconds spin) noexcept {
    core_.set_spin(spin);
  }

private:
  wait_result sleep_until(std::chrono::steady_clock::time_point d) noexcept;
  detail::bell_core core_;
};

// -- uninterruptible zone ----------------------------------------------------

/// For an owner that nobody can interrupt (on the board: the client zone).
/// ring() only bumps bell_seq, never syscalls; wait() spins, then naps
/// 1 us, 2 us, ... up to 1 ms between checks. bell_sleeping stays 0.
/// A nap is a process-private futex wait on bell_seq with the nap as its
/// timeout, so wake_self() from the owner's own process ends it at once
/// (the peer zone cannot: it only bumps bell_seq, seen after the nap).
class polling_doorbell final : public doorbell {
public:
  polling_doorbell(slot& s, std::chrono::nanoseconds spin) noexcept;
  void ring() noexcept override;
  wait_result
  wait(std::chrono::steady_clock::time_point deadline) noexcept override;
  doorbell_stats stats() const noexcept override { return core_.stats(); }
  /// Bumps bell_seq; a private futex wake if the owner naps.
  bool wake_self() noexcept override;
  bool can_wake_self() const noexcept override { return true; }
  void set_spin(std::chrono::nanoseconds spin) noexcept {
    core_.set_spin(spin);
  }

private:
  void nap(std::chrono::nanoseconds d) noexcept;

  detail::bell_core core_;
  /// 1 while the owner naps: the process-local bell_sleeping of
  /// wake_self's Dekker pair (the region's bell_sleeping stays 0).
  std::atomic<std::uint32_t> napping_{0};
  /// The futex nap failed once (a mapping the kernel cannot futex on):
  /// nap with clock_nanosleep from then on; wake_self is then seen only
  /// after the nap (at most 1 ms).
  bool plain_naps_ = false;
};

// -- board backend -----------------------------------------------------------

/// shm_args_t of hvisor-tool (include/hvisor.h): the ioctl argument.
struct hvisor_signal_args {
  std::uint64_t target_zone_id; // 0
  std::uint64_t service_id;     // 8
  std::uint64_t swi;            // 16 ignored by driver and hypervisor
};
static_assert(sizeof(hvisor_signal_args) == 24, "shm_args_t is 24 bytes");
static_assert(offsetof(hvisor_signal_args, target_zone_id) == 0);
static_assert(offsetof(hvisor_signal_args, service_id) == 8);
static_assert(offsetof(hvisor_signal_args, swi) == 16);

/// HVISOR_SHM_SIGNAL: the header redefines the _IOW value as plain 10, and
/// the last definition wins in both the tool and the kernel module.
inline constexpr unsigned long k_hvisor_shm_signal = 10;

namespace detail {
int posix_open(const char* path, int flags);
int posix_close(int fd);
int posix_ioctl(int fd, unsigned long request, void* arg);
int posix_poll(pollfd* fds, nfds_t nfds, int timeout_ms);
} // namespace detail

/// The device calls of hvisor_doorbell; tests replace them with fakes. Each
/// returns -1 and sets errno on failure, like the POSIX call.
struct device_ops {
  int (*open)(const char* path, int flags) = detail::posix_open;
  int (*close)(int fd) = detail::posix_close;
  int (*ioctl)(int fd, unsigned long request, void* arg) = detail::posix_ioctl;
  int (*poll)(pollfd* fds, nfds_t nfds, int timeout_ms) = detail::posix_poll;
};

const device_ops& real_device_ops() noexcept;

struct hvisor_options {
  std::string hvisor_device = "/dev/hvisor"; ///< opened if can_ring
  std::string hshm_device = "/dev/hshm0";    ///< opened if can_wait
  std::uint64_t target_zone = 1;             ///< zone whose owner we ring
  std::uint64_t service_id = 0;
  std::uint64_t swi = 74;
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
  /// The ringing side (root zone) needs /dev/hvisor; the waiting side needs
  /// /dev/hshm0. Clear the flag of the role this zone does not play.
  bool can_ring = true;
  bool can_wait = true;
};

/// Rings through the hvisor hypercall, sleeps in poll() on /dev/hshm0 (its
/// POLLIN collapses a burst of IRQs and resets itself; a POLLIN with bell_seq
/// unchanged is spurious and waited out).
class hvisor_doorbell final : public doorbell {
public:
  /// Opens the devices the flags ask for. Returns nullptr and, if `error` is
  /// not null, sets it to e.g. "cannot open /dev/hvisor: No such file or
  /// directory" when a device cannot be opened.
  static std::unique_ptr<hvisor_doorbell>
  open(slot& s, const hvisor_options& opts, std::string* error,
       const device_ops& ops = real_device_ops());

  ~hvisor_doorbell() override;

  /// Without can_ring, a ring for a sleeping owner counts a wake_error.
  void ring() noexcept override;
  /// Without can_wait, returns error once the spin phase saw no ring.
  wait_result
  wait(std::chrono::steady_clock::time_point deadline) noexcept override;
  doorbell_stats stats() const noexcept override { return core_.stats(); }
  void set_spin(std::chrono::nanoseconds spin) noexcept {
    core_.set_spin(spin);
  }

private:
  hvisor_doorbell(slot& s, const hvisor_options& opts, const device_ops& ops,
                  int hvisor_fd, int hshm_fd) noexcept;
  wait_result poll_until(std::chrono::steady_clock::time_point d) noexcept;

  detail::bell_core core_;
  device_ops ops_;
  hvisor_signal_args args_;
  int hvisor_fd_;
  int hshm_fd_;
};

} // namespace hyperamp::shm

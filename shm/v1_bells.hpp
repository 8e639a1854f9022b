// The doorbells of the hvisor-tool-v1 layout. hvisor-tool's zones have no
// shared doorbell word: the client rings the service zone's interrupt and
// the service sleeps until it comes; nothing interrupts the client, which
// polls the entries it handed over. So, unlike shm/doorbell.hpp, these
// bells keep no state in shared memory:
//
//   ringer        client: ioctl(/dev/hvisor, 10, {zone, service id, swi})
//                 on a board, one byte into a FIFO on a host; every ring
//                 is delivered (none is skipped for a busy peer)
//   listen_bell   service: poll(/dev/hshm0) on a board (its driver resets
//                 the interrupt flag in poll), the FIFO on a host (drained
//                 after each wake-up); its first wait() returns `rung`, so
//                 the service looks at the queue once right after it
//                 starts listening (a ring sent before that is lost)
//   probe_doorbell client: spins, then naps 1 us, 2 us, ... up to 1 ms,
//                 asking a probe each time (has a handed-over entry been
//                 marked done? may the next one be handed over?)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/doorbell.hpp"

namespace hyperamp::shm::v1 {

/// How the zones of a v1 region wake each other.
enum class bell_device {
  hvisor, ///< /dev/hvisor ioctl and /dev/hshm0 (a board, or its emulation)
  fifo,   ///< a named pipe (a host)
};

struct bell_options {
  bell_device device = bell_device::hvisor;
  std::string hvisor_device = "/dev/hvisor";
  std::string hshm_device = "/dev/hshm0";
  /// fifo: made (mkfifo 0660) if it does not exist.
  std::string fifo_path;
  std::uint64_t target_zone = 1;
  std::uint64_t swi = 74;
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
};

/// What a probe_doorbell asks. Called from the waiter thread, concurrently
/// with the port's own calls: it may only read shared memory and atomics.
class probe {
public:
  virtual ~probe();
  virtual bool ready() noexcept = 0;
};

class probe_doorbell final : public doorbell {
public:
  probe_doorbell(probe& p, std::chrono::nanoseconds spin) noexcept;
  /// Wakes this bell's own wait (the waiter thread's stop).
  void ring() noexcept override;
  wait_result
  wait(std::chrono::steady_clock::time_point deadline) noexcept override;
  doorbell_stats stats() const noexcept override;

private:
  bool check() noexcept;

  probe* probe_;
  std::chrono::nanoseconds spin_;
  std::atomic<bool> self_{false};
  detail::bell_core::counter rings_, sleeps_, spins_satisfied_;
};

/// The service's bell.
class listen_bell final : public doorbell {
public:
  /// Opens /dev/hshm0 (O_RDONLY, through `ops`) or the FIFO. nullptr and
  /// *error ("cannot open /dev/hshm0: No such file or directory") if not.
  static std::unique_ptr<listen_bell>
  open(const bell_options& o, std::string* error,
       const device_ops& ops = real_device_ops());
  ~listen_bell() override;

  /// Wakes this bell's own wait: at once for a FIFO, at the wait's
  /// deadline for /dev/hshm0 (nothing can interrupt its poll but an IRQ).
  void ring() noexcept override;
  wait_result
  wait(std::chrono::steady_clock::time_point deadline) noexcept override;
  doorbell_stats stats() const noexcept override;

private:
  listen_bell(const bell_options& o, const device_ops& ops, int fd) noexcept;
  void drain() noexcept;

  bell_device device_;
  device_ops ops_;
  int fd_;
  bool primed_ = true; ///< the first wait returns rung
  std::atomic<bool> self_{false};
  detail::bell_core::counter rings_, wakes_, sleeps_, wake_errors_;
};

/// The client's ringer. Not a doorbell: nobody waits on it in this process.
class ringer {
public:
  /// Opens /dev/hvisor (O_RDWR, through `ops`) or the FIFO.
  static std::unique_ptr<ringer>
  open(const bell_options& o, std::string* error,
       const device_ops& ops = real_device_ops());
  ~ringer();
  ringer(const ringer&) = delete;
  ringer& operator=(const ringer&) = delete;

  /// One ring for a request of `service_id` (the ioctl carries it).
  void ring(std::uint16_t service_id) noexcept;
  doorbell_stats stats() const noexcept;

private:
  ringer(const bell_options& o, const device_ops& ops, int fd) noexcept;

  bell_device device_;
  device_ops ops_;
  int fd_;
  std::uint64_t target_zone_;
  std::uint64_t swi_;
  detail::bell_core::counter rings_, wakes_, wake_errors_;
};

} // namespace hyperamp::shm::v1

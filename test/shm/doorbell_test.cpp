// Doorbell tests: single-thread semantics of every backend, the coalescing
// counters, two threads and two processes hammering one bell, and the hvisor
// backend against a fake board (eventfd as the IRQ line). Threads synchronise
// on atomics only; deadlines are either far (a failure guard) or already
// past / short where a timeout is the expected answer.
#include "shm/doorbell.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// A deadline that only a broken doorbell reaches.
steady::time_point far() {
  return steady::now() + 10s;
}

std::unique_ptr<slot> fresh_slot() {
  return std::unique_ptr<slot>(new slot{});
}

// -- fake board: /dev/hvisor ioctl raises the IRQ, /dev/hshm0 polls it ------

struct fake_board {
  int irq = -1; // eventfd: the waiting zone's IRQ line
  std::string fail_path;
  std::vector<std::string> opened;
  std::atomic<int> ioctls{0};
  std::mutex mtx;
  unsigned long last_request = 0;
  hvisor_signal_args last_args{};
};

fake_board* board = nullptr;

int fake_open(const char* path, int) {
  if (board->fail_path == path) {
    errno = ENOENT;
    return -1;
  }
  board->opened.emplace_back(path);
  return ::dup(board->irq);
}

int fake_ioctl(int, unsigned long request, void* arg) {
  {
    std::lock_guard<std::mutex> guard{board->mtx};
    board->last_request = request;
    std::memcpy(&board->last_args, arg, sizeof(hvisor_signal_args));
  }
  board->ioctls.fetch_add(1);
  std::uint64_t one = 1;
  return ::write(board->irq, &one, sizeof(one)) < 0 ? -1 : 0;
}

/// Like the hshm driver: POLLIN once per burst of IRQs, then reset.
int fake_poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  int rc = ::poll(fds, nfds, timeout_ms);
  if (rc > 0 && (fds[0].revents & POLLIN) != 0) {
    std::uint64_t count = 0;
    auto n = ::read(fds[0].fd, &count, sizeof(count));
    static_cast<void>(n);
  }
  return rc;
}

device_ops fake_ops() {
  device_ops ops;
  ops.open = fake_open;
  ops.ioctl = fake_ioctl;
  ops.poll = fake_poll;
  return ops;
}

/// Installs a fresh fake board for one test case.
struct board_fixture {
  fake_board state;
  board_fixture() {
    state.irq = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE(state.irq >= 0);
    board = &state;
  }
  ~board_fixture() {
    ::close(state.irq);
    board = nullptr;
  }
};

std::unique_ptr<hvisor_doorbell> open_fake(slot& s, bool can_ring,
                                           bool can_wait,
                                           std::chrono::nanoseconds spin) {
  hvisor_options opts;
  opts.target_zone = 1;
  opts.service_id = 66;
  opts.swi = 74;
  opts.spin = spin;
  opts.can_ring = can_ring;
  opts.can_wait = can_wait;
  std::string error;
  auto bell = hvisor_doorbell::open(s, opts, &error, fake_ops());
  REQUIRE_MESSAGE(bell != nullptr, error);
  return bell;
}

// -- shared checks -----------------------------------------------------------

/// Ring then wait, a past deadline, and two rings seen as one.
void check_basics(slot& s, doorbell& owner, doorbell& ringer) {
  ringer.ring();
  CHECK(owner.wait(far()) == wait_result::rung);
  CHECK(owner.wait(steady::now() - 1s) == wait_result::timeout);
  ringer.ring();
  ringer.ring();
  CHECK(owner.wait(far()) == wait_result::rung);
  CHECK(owner.wait(steady::now() + 2ms) == wait_result::timeout);
  CHECK(s.bell_sleeping.load() == 0);
  CHECK(ringer.stats().rings == 3);
  CHECK(ringer.stats().wake_syscalls == 0); // the owner never slept then
}

/// What the ringer and the owner share: the bell under test, the work
/// counters, and a futex bell back to the ringer (test scaffolding, so that
/// neither side burns a shared core while it waits for the other).
struct lockstep_area {
  slot bell;
  slot ack;
  std::atomic<std::uint64_t> produced;
  std::atomic<std::uint64_t> consumed;
  std::atomic<int> waiter_status; // 0 running, 1 done, 2 timeout, 3 error
  doorbell_stats owner_stats;     // published by waiter_status
};

std::chrono::nanoseconds pick_spin(std::mt19937& rng) {
  static constexpr std::chrono::nanoseconds spins[] = {0ns, 1us, 50us, 1ms};
  return spins[rng() % 4];
}

/// The owner's loop: drain, ack, wait; every wait must end in a ring.
template <class Bell>
int drain_and_wait(Bell& bell, lockstep_area& a, std::uint64_t total,
                   unsigned seed) {
  futex_doorbell ack{a.ack, 0ns};
  std::mt19937 rng{seed};
  for (;;) {
    auto produced = a.produced.load(std::memory_order_acquire);
    a.consumed.store(produced, std::memory_order_release);
    ack.ring();
    if (produced == total)
      return 1;
    bell.set_spin(pick_spin(rng));
    auto r = bell.wait(far());
    if (r != wait_result::rung)
      return r == wait_result::timeout ? 2 : 3;
  }
}

/// Runs the owner's loop and publishes its status (1 = ok) to the ringer.
template <class Bell>
int waiter_loop(Bell& bell, lockstep_area& a, std::uint64_t total,
                unsigned seed) {
  int status = drain_and_wait(bell, a, total, seed);
  a.owner_stats = bell.stats();
  a.waiter_status.store(status);
  futex_doorbell{a.ack, 0ns}.ring(); // the ringer may wait for an ack
  return status;
}

/// Waits until the owner consumed `n`; false if it stopped or went silent.
bool await_consumed(futex_doorbell& ack, lockstep_area& a, std::uint64_t n) {
  while (a.consumed.load(std::memory_order_acquire) < n) {
    if (a.waiter_status.load() != 0)
      return false;
    if (ack.wait(far()) != wait_result::rung)
      return false;
  }
  return true;
}

/// A short busy delay of random length (a compiler barrier per round).
void jitter(std::mt19937& rng) {
  for (auto n = rng() % 1024; n > 0; --n)
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// The ringer's loop: produce, ring, and at random points wait for the owner
/// to catch up, so the last ring before each such point must wake it.
bool ringer_loop(doorbell& bell, lockstep_area& a, std::uint64_t total,
                 unsigned seed) {
  futex_doorbell ack{a.ack, 20us};
  std::mt19937 rng{seed};
  for (std::uint64_t i = 1; i <= total; ++i) {
    a.produced.store(i, std::memory_order_release);
    bell.ring();
    if (i == total || rng() % 4 == 0) {
      if (!await_consumed(ack, a, i))
        return false;
      jitter(rng); // vary where the next ring lands in the owner's wait
    }
  }
  return true;
}

std::string describe(const lockstep_area& a, const doorbell_stats& ringer) {
  const auto& o = a.owner_stats;
  return "waiter status " + std::to_string(a.waiter_status.load()) +
         "; ringer: rings " + std::to_string(ringer.rings) + ", wakes " +
         std::to_string(ringer.wake_syscalls) + "; owner: sleeps " +
         std::to_string(o.sleep_syscalls) + ", spins satisfied " +
         std::to_string(o.spins_satisfied);
}

/// Two threads, `total` rings; returns the waiter's status (1 = ok).
template <class Bell>
int run_threads(doorbell& ringer, Bell& owner, lockstep_area& a,
                std::uint64_t total) {
  std::thread waiter{[&] { waiter_loop(owner, a, total, 7); }};
  bool ok = ringer_loop(ringer, a, total, 11);
  waiter.join();
  INFO(describe(a, ringer.stats()));
  CHECK(ok);
  return a.waiter_status.load();
}

/// Rings by the owner's wake_self(): another thread of the owner's process
/// (the threaded bridge shell's mailbox). Counts in the owner's self_wakes.
class self_ringer final : public doorbell {
public:
  explicit self_ringer(doorbell& owner) : owner_(&owner) {}
  void ring() noexcept override { owner_->wake_self(); }
  wait_result wait(steady::time_point) noexcept override {
    return wait_result::error; // a ringer only
  }
  doorbell_stats stats() const noexcept override { return {}; }

private:
  doorbell* owner_;
};

} // namespace

// -- single thread -----------------------------------------------------------

TEST_CASE("doorbell: futex ring then wait is rung and rings coalesce") {
  auto s = fresh_slot();
  futex_doorbell owner{*s, 1us};
  futex_doorbell ringer{*s, 0ns};
  check_basics(*s, owner, ringer);
  // The same object may ring its own bell (e.g. to stop its own loop).
  owner.ring();
  CHECK(owner.wait(far()) == wait_result::rung);
  CHECK(owner.wait(steady::now()) == wait_result::timeout);
}

TEST_CASE("doorbell: polling ring then wait is rung and rings coalesce") {
  auto s = fresh_slot();
  polling_doorbell owner{*s, 1us};
  polling_doorbell ringer{*s, 0ns};
  check_basics(*s, owner, ringer);
}

TEST_CASE("doorbell: hvisor ring then wait on a fake board is rung and "
          "rings coalesce") {
  board_fixture fixture;
  auto s = fresh_slot();
  auto owner = open_fake(*s, false, true, 1us);
  auto ringer = open_fake(*s, true, false, 0ns);
  check_basics(*s, *owner, *ringer);
  CHECK(board->ioctls.load() == 0);
}

TEST_CASE("doorbell: a ring made before the owner waits is not lost") {
  auto s = fresh_slot();
  futex_doorbell owner{*s, 0ns};
  futex_doorbell ringer{*s, 0ns};
  ringer.ring();
  // Even with spin budget 0 the first check sees it, before arming.
  CHECK(owner.wait(far()) == wait_result::rung);
  CHECK(owner.stats().spins_satisfied == 1); // seen before arming
  CHECK(owner.stats().sleep_syscalls == 0);
}

// -- coalescing: syscalls only for a sleeping owner --------------------------

TEST_CASE("doorbell: futex ringer makes no syscall while the owner spins") {
  constexpr std::uint64_t n = 200;
  auto s = fresh_slot();
  futex_doorbell owner{*s, 10s};
  futex_doorbell ringer{*s, 0ns};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<int> failures{0};
  std::thread waiter{[&] {
    for (std::uint64_t i = 1; i <= n; ++i) {
      if (owner.wait(far()) != wait_result::rung)
        failures.fetch_add(1);
      acked.store(i, std::memory_order_release);
    }
  }};
  for (std::uint64_t i = 1; i <= n; ++i) {
    ringer.ring();
    while (acked.load(std::memory_order_acquire) < i)
      sched_yield();
  }
  waiter.join();
  CHECK(failures.load() == 0);
  CHECK(ringer.stats().rings == n);
  CHECK(ringer.stats().wake_syscalls == 0);
  CHECK(owner.stats().sleep_syscalls == 0);
  CHECK(owner.stats().spins_satisfied == n);
}

TEST_CASE("doorbell: futex ringer wakes a sleeping owner with one syscall") {
  auto s = fresh_slot();
  futex_doorbell owner{*s, 0ns};
  futex_doorbell ringer{*s, 0ns};
  std::atomic<int> result{-1};
  std::thread waiter{
      [&] { result.store(static_cast<int>(owner.wait(far()))); }};
  // Synchronise on the event itself: the owner declared itself asleep.
  while (s->bell_sleeping.load() == 0)
    sched_yield();
  ringer.ring();
  waiter.join();
  CHECK(result.load() == static_cast<int>(wait_result::rung));
  CHECK(ringer.stats().wake_syscalls == 1);
  CHECK(ringer.stats().wake_errors == 0);
  CHECK(s->bell_sleeping.load() == 0);
}

// -- two threads / two processes, no lost wake-up ----------------------------

TEST_CASE("doorbell: futex two processes lose no wake-up in 100000 rings") {
  constexpr std::uint64_t total = 100000;
  void* mem = ::mmap(nullptr, sizeof(lockstep_area), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mem != MAP_FAILED);
  auto* area = new (mem) lockstep_area{}; // zero-initialised, like the region
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) { // the owner: single-threaded, leaves with _exit
    futex_doorbell owner{area->bell, 0ns};
    int status = waiter_loop(owner, *area, total, 1234);
    ::_exit(status == 1 ? 0 : status);
  }
  futex_doorbell ringer{area->bell, 0ns};
  bool ok = ringer_loop(ringer, *area, total, 99);
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  auto stats = ringer.stats();
  INFO(describe(*area, stats));
  CHECK(ok);
  CHECK(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 0);
  CHECK(area->consumed.load() == total);
  CHECK(stats.rings == total);
  CHECK(stats.wake_syscalls <= stats.rings);
  CHECK(stats.wake_errors == 0);
  ::munmap(mem, sizeof(lockstep_area));
}

TEST_CASE("doorbell: futex two threads lose no wake-up") {
  auto area = std::unique_ptr<lockstep_area>(new lockstep_area{});
  futex_doorbell owner{area->bell, 0ns};
  futex_doorbell ringer{area->bell, 0ns};
  CHECK(run_threads(ringer, owner, *area, 20000) == 1);
  CHECK(ringer.stats().wake_syscalls <= ringer.stats().rings);
}

TEST_CASE("doorbell: polling two threads lose no wake-up and ring never "
          "syscalls") {
  auto area = std::unique_ptr<lockstep_area>(new lockstep_area{});
  polling_doorbell owner{area->bell, 0ns};
  polling_doorbell ringer{area->bell, 0ns};
  CHECK(run_threads(ringer, owner, *area, 10000) == 1);
  CHECK(ringer.stats().rings == 10000);
  CHECK(ringer.stats().wake_syscalls == 0);
  CHECK(area->bell.bell_sleeping.load() == 0);
}

TEST_CASE("doorbell: hvisor two threads on a fake board lose no wake-up") {
  board_fixture fixture;
  auto area = std::unique_ptr<lockstep_area>(new lockstep_area{});
  auto owner = open_fake(area->bell, false, true, 0ns);
  auto ringer = open_fake(area->bell, true, false, 0ns);
  CHECK(run_threads(*ringer, *owner, *area, 10000) == 1);
  auto stats = ringer->stats();
  CHECK(stats.wake_syscalls <= stats.rings);
  CHECK(stats.wake_syscalls == static_cast<std::uint64_t>(board->ioctls));
  CHECK(stats.wake_errors == 0);
}

// -- wake_self: the owner's own process rings ---------------------------------

TEST_CASE("doorbell: wake_self makes the next wait rung and counts apart") {
  auto s = fresh_slot();
  futex_doorbell futex_owner{*s, 0ns};
  REQUIRE(futex_owner.can_wake_self());
  CHECK(futex_owner.wake_self());
  CHECK(futex_owner.wait(far()) == wait_result::rung);
  CHECK(futex_owner.wait(steady::now() + 1ms) == wait_result::timeout);
  CHECK(futex_owner.stats().self_wakes == 1);
  CHECK(futex_owner.stats().rings == 0); // the ringer's counter stays
  polling_doorbell polling_owner{*s, 0ns};
  REQUIRE(polling_owner.can_wake_self());
  CHECK(polling_owner.wake_self());
  CHECK(polling_owner.wait(far()) == wait_result::rung);
  CHECK(polling_owner.stats().self_wakes == 1);
  CHECK(s->bell_sleeping.load() == 0);
}

TEST_CASE("doorbell: futex wake_self wakes a sleeping owner") {
  auto s = fresh_slot();
  futex_doorbell owner{*s, 0ns};
  std::atomic<int> result{-1};
  std::thread waiter{
      [&] { result.store(static_cast<int>(owner.wait(far()))); }};
  while (s->bell_sleeping.load() == 0) // the owner declared itself asleep
    sched_yield();
  CHECK(owner.wake_self());
  waiter.join();
  CHECK(result.load() == static_cast<int>(wait_result::rung));
}

TEST_CASE("doorbell: futex wake_self from another thread loses no wake-up") {
  auto area = std::unique_ptr<lockstep_area>(new lockstep_area{});
  futex_doorbell owner{area->bell, 0ns};
  self_ringer ringer{owner};
  CHECK(run_threads(ringer, owner, *area, 20000) == 1);
  CHECK(owner.stats().self_wakes == 20000);
  CHECK(owner.stats().rings == 0);
}

TEST_CASE("doorbell: polling wake_self from another thread ends naps and "
          "loses no wake-up") {
  auto area = std::unique_ptr<lockstep_area>(new lockstep_area{});
  polling_doorbell owner{area->bell, 0ns};
  self_ringer ringer{owner};
  CHECK(run_threads(ringer, owner, *area, 10000) == 1);
  CHECK(owner.stats().self_wakes == 10000);
  CHECK(area->bell.bell_sleeping.load() == 0); // the region's flag stays 0
}

TEST_CASE("doorbell: hvisor cannot wake itself and leaves bell_seq alone") {
  board_fixture fixture;
  auto s = fresh_slot();
  auto owner = open_fake(*s, false, true, 0ns);
  CHECK_FALSE(owner->can_wake_self());
  CHECK_FALSE(owner->wake_self());
  CHECK(s->bell_seq.load() == 0);
  CHECK(owner->wait(steady::now() + 1ms) == wait_result::timeout);
}

// -- hvisor backend against the fake board -----------------------------------

TEST_CASE("doorbell: hvisor rings with ioctl 10 and the configured args "
          "only for a sleeping owner") {
  board_fixture fixture;
  auto s = fresh_slot();
  auto ringer = open_fake(*s, true, false, 0ns);
  ringer->ring(); // owner awake: coalesced, no ioctl
  CHECK(board->ioctls.load() == 0);
  s->bell_sleeping.store(1); // the owner declared itself asleep
  ringer->ring();
  CHECK(board->ioctls.load() == 1);
  CHECK(board->last_request == 10);
  CHECK(board->last_args.target_zone_id == 1);
  CHECK(board->last_args.service_id == 66);
  CHECK(board->last_args.swi == 74);
  unsigned char raw[24];
  std::memcpy(raw, &board->last_args, sizeof(raw));
  CHECK(raw[0] == 1);   // target zone, little-endian u64 at 0
  CHECK(raw[8] == 66);  // service id at 8
  CHECK(raw[16] == 74); // swi at 16
  CHECK(ringer->stats().rings == 2);
  CHECK(ringer->stats().wake_syscalls == 1);
  CHECK(s->bell_seq.load() == 2);
}

TEST_CASE("doorbell: hvisor owner wakes on the fake IRQ and ignores a "
          "spurious one") {
  board_fixture fixture;
  auto s = fresh_slot();
  auto owner = open_fake(*s, false, true, 0ns);
  auto ringer = open_fake(*s, true, false, 0ns);
  // A stale IRQ with bell_seq unchanged: POLLIN, re-check, keep waiting.
  std::uint64_t one = 1;
  REQUIRE(::write(board->irq, &one, sizeof(one)) > 0);
  CHECK(owner->wait(steady::now() + 20ms) == wait_result::timeout);
  std::atomic<int> result{-1};
  std::thread waiter{
      [&] { result.store(static_cast<int>(owner->wait(far()))); }};
  while (s->bell_sleeping.load() == 0)
    sched_yield();
  ringer->ring();
  waiter.join();
  CHECK(result.load() == static_cast<int>(wait_result::rung));
  CHECK(board->ioctls.load() == 1);
}

TEST_CASE("doorbell: hvisor open failure returns nullptr naming the device") {
  board_fixture fixture;
  auto s = fresh_slot();
  hvisor_options opts;
  opts.hvisor_device = "/nonexistent/hvisor";
  std::string error;
  CHECK(hvisor_doorbell::open(*s, opts, &error) == nullptr);
  CHECK(error == "cannot open /nonexistent/hvisor: No such file or directory");
  // The second device fails: the first one is closed again, message names it.
  opts = hvisor_options{};
  board->fail_path = opts.hshm_device;
  CHECK(hvisor_doorbell::open(*s, opts, &error, fake_ops()) == nullptr);
  CHECK(error == "cannot open /dev/hshm0: No such file or directory");
  CHECK(hvisor_doorbell::open(*s, opts, nullptr, fake_ops()) == nullptr);
}

TEST_CASE("doorbell: hvisor opens only the device of its role") {
  board_fixture fixture;
  auto s = fresh_slot();
  auto ringer = open_fake(*s, true, false, 0ns);
  REQUIRE(board->opened.size() == 1);
  CHECK(board->opened[0] == "/dev/hvisor");
  // Without /dev/hshm0 the owner cannot sleep: error, not a hang.
  CHECK(ringer->wait(far()) == wait_result::error);
  auto owner = open_fake(*s, false, true, 0ns);
  REQUIRE(board->opened.size() == 2);
  CHECK(board->opened[1] == "/dev/hshm0");
  // Without /dev/hvisor a ring for a sleeping owner is a counted error.
  s->bell_sleeping.store(1);
  owner->ring();
  CHECK(owner->stats().wake_errors == 1);
  CHECK(board->ioctls.load() == 0);
}

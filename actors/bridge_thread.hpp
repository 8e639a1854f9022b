// The threaded shell of a bridge: one thread per zone that waits on the
// zone's doorbell and runs the bridge itself, so a ring is a function call
// on a thread that is already awake, not a message to a sleeping CAF worker.
//
// The bridge stays an ordinary event-based actor (the deterministic tests
// drive the very same class on CAF's test coordinator). What changes is who
// resumes it: the bridge hands every send to it to this execution unit
// (bridge_core::enqueue), whose exec_later() raises a flag and, from another
// thread, wakes the doorbell from the local side (doorbell::wake_self).
// The thread loops:
//
//   resume the bridge if it has mail   (its handlers, flushes, answers)
//   resume the guests it woke          (client actors, see below)
//   wait on the doorbell until a ring, a wake_self or the next tick
//   a ring -> the bridge's on_wake() as a call; the tick -> a tick message
//
// Guests: an actor that the bridge (or a guest) wakes by a send from this
// thread would otherwise be handed to CAF's scheduler, i.e. one more thread
// to wake per answer. Actors the filter accepts (the zone's client actors:
// little work per message) are resumed on this thread instead; all others
// go to the scheduler as usual. CAF still guarantees one resumer at a time:
// only the enqueue that unblocks an actor's mailbox schedules it.
//
// Ownership: after the bridge's first resume (on a CAF worker: its launch)
// every resume is this thread's, so on_wake() may be called between
// resumes. Until the thread has resumed the bridge once, a ring is sent as
// a wake message instead. The thread holds a strong reference to the bridge
// (as the interrupt waiter does) and ends when the bridge terminates or
// stop() is called; CAF's actor system waits for it (detached-thread
// count).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/interrupt_waiter.hpp"
#include "shm/port.hpp"

namespace hyperamp::actors {

/// Which thread runs a bridge (client_settings::shell, service_settings).
enum class bridge_shell {
  /// threaded where the zone's doorbell supports wake_self (futex,
  /// polling), scheduled otherwise (hvisor)
  automatic,
  /// the bridge runs on its own thread (bridge_thread); a doorbell without
  /// wake_self (hvisor, fifo) is refused when the zone is spawned
  threaded,
  /// CAF's workers run the bridge; an interrupt waiter thread sends it
  /// wake and tick messages
  scheduled,
};

/// "auto", "threaded", "scheduled".
const char* to_string(bridge_shell x) noexcept;

/// The one thing the thread calls on its bridge outside a message.
class ring_handler {
public:
  virtual ~ring_handler();
  /// The peer rang: drain (the bridge's on_wake). Called on the bridge's
  /// thread, between two resumes of the bridge, never concurrently.
  virtual void ring_now() = 0;
};

class bridge_thread final : public caf::execution_unit {
public:
  /// Which actors woken from this thread it runs itself.
  using guest_filter = bool (*)(const caf::resumable*);

  /// Waits on `port`'s bell (which must support wake_self) and beats it;
  /// the port outlives the thread. `guests` may be null (no guests).
  bridge_thread(caf::actor_system& sys, shm::port& port,
                std::shared_ptr<waiter_flags> flags,
                std::chrono::nanoseconds tick, guest_filter guests);
  ~bridge_thread() override;

  /// Starts the thread for `bridge`, which must send every message to it
  /// through this unit (exec_later) from now on.
  void start(caf::scheduled_actor* bridge, ring_handler* handler);

  /// Stops the thread: joins it from another thread; on the thread itself
  /// (the bridge terminating in its resume) only asks it to end after the
  /// resume. Idempotent.
  void stop();

  /// Schedules `ptr` on this thread (the bridge, or a guest) or on CAF's
  /// scheduler. Thread-safe for the bridge; other actors are only ever
  /// scheduled here by sends made on this thread.
  void exec_later(caf::resumable* ptr) override;

  bool on_own_thread() const noexcept {
    return std::this_thread::get_id() == id_.load(std::memory_order_acquire);
  }

private:
  void run();
  void resume_bridge();
  void run_guests();
  void ring();
  void tick();

  shm::port* port_;
  std::shared_ptr<waiter_flags> flags_;
  std::chrono::nanoseconds tick_;
  guest_filter guests_filter_;
  caf::scheduled_actor* bridge_ = nullptr;
  ring_handler* handler_ = nullptr;
  /// The bridge has mail: set by exec_later (it then holds the reference
  /// CAF added for scheduling), cleared by the thread before it resumes.
  std::atomic<bool> scheduled_{false};
  /// stop() was called; guests go to the scheduler from then on.
  std::atomic<bool> stopping_{false};
  std::atomic<std::thread::id> id_{};
  bool owned_ = false; ///< this thread has resumed the bridge
  std::vector<caf::resumable*> guests_;
  std::vector<caf::resumable*> running_;
  std::thread thread_;
};

} // namespace hyperamp::actors

// The interrupt waiter: a plain thread that blocks on this zone's doorbell
// and turns rings into `wake` messages for the bridge (and its own clock
// into `tick` messages), so no event-based actor ever busy-waits. It also
// beats the zone's heartbeat: liveness is the process's, not an actor's.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <caf/actor.hpp>

#include "shm/doorbell.hpp"
#include "shm/port.hpp"

namespace hyperamp::actors {

/// Flags shared by the waiter thread and its bridge. A flag set means a
/// message is in the bridge's mailbox: the waiter sends no second one, the
/// bridge clears the flag *before* it drains, so no ring is lost.
struct waiter_flags {
  std::atomic<bool> wake_pending{false};
  std::atomic<bool> tick_pending{false};
  std::atomic<bool> stop{false};
};

class interrupt_waiter {
public:
  /// Waits on `port`'s bell and beats it; the port outlives the waiter.
  interrupt_waiter(shm::port& port, std::shared_ptr<waiter_flags> flags,
                   std::chrono::nanoseconds tick);
  ~interrupt_waiter();

  /// Starts the thread, which sends to `target`.
  void start(caf::actor target);

  /// Stops and joins the thread (rings the bell to wake it). Idempotent.
  void stop();

private:
  void run(caf::actor target);

  shm::port* port_;
  std::shared_ptr<waiter_flags> flags_;
  std::chrono::nanoseconds tick_;
  std::thread thread_;
};

} // namespace hyperamp::actors

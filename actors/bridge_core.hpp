// What both bridges are made of: a port, the interrupt waiter that turns
// the port's doorbell into `wake` and the clock into `tick` messages, the
// batching rule, the take-a-batch loop, the statistics and the error log.
// A bridge is the only actor of its zone that touches the shared queue,
// and it touches it only through its port.
//
// Two shells run the same core (actors/bridge_thread.hpp): `scheduled`, an
// event-based actor on CAF's workers fed by an interrupt waiter thread
// (wake/tick messages); `threaded`, the same actor resumed only by its own
// thread, which waits on the doorbell and calls on_wake() directly. The
// deterministic tests run it with start_waiter=false: no thread at all.
//
// Messages every bridge takes (the derived bridge adds its own):
//   wake  -> on_wake()   the peer rang (or the waiter's safety net)
//   tick  -> on_tick()   deadlines, liveness, reaping
//   flush -> on_flush()  the batch the mailbox built up is complete
//   stats -> bridge_stats
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/bridge_thread.hpp"
#include "actors/flush_soon.hpp"
#include "actors/fwd.hpp"
#include "actors/interrupt_waiter.hpp"
#include "shm/port.hpp"

namespace hyperamp::actors {

template <class Port>
class bridge_core : public caf::event_based_actor, private ring_handler {
public:
  /// `name` prefixes log lines ("client bridge"); `heartbeat` is the tick.
  /// With start_waiter, `shell` picks the thread that runs the bridge
  /// (automatic and threaded: its own where the doorbell supports
  /// wake_self; zone.cpp refuses a forced threaded shell elsewhere);
  /// `guests` are the actors its thread may run (bridge_thread.hpp).
  bridge_core(caf::actor_config& cfg, std::unique_ptr<Port> port,
              std::chrono::nanoseconds heartbeat, bool start_waiter,
              bridge_shell shell, bridge_thread::guest_filter guests,
              const char* name)
      : caf::event_based_actor(cfg),
        port_(std::move(port)),
        flags_(std::make_shared<waiter_flags>()),
        waiter_(*port_, flags_, heartbeat),
        start_waiter_(start_waiter),
        log_name_(name) {
    if (start_waiter && shell != bridge_shell::scheduled &&
        port_->wait_bell().can_wake_self())
      thread_ = std::make_unique<bridge_thread>(home_system(), *port_, flags_,
                                                heartbeat, guests);
  }

  void on_exit() override {
    if (thread_)
      thread_->stop();
    waiter_.stop();
    on_stop();
    port_->leave();
  }

  /// In the threaded shell every send to the bridge schedules it on its
  /// own thread, whoever sends (the sender's execution unit is ignored).
  using caf::event_based_actor::enqueue;
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override {
    caf::event_based_actor::enqueue(std::move(ptr),
                                    thread_ ? thread_.get() : eu);
  }

  /// The shell that runs the bridge (constant after construction).
  bridge_shell shell() const noexcept {
    return thread_ ? bridge_shell::threaded : bridge_shell::scheduled;
  }

  /// The bridge's counters with its port's (tests read them directly).
  bridge_stats stats() const {
    auto s = stats_;
    const auto c = port_->counters();
    s.batches += c.batches;
    s.rings += c.rings;
    s.corrupt += c.corrupt + c.rejected_total;
    s.repairs += c.repairs;
    s.evictions += c.evictions;
    for (const auto& [why, n] : c.rejected)
      s.rejected.emplace_back(why, n);
    return s;
  }

protected:
  // -- what a bridge defines
  // ---------------------------------------------------

  virtual void on_wake() = 0;
  virtual void on_tick() = 0;
  virtual void on_flush() = 0;
  /// Before the port is left (on_exit): answer or publish what is pending.
  virtual void on_stop() = 0;

  // -- what the core offers
  // ------------------------------------------------------

  Port& port() noexcept { return *port_; }

  /// The bridge's behaviour: its own handlers, then the common ones. Starts
  /// the waiter thread (unless a test drives wake and tick by hand).
  caf::behavior with_core(caf::message_handler own) {
    if (thread_)
      thread_->start(this, this);
    else if (start_waiter_)
      waiter_.start(caf::actor{this});
    return own.or_else(
        [this](wake_atom) {
          // Cleared before draining, so a ring during the drain sends a
          // new wake: none is lost.
          flags_->wake_pending.store(false, std::memory_order_release);
          on_wake();
          log_new_rejects();
        },
        [this](tick_atom) {
          flags_->tick_pending.store(false, std::memory_order_release);
          if (port_->check_self() == shm::self_check::lost) {
            log_once("another zone was given this zone's place in the "
                     "region (it was declared dead while it was only "
                     "stopped?); stopping");
            quit(caf::make_error(amp_errc::replaced));
            return;
          }
          on_tick();
          log_new_rejects();
        },
        [this](flush_atom) {
          flush_scheduled_ = false;
          on_flush();
        },
        [this](stats_atom) { return stats(); });
  }

  /// on_flush() now or once the mailbox is empty (actors/flush_soon.hpp).
  void publish_soon() {
    flush_soon(this, flush_scheduled_, [this] { on_flush(); });
  }

  /// The take-a-batch loop: calls take(buf.data(), buf.size()) and
  /// handle(item) for each item taken until the port runs dry. A port that
  /// found damage repaired it and says `corrupt`: take again, but not
  /// forever: damage that a repair does not clear (the peer keeps writing
  /// garbage) ends the loop after a second try; the next wake or tick
  /// tries again.
  template <class T, class Take, class Handle>
  void drain(std::vector<T>& buf, Take take, Handle handle) {
    int repaired_in_a_row = 0;
    for (;;) {
      const shm::batch_result r = take(buf.data(), buf.size());
      for (std::size_t i = 0; i < r.count; ++i)
        handle(buf[i]);
      if (r.st == shm::status::corrupt && r.count == 0 &&
          ++repaired_in_a_row > 1)
        return;
      if (r.st != shm::status::corrupt)
        repaired_in_a_row = 0;
      if (r.st != shm::status::ok && r.st != shm::status::corrupt)
        return;
    }
  }

  /// Writes one line to stderr the first time `what` happens; later ones
  /// are only counted (in the statistics).
  void log_once(const std::string& what) {
    for (const auto& seen : logged_)
      if (seen == what)
        return;
    logged_.push_back(what);
    std::fprintf(stderr,
                 "hyperamp: %s: %s (logged once; see the bridge statistics "
                 "for counts)\n",
                 log_name_, what.c_str());
  }

  bridge_stats stats_;

private:
  /// The threaded shell: the peer rang, handled as the wake message is.
  void ring_now() override {
    context(thread_.get()); // what on_wake sends is scheduled from here
    on_wake();
    log_new_rejects();
  }

  /// Logs each validation failure reason the port met for the first time.
  void log_new_rejects() {
    if (port_->incidents() == incidents_seen_)
      return; // the common case: one load, no copy
    const auto c = port_->counters();
    incidents_seen_ = c.incidents();
    for (const auto& r : c.rejected)
      log_once(std::string{"rejected: "} + r.first);
    if (c.corrupt > 0)
      log_once("the queue's lists were damaged and rebuilt from the entry "
               "tags");
  }

  std::unique_ptr<Port> port_;
  std::shared_ptr<waiter_flags> flags_;
  interrupt_waiter waiter_;
  bool start_waiter_;
  bool flush_scheduled_ = false;
  const char* log_name_;
  std::vector<std::string> logged_;
  std::uint64_t incidents_seen_ = 0;
  /// The threaded shell's thread (null: scheduled). Declared last, so it is
  /// stopped before the port goes.
  std::unique_ptr<bridge_thread> thread_;
};

} // namespace hyperamp::actors

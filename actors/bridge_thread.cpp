#include "actors/bridge_thread.hpp"

#include <limits>
#include <utility>

#include "actors/fwd.hpp"

namespace hyperamp::actors {

namespace {

using clock_type = std::chrono::steady_clock;

/// Messages the bridge handles per resume before the thread looks at the
/// doorbell again (a flood of calls must not hold up the completions).
constexpr std::size_t k_bridge_throughput = 64;
/// Messages a guest handles per resume; beyond it goes to the scheduler.
constexpr std::size_t k_guest_throughput = 64;

} // namespace

const char* to_string(bridge_shell x) noexcept {
  switch (x) {
  case bridge_shell::threaded:
    return "threaded";
  case bridge_shell::scheduled:
    return "scheduled";
  default:
    return "auto";
  }
}

ring_handler::~ring_handler() = default;

bridge_thread::bridge_thread(caf::actor_system& sys, shm::port& port,
                             std::shared_ptr<waiter_flags> flags,
                             std::chrono::nanoseconds tick, guest_filter guests)
    : caf::execution_unit(&sys),
      port_(&port),
      flags_(std::move(flags)),
      tick_(tick),
      guests_filter_(guests) {}

bridge_thread::~bridge_thread() {
  stop();
}

void bridge_thread::start(caf::scheduled_actor* bridge, ring_handler* handler) {
  bridge_ = bridge;
  handler_ = handler;
  auto& sys = system();
  sys.inc_detached_threads(); // ~actor_system waits for this thread
  caf::strong_actor_ptr self{bridge->ctrl()};
  thread_ = std::thread{[this, sys = &sys, self = std::move(self)]() mutable {
    id_.store(std::this_thread::get_id(), std::memory_order_release);
    run();
    // May destroy the bridge and with it *this (then stop() detaches us):
    // touch nothing of ours from here on.
    self.reset();
    sys->dec_detached_threads();
  }};
}

void bridge_thread::stop() {
  stopping_.store(true, std::memory_order_release);
  flags_->stop.store(true, std::memory_order_release);
  if (!thread_.joinable())
    return;
  if (std::this_thread::get_id() == thread_.get_id()) {
    // The bridge terminates in a resume of ours, or its last reference
    // went with the thread's: the loop ends by itself.
    thread_.detach();
    return;
  }
  port_->wait_bell().wake_self();
  thread_.join();
}

void bridge_thread::exec_later(caf::resumable* ptr) {
  if (ptr == static_cast<caf::resumable*>(bridge_)) {
    // CAF added a reference for the scheduling; the flag now holds it.
    scheduled_.store(true, std::memory_order_release);
    if (!on_own_thread())
      port_->wait_bell().wake_self(); // the thread may wait on the bell
    return;
  }
  // Only sends made on this thread get here (the sender's unit is ours).
  if (guests_filter_ != nullptr && guests_filter_(ptr) &&
      !stopping_.load(std::memory_order_acquire) && on_own_thread()) {
    guests_.push_back(ptr);
    return;
  }
  system().scheduler().enqueue(ptr); // takes CAF's reference along
}

void bridge_thread::run() {
  // The contract of the doorbell: drain once before the first wait. Sent as
  // a message, which also makes this thread the bridge's resumer soon.
  ring();
  auto next_tick = clock_type::now() + tick_;
  auto& bell = port_->wait_bell();
  while (!flags_->stop.load(std::memory_order_acquire)) {
    bool busy = false;
    if (scheduled_.exchange(false, std::memory_order_acq_rel)) {
      resume_bridge();
      busy = true;
    }
    if (!guests_.empty()) {
      run_guests();
      busy = true;
    }
    if (flags_->stop.load(std::memory_order_acquire))
      break;
    // After work: only look (a deadline of now does not block); idle:
    // sleep until a ring, a wake_self (new mail) or the tick.
    const auto r = bell.wait(busy ? clock_type::now() : next_tick);
    port_->beat();
    if (flags_->stop.load(std::memory_order_acquire))
      break;
    if (r == shm::wait_result::rung)
      ring();
    if (clock_type::now() >= next_tick) {
      next_tick = clock_type::now() + tick_;
      tick();
    }
  }
  // Guests not run yet belong to the scheduler now; a reference CAF added
  // for scheduling the bridge is dropped with the bridge's last resume.
  for (auto* g : guests_)
    system().scheduler().enqueue(g);
  guests_.clear();
  if (scheduled_.exchange(false, std::memory_order_acq_rel))
    caf::intrusive_ptr_release(static_cast<caf::resumable*>(bridge_));
}

void bridge_thread::resume_bridge() {
  auto* r = static_cast<caf::resumable*>(bridge_);
  switch (r->resume(this, k_bridge_throughput)) {
  case caf::resumable::resume_later:
    // More mail: keep the reference and come back after a look at the bell.
    scheduled_.store(true, std::memory_order_release);
    break;
  case caf::resumable::done:
  case caf::resumable::shutdown_execution_unit:
    flags_->stop.store(true, std::memory_order_release);
    caf::intrusive_ptr_release(r);
    break;
  default: // awaiting_message
    caf::intrusive_ptr_release(r);
    break;
  }
  owned_ = true;
}

void bridge_thread::run_guests() {
  // A guest may wake more guests while it runs: they wait for the next turn.
  running_.swap(guests_);
  for (auto* g : running_) {
    switch (g->resume(this, k_guest_throughput)) {
    case caf::resumable::resume_later:
      system().scheduler().enqueue(g); // a busy guest: a worker's job
      break;
    default:
      caf::intrusive_ptr_release(g);
      break;
    }
  }
  running_.clear();
}

void bridge_thread::ring() {
  if (owned_) {
    handler_->ring_now();
    return;
  }
  // Not ours yet (its launch ran on a CAF worker): as the waiter would.
  if (!flags_->wake_pending.exchange(true, std::memory_order_acq_rel))
    caf::anon_send(caf::actor_cast<caf::actor>(bridge_), wake_atom::value);
}

void bridge_thread::tick() {
  // A message, not a call: on_tick may terminate the bridge, which only a
  // resume can do. From this thread it costs no wake-up.
  if (!flags_->tick_pending.exchange(true, std::memory_order_acq_rel))
    caf::anon_send(caf::actor_cast<caf::actor>(bridge_), tick_atom::value);
}

} // namespace hyperamp::actors

#include "actors/interrupt_waiter.hpp"

#include <caf/send.hpp>

#include "actors/fwd.hpp"

namespace hyperamp::actors {

interrupt_waiter::interrupt_waiter(shm::port& port,
                                   std::shared_ptr<waiter_flags> flags,
                                   std::chrono::nanoseconds tick)
    : port_(&port), flags_(std::move(flags)), tick_(tick) {}

interrupt_waiter::~interrupt_waiter() {
  stop();
}

void interrupt_waiter::start(caf::actor target) {
  thread_ = std::thread{[this, t = std::move(target)] { run(t); }};
}

void interrupt_waiter::stop() {
  flags_->stop.store(true, std::memory_order_release);
  if (thread_.joinable()) {
    port_->wait_bell().ring(); // wakes our own wait (we own this bell)
    thread_.join();
  }
}

void interrupt_waiter::run(caf::actor target) {
  using clock = std::chrono::steady_clock;
  auto next_tick = clock::now() + tick_;
  while (!flags_->stop.load(std::memory_order_acquire)) {
    const auto r = port_->wait_bell().wait(next_tick);
    port_->beat();
    if (flags_->stop.load(std::memory_order_acquire))
      break;
    if (r == shm::wait_result::rung &&
        !flags_->wake_pending.exchange(true, std::memory_order_acq_rel))
      caf::anon_send(target, wake_atom::value);
    if (clock::now() >= next_tick) {
      next_tick = clock::now() + tick_;
      if (!flags_->tick_pending.exchange(true, std::memory_order_acq_rel))
        caf::anon_send(target, tick_atom::value);
    }
  }
}

} // namespace hyperamp::actors

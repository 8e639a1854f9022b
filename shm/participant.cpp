#include "shm/participant.hpp"

#include <thread>
#include <unistd.h>

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

constexpr auto k_free = static_cast<std::uint32_t>(slot_state::free);
constexpr auto k_active = static_cast<std::uint32_t>(slot_state::active);

} // namespace

void participant::init(region& r, std::uint32_t idx,
                       std::uint32_t zone_id) noexcept {
  region_ = &r;
  index_ = idx;
  slot& s = r.slot_at(idx);
  s.pid = static_cast<std::uint32_t>(::getpid());
  s.zone_id = zone_id;
  epoch_ = s.epoch.fetch_add(1, std::memory_order_relaxed) + 1;
  s.heartbeat.fetch_add(1, std::memory_order_release);
}

status participant::claim_client(region& r, std::uint32_t zone_id,
                                 participant& out) noexcept {
  for (std::uint32_t i = 1; i <= r.max_clients(); ++i) {
    std::uint32_t expected = k_free;
    // acq_rel: we see the reaper's cleanup of the slot's lists.
    if (r.slot_at(i).state.compare_exchange_strong(expected, k_active,
                                                   std::memory_order_acq_rel)) {
      out.init(r, i, zone_id);
      return status::ok;
    }
  }
  return status::no_slot;
}

status participant::claim_service(region& r, std::uint32_t zone_id,
                                  std::chrono::nanoseconds dead_after,
                                  participant& out) {
  slot& s = r.slot_at(k_service_slot);
  std::uint32_t expected = k_free;
  if (s.state.compare_exchange_strong(expected, k_active,
                                      std::memory_order_acq_rel)) {
    out.init(r, k_service_slot, zone_id);
    return status::ok;
  }
  // Active: alive or dead? Watch the heartbeat; not a hot path.
  const auto beat = s.heartbeat.load(std::memory_order_relaxed);
  const auto until = std::chrono::steady_clock::now() + dead_after;
  while (std::chrono::steady_clock::now() < until) {
    if (s.heartbeat.load(std::memory_order_relaxed) != beat)
      return status::peer_alive;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Take over by moving the heartbeat ourselves: a second would-be successor
  // that also watched it sees it move and backs off.
  auto seen = beat;
  if (!s.heartbeat.compare_exchange_strong(seen, beat + 1,
                                           std::memory_order_acq_rel))
    return status::peer_alive;
  s.state.store(k_active, std::memory_order_release);
  out.init(r, k_service_slot, zone_id);
  out.took_over_ = true;
  return status::ok;
}

void participant::beat() noexcept {
  if (region_)
    region_->slot_at(index_).heartbeat.fetch_add(1, std::memory_order_relaxed);
}

void participant::release() noexcept {
  if (!region_)
    return;
  // Only while the slot is still ours: a participant that was merely
  // stalled, declared dead and succeeded must not free its successor's slot.
  slot& s = region_->slot_at(index_);
  if (s.epoch.load(std::memory_order_acquire) == epoch_)
    // release: our last writes are visible to the next owner.
    s.state.store(k_free, std::memory_order_release);
  region_ = nullptr;
}

liveness_monitor::liveness_monitor(region& r,
                                   std::chrono::nanoseconds dead_after)
    : region_(&r), dead_after_(dead_after), seen_(r.max_clients() + 1u) {}

bool liveness_monitor::dead(std::uint32_t idx,
                            std::chrono::steady_clock::time_point now) {
  slot& s = region_->slot_at(idx);
  seen& w = seen_[idx];
  if (s.state.load(std::memory_order_acquire) != k_active) {
    w.valid = false;
    return false;
  }
  const auto beat = s.heartbeat.load(std::memory_order_relaxed);
  const auto epoch = s.epoch.load(std::memory_order_relaxed);
  if (!w.valid || beat != w.beat || epoch != w.epoch) {
    w = seen{beat, epoch, true, now};
    return false;
  }
  return now - w.since >= dead_after_;
}

void liveness_monitor::reset(std::uint32_t idx) {
  seen_[idx].valid = false;
}

} // namespace hyperamp::shm

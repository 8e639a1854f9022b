#include "shm/participant.hpp"

#include <thread>
#include <unistd.h>

#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

/// One transition of the owner word: from exactly `from` to `to`.
/// acq_rel: a claimant sees everything the reaper or the previous owner
/// wrote before freeing; a releaser's last writes are visible to the next.
bool transition(slot& s, owner_word from, owner_word to) noexcept {
  std::uint64_t expected = pack(from);
  return s.owner.compare_exchange_strong(
      expected, pack(to), std::memory_order_acq_rel, std::memory_order_relaxed);
}

constexpr owner_word active(std::uint32_t epoch) noexcept {
  return {slot_state::active, epoch};
}

constexpr owner_word free_at(std::uint32_t epoch) noexcept {
  return {slot_state::free, epoch};
}

} // namespace

owner_word read_owner(const slot& s) noexcept {
  return unpack(s.owner.load(std::memory_order_acquire));
}

bool try_claim(slot& s, std::uint32_t* epoch) noexcept {
  const std::uint64_t raw = s.owner.load(std::memory_order_acquire);
  const owner_word seen = unpack(raw);
  if (seen.active())
    return false;
  // From the raw word, so a free slot with garbage in its state bits (any
  // value but active) is claimable too.
  std::uint64_t expected = raw;
  const owner_word next = active(seen.epoch + 1);
  if (!s.owner.compare_exchange_strong(expected, pack(next),
                                       std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
    return false;
  *epoch = next.epoch;
  return true;
}

bool try_release(slot& s, std::uint32_t epoch) noexcept {
  if (!transition(s, active(epoch), free_at(epoch)))
    return false;
  s.heartbeat.store(0, std::memory_order_release); // left in order
  return true;
}

bool try_evict(slot& s, std::uint32_t epoch) noexcept {
  if (!transition(s, active(epoch), free_at(epoch + 1)))
    return false;
  s.heartbeat.store(0, std::memory_order_release);
  return true;
}

bool claimable(const slot& s) noexcept {
  return !read_owner(s).active() &&
         s.heartbeat.load(std::memory_order_acquire) == 0;
}

bool try_take_over(slot& s, std::uint32_t epoch) noexcept {
  return transition(s, active(epoch), active(epoch + 1));
}

bool silence_watch::silent(std::uint64_t identity, std::uint64_t beat,
                           clock::time_point now) noexcept {
  if (!valid_ || identity != identity_ || beat != beat_) {
    identity_ = identity;
    beat_ = beat;
    since_ = now;
    valid_ = true;
    return false;
  }
  return now - since_ >= dead_after_;
}

// -- participant --------------------------------------------------------------

void participant::init(region& r, std::uint32_t idx, std::uint32_t zone_id,
                       std::uint32_t epoch) noexcept {
  region_ = &r;
  index_ = idx;
  epoch_ = epoch;
  slot& s = r.slot_at(idx);
  s.pid = static_cast<std::uint32_t>(::getpid());
  s.zone_id = zone_id;
  s.heartbeat.fetch_add(1, std::memory_order_release);
}

status participant::claim_client(region& r, std::uint32_t zone_id,
                                 participant& out) noexcept {
  for (std::uint32_t i = 1; i <= r.max_clients(); ++i) {
    std::uint32_t epoch = 0;
    if (claimable(r.slot_at(i)) && try_claim(r.slot_at(i), &epoch)) {
      out.init(r, i, zone_id, epoch);
      return status::ok;
    }
  }
  return status::no_slot;
}

status participant::claim_service(region& r, std::uint32_t zone_id,
                                  std::chrono::nanoseconds dead_after,
                                  participant& out) {
  slot& s = r.slot_at(k_service_slot);
  std::uint32_t epoch = 0;
  if (claimable(s) && try_claim(s, &epoch)) {
    out.init(r, k_service_slot, zone_id, epoch);
    return status::ok;
  }
  // Held, or free with a heartbeat (a damaged word, or an owner that left
  // no trace): alive or dead? Watch it for dead_after; not a hot path. Any
  // sign of life (a beat, a new word) means alive.
  silence_watch watch{dead_after};
  const std::uint64_t first = s.owner.load(std::memory_order_acquire);
  const auto first_beat = s.heartbeat.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t raw = s.owner.load(std::memory_order_acquire);
    const auto beat = s.heartbeat.load(std::memory_order_relaxed);
    if (claimable(s) && try_claim(s, &epoch)) { // left meanwhile
      out.init(r, k_service_slot, zone_id, epoch);
      return status::ok;
    }
    if (raw != first || beat != first_beat)
      return status::peer_alive;
    if (watch.silent(raw, beat, silence_watch::clock::now())) {
      // One CAS decides between would-be successors; the loser backs off.
      std::uint64_t expected = raw;
      const owner_word next{slot_state::active, unpack(raw).epoch + 1};
      if (!s.owner.compare_exchange_strong(expected, pack(next),
                                           std::memory_order_acq_rel))
        return status::peer_alive;
      out.init(r, k_service_slot, zone_id, next.epoch);
      out.took_over_ = true;
      return status::ok;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void participant::beat() noexcept {
  if (region_)
    region_->slot_at(index_).heartbeat.fetch_add(1, std::memory_order_relaxed);
}

self_check participant::check() noexcept {
  if (!region_)
    return self_check::lost;
  slot& s = region_->slot_at(index_);
  std::uint64_t raw = s.owner.load(std::memory_order_acquire);
  const owner_word w = unpack(raw);
  const bool state_ok = static_cast<std::uint32_t>(raw) ==
                        static_cast<std::uint32_t>(slot_state::active);
  if (state_ok && w.epoch == epoch_)
    return self_check::ours;
  // Replaced: taken over, or claimed after an eviction (another epoch,
  // active), or evicted (free at the next epoch).
  if ((state_ok && w.epoch != epoch_) || (!w.active() && w.epoch == epoch_ + 1))
    return self_check::lost;
  // Damaged while we live: put our word back (one CAS from what is there).
  return s.owner.compare_exchange_strong(raw, pack(active(epoch_)),
                                         std::memory_order_acq_rel)
             ? self_check::repaired
             : self_check::lost;
}

void participant::release() noexcept {
  if (!region_)
    return;
  // One CAS from active(our epoch): if we were evicted or taken over while
  // stalled, the epoch moved on and the successor's slot is left alone.
  try_release(region_->slot_at(index_), epoch_);
  region_ = nullptr;
}

// -- liveness_monitor ---------------------------------------------------------

liveness_monitor::liveness_monitor(region& r,
                                   std::chrono::nanoseconds dead_after)
    : region_(&r),
      watch_(r.max_clients() + 1u, silence_watch{dead_after}),
      leftover_(r.max_clients() + 1u, silence_watch{dead_after}) {}

bool liveness_monitor::dead(std::uint32_t idx,
                            std::chrono::steady_clock::time_point now,
                            std::uint32_t* epoch) {
  slot& s = region_->slot_at(idx);
  const owner_word w = read_owner(s);
  if (!w.active()) {
    watch_[idx].reset();
    return false;
  }
  const auto beat = s.heartbeat.load(std::memory_order_relaxed);
  if (!watch_[idx].silent(w.epoch, beat, now))
    return false;
  if (epoch != nullptr)
    *epoch = w.epoch;
  return true;
}

bool liveness_monitor::silent_leftover(
    std::uint32_t idx, std::chrono::steady_clock::time_point now) {
  slot& s = region_->slot_at(idx);
  const auto beat = s.heartbeat.load(std::memory_order_relaxed);
  const std::uint64_t raw = s.owner.load(std::memory_order_acquire);
  if (unpack(raw).active() || beat == 0) {
    leftover_[idx].reset();
    return false;
  }
  return leftover_[idx].silent(raw, beat, now);
}

void liveness_monitor::reset(std::uint32_t idx) {
  watch_[idx].reset();
}

} // namespace hyperamp::shm

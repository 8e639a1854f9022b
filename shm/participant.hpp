// Participant slots: who is attached to a region, and whether they are alive.
//
// Slot 0 is the service zone, slots 1..max_clients are client processes.
//
// The slot protocol. A slot's owner word packs its state and its epoch into
// one 64-bit word that changes only by compare-and-swap, so "is it still
// mine" and "free it" are one indivisible step:
//
//   claim      free(e)   -> active(e+1)   a new owner (client or service)
//   release    active(e) -> free(e)       the owner of epoch e, orderly exit
//   evict      active(e) -> free(e+1)     the reaper, owner of e found dead
//   take over  active(e) -> active(e+1)   a new service, owner of e dead
//
// Every transition names the epoch it starts from, so an owner that was
// only stalled, declared dead and replaced can never free its successor's
// slot: its release expects active(e) and finds active(e+2).
//
// A slot left in an orderly way (release) or evicted has heartbeat 0. A
// free slot whose heartbeat is not 0 contradicts itself (its word was
// damaged while an owner lives, or an owner left without a trace): it is
// not claimed on trust. A client skips it; a service claims it only after
// watching its heartbeat stay still for dead_after; the service's reaper
// zeroes it once it has stayed still that long. An owner checks its own
// word every tick (check_self): a damaged word is put back, a word that
// names another owner means this zone was replaced and must stop.
//
// "Is this peer dead" is judged only by the observer's own clock: a
// silence_watch sees the pair (identity, heartbeat) stay unchanged for
// dead_after. No shared clock between zones is needed. The same watch
// serves the liveness monitor, the claim of slot 0, the reaper (through the
// monitor) and queue_lock's eviction of a dead holder.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "shm/layout.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

class region;

// -- the owner word ----------------------------------------------------------

/// The decoded owner word of a slot.
struct owner_word {
  slot_state state = slot_state::free;
  std::uint32_t epoch = 0;
  bool active() const noexcept { return state == slot_state::active; }
};

constexpr std::uint64_t pack(owner_word w) noexcept {
  return static_cast<std::uint64_t>(w.state) | (std::uint64_t{w.epoch} << 32);
}

/// Any state other than active reads as free: a garbage word is nobody's.
constexpr owner_word unpack(std::uint64_t v) noexcept {
  return {static_cast<std::uint32_t>(v) ==
                  static_cast<std::uint32_t>(slot_state::active)
              ? slot_state::active
              : slot_state::free,
          static_cast<std::uint32_t>(v >> 32)};
}

/// The owner word (acquire: the previous owner's writes are visible).
owner_word read_owner(const slot& s) noexcept;

/// True if the slot is held by a participant (alive or not).
inline bool is_active(const slot& s) noexcept {
  return read_owner(s).active();
}

// -- the four transitions (each one CAS; false if the word was not `from`) ---

/// free(any) -> active(e+1); on success *epoch = e+1. Does not look at
/// the heartbeat (claimable() does).
bool try_claim(slot& s, std::uint32_t* epoch) noexcept;
/// active(epoch) -> free(epoch), then heartbeat 0.
bool try_release(slot& s, std::uint32_t epoch) noexcept;
/// active(epoch) -> free(epoch+1), then heartbeat 0.
bool try_evict(slot& s, std::uint32_t epoch) noexcept;
/// active(epoch) -> active(epoch+1).
bool try_take_over(slot& s, std::uint32_t epoch) noexcept;

/// Free and left in an orderly way (heartbeat 0): claimable without a watch.
bool claimable(const slot& s) noexcept;

/// What an owner finds when it checks its own slot word.
enum class self_check {
  ours,     ///< active, with our epoch
  repaired, ///< damaged (not active, or garbage): put back to active(ours)
  lost,     ///< another owner's, or evicted: this zone must stop
};

// -- is this peer dead -------------------------------------------------------

/// One observer's watch over one participant: silent (dead) once the pair
/// (identity, beat) has not changed for dead_after on the observer's clock.
/// identity is whatever names the participant's current life (its epoch,
/// or the lock word it holds): a change means a new life, never death.
class silence_watch {
public:
  using clock = std::chrono::steady_clock;

  explicit silence_watch(std::chrono::nanoseconds dead_after) noexcept
      : dead_after_(dead_after) {}

  bool silent(std::uint64_t identity, std::uint64_t beat,
              clock::time_point now) noexcept;
  void reset() noexcept { valid_ = false; }

private:
  std::chrono::nanoseconds dead_after_;
  std::uint64_t identity_ = 0;
  std::uint64_t beat_ = 0;
  clock::time_point since_{};
  bool valid_ = false;
};

// -- participants -------------------------------------------------------------

/// A claimed slot. Beat it periodically; release it on orderly exit.
class participant {
public:
  /// Claims the first free client slot (1..max_clients): ok or no_slot.
  static status claim_client(region& r, std::uint32_t zone_id,
                             participant& out) noexcept;

  /// Claims slot 0. If it is active, watches its heartbeat for `dead_after`:
  /// still beating -> peer_alive; silent -> taken over (predecessor set).
  static status claim_service(region& r, std::uint32_t zone_id,
                              std::chrono::nanoseconds dead_after,
                              participant& out);

  participant() = default;

  void beat() noexcept;
  /// Frees the slot (orderly exit) unless it is no longer ours (evicted,
  /// taken over, re-claimed: the epoch moved on). Idempotent.
  void release() noexcept;
  /// Checks (and if damaged, repairs) our own slot word. Thread-safe.
  self_check check() noexcept;

  std::uint32_t index() const noexcept { return index_; }
  std::uint32_t epoch() const noexcept { return epoch_; }
  bool valid() const noexcept { return region_ != nullptr; }
  /// True if claim_service evicted a dead predecessor.
  bool took_over() const noexcept { return took_over_; }

private:
  void init(region& r, std::uint32_t idx, std::uint32_t zone_id,
            std::uint32_t epoch) noexcept;

  region* region_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint32_t epoch_ = 0;
  bool took_over_ = false;
};

/// Watches the heartbeats of every slot from this side's clock.
class liveness_monitor {
public:
  liveness_monitor(region& r, std::chrono::nanoseconds dead_after);

  /// Samples slot `idx`; true if it is active and its heartbeat has not
  /// moved for dead_after within one epoch (a new epoch is a new owner, who
  /// is alive). If dead and `epoch` is given, *epoch is the dead owner's
  /// epoch (what evicting it must name).
  bool dead(std::uint32_t idx, std::chrono::steady_clock::time_point now,
            std::uint32_t* epoch = nullptr);

  /// Samples slot `idx` if it is free with a heartbeat that is not 0 (see
  /// the slot protocol); true once that heartbeat has stayed still for
  /// dead_after: nobody lives there, and zeroing it makes it claimable.
  bool silent_leftover(std::uint32_t idx,
                       std::chrono::steady_clock::time_point now);

  /// Forgets what was seen of slot `idx` (after it was reaped/re-claimed).
  void reset(std::uint32_t idx);

private:
  region* region_;
  std::vector<silence_watch> watch_;
  std::vector<silence_watch> leftover_;
};

} // namespace hyperamp::shm

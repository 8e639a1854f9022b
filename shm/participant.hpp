// Participant slots: who is attached to a region, and whether they are alive.
//
// Slot 0 is the service zone, slots 1..max_clients are client processes. An
// owner claims a slot by CAS (free -> active), bumps its epoch, and beats its
// heartbeat while alive. Liveness is judged only by the observer's own clock
// ("the heartbeat did not move for dead_after"), so no shared clock between
// zones is needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "shm/layout.hpp"
#include "shm/status.hpp"

namespace hyperamp::shm {

class region;

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
  /// Frees the slot (orderly exit) unless a successor has claimed it since
  /// (its epoch moved on). Idempotent.
  void release() noexcept;

  std::uint32_t index() const noexcept { return index_; }
  std::uint32_t epoch() const noexcept { return epoch_; }
  bool valid() const noexcept { return region_ != nullptr; }
  /// True if claim_service evicted a dead predecessor.
  bool took_over() const noexcept { return took_over_; }

private:
  void init(region& r, std::uint32_t idx, std::uint32_t zone_id) noexcept;

  region* region_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint32_t epoch_ = 0;
  bool took_over_ = false;
};

/// Watches the heartbeats of slots from this side's clock.
class liveness_monitor {
public:
  liveness_monitor(region& r, std::chrono::nanoseconds dead_after);

  /// Samples slot `idx`; true if it is active and its heartbeat has not
  /// moved for dead_after (or its epoch changed: a new owner = alive).
  bool dead(std::uint32_t idx, std::chrono::steady_clock::time_point now);

  /// Forgets what was seen of slot `idx` (after it was reaped/re-claimed).
  void reset(std::uint32_t idx);

private:
  struct seen {
    std::uint64_t beat = 0;
    std::uint32_t epoch = 0;
    bool valid = false;
    std::chrono::steady_clock::time_point since{};
  };
  region* region_;
  std::chrono::nanoseconds dead_after_;
  std::vector<seen> seen_;
};

} // namespace hyperamp::shm

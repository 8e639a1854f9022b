// The ports of hyperamp's own wire layout (docs/wire-layout.md): entries on
// doubly linked lists under queue_lock, a completed list and a payload
// partition per client slot, sequence numbers echoed in completions.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "shm/bells.hpp"
#include "shm/participant.hpp"
#include "shm/payload.hpp"
#include "shm/port.hpp"
#include "shm/ports.hpp"
#include "shm/queue.hpp"
#include "shm/region.hpp"
#include "shm/zone_lock.hpp"

namespace hyperamp::shm {

/// What both locked ports own: the mapping, the slot, the lock, the queue,
/// the bells.
class locked_base {
protected:
  locked_base(std::shared_ptr<region> r, participant self,
              const zone_options& o, zone_bells bells);

  /// Rebuilds the lists after a batch operation reported `corrupt`.
  void repair_after(status st) noexcept;
  /// Runs op(first, count) over [0, n); if it stops at damaged lists
  /// (`corrupt`, which it finds before writing anything), repairs them and
  /// runs it once more over the rest. Returns the combined result.
  template <class Op>
  batch_result with_one_repair(std::size_t n, Op op) noexcept {
    batch_result r = op(std::size_t{0}, n);
    if (r.st == status::corrupt) {
      repair_after(r.st);
      const batch_result more = op(r.count, n - r.count);
      r.count += more.count;
      r.st = more.st;
    }
    return r;
  }
  self_check check_own_slot() noexcept;

  std::shared_ptr<region> region_;
  participant self_;
  zone_lock lock_;
  queue<zone_lock> queue_;
  zone_bells bells_;
  port_counters counters_;
  std::vector<std::uint32_t> idx_; ///< scratch: entry indices of a batch
  bool left_ = false;
};

class locked_client_port final : public client_port, private locked_base {
public:
  /// `self` is a claimed client slot of `r`.
  locked_client_port(std::shared_ptr<region> r, participant self,
                     const zone_options& o, zone_bells bells);

  doorbell& wait_bell() noexcept override { return *bells_.own; }
  void beat() noexcept override { self_.beat(); }
  self_check check_self() noexcept override { return check_own_slot(); }
  port_counters counters() const override;
  std::uint64_t incidents() const noexcept override {
    return counters_.incidents();
  }
  void leave() noexcept override;
  std::uint32_t tickets() const noexcept override;

  std::uint32_t max_payload() const noexcept override;
  batch_result acquire(const std::uint32_t* sizes, std::size_t n,
                       lease* out) noexcept override;
  batch_result submit(const request_desc* r, std::size_t n) noexcept override;
  batch_result take_completed(completion* out, std::size_t n) noexcept override;
  void release(const std::uint32_t* tickets, std::size_t n) noexcept override;
  bool peer_up(clock::time_point now) noexcept override;
  bool lock_held() const noexcept override;
  bool lost(std::uint32_t ticket) noexcept override;
  std::size_t sweep() noexcept override;

  std::uint16_t slot() const noexcept;
  std::uint32_t epoch() const noexcept { return self_.epoch(); }
  /// queue_lock as this zone saw it (zone_options::measure_lock).
  const lock_stats& lock_measured() const noexcept { return lock_.stats(); }

private:
  payload_allocator payload_;
  liveness_monitor service_live_;
  std::vector<payload_block> blocks_;  ///< by ticket: the request's payload
  std::vector<payload_block> staging_; ///< scratch of acquire
};

class locked_service_port final : public service_port, private locked_base {
public:
  /// `self` holds slot 0 of `r`.
  locked_service_port(std::shared_ptr<region> r, participant self,
                      const zone_options& o, zone_bells bells);

  doorbell& wait_bell() noexcept override { return *bells_.own; }
  void beat() noexcept override { self_.beat(); }
  self_check check_self() noexcept override { return check_own_slot(); }
  port_counters counters() const override;
  std::uint64_t incidents() const noexcept override {
    return counters_.incidents();
  }
  void leave() noexcept override;
  std::uint32_t tickets() const noexcept override;

  batch_result take_submitted(incoming* out, std::size_t n) noexcept override;
  batch_result complete(const outcome* o, std::size_t n) noexcept override;
  std::size_t abort_predecessor() noexcept override;
  std::size_t reap(clock::time_point now) noexcept override;

  /// queue_lock as this zone saw it (zone_options::measure_lock).
  const lock_stats& lock_measured() const noexcept { return lock_.stats(); }

private:
  /// What the service read of a taken request: who to answer.
  struct taken {
    std::uint64_t seq = 0;
    std::uint16_t slot = 0;
    bool valid = false;
  };

  /// Whether a request of client slot `slot` is taken and not completed.
  bool holds_work_of(std::uint16_t slot) const noexcept;
  /// Answers a request that failed validation (lists it for publishing).
  void reject(std::uint32_t idx, const char* why) noexcept;
  /// Publishes done_ (one lock) and rings each client once.
  void publish() noexcept;
  void mark_ring(std::uint16_t slot) noexcept;

  /// reap()'s sweep over the tags: orphaned work and entries.
  std::size_t sweep() noexcept;

  liveness_monitor clients_;
  std::vector<taken> taken_;                     ///< by ticket
  std::vector<bool> departed_;                   ///< sweep's scratch, by slot
  std::vector<std::uint32_t> orphan_in_service_; ///< sweep's scratch
  std::vector<std::uint32_t> done_;   ///< entries whose completion is written
  std::vector<std::uint16_t> ring_;   ///< client slots to ring
  std::vector<std::uint32_t> orphan_; ///< entries nobody can be answered for
};

} // namespace hyperamp::shm

// The ports of the partitioned layout (shm/partitioned_layout.hpp,
// docs/wire-layout.md): every client slot owns a request ring and a
// response ring, each with one producer and one consumer, so neither side
// ever takes a lock. The service finds work through the pending bits of
// the ring summary, so an idle slot costs it nothing.
//
// Each side keeps its own copy of the indices it writes and only ever
// stores them; it reads the peer's indices and cells once, checks them, and
// only then uses them. A client's tickets are its own (0..entries-1); the
// service's tickets name its records (0..entries-1), which a service that
// takes over answers with `aborted`.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "shm/bells.hpp"
#include "shm/participant.hpp"
#include "shm/partitioned_layout.hpp"
#include "shm/payload.hpp"
#include "shm/port.hpp"
#include "shm/ports.hpp"
#include "shm/region.hpp"

namespace hyperamp::shm {

/// What both partitioned ports own: the mapping, the slot, the bells.
class partitioned_base {
protected:
  partitioned_base(std::shared_ptr<region> r, participant self,
                   zone_bells bells);

  self_check check_own_slot() noexcept;

  std::shared_ptr<region> region_;
  participant self_;
  zone_bells bells_;
  port_counters counters_;
  std::uint32_t cap_; ///< ring capacity = entries = tickets
  bool left_ = false;
};

class partitioned_client_port final : public client_port,
                                      private partitioned_base {
public:
  /// `self` is a claimed client slot of `r` (a partitioned region).
  partitioned_client_port(std::shared_ptr<region> r, participant self,
                          const zone_options& o, zone_bells bells);

  doorbell& wait_bell() noexcept override { return *bells_.own; }
  void beat() noexcept override { self_.beat(); }
  self_check check_self() noexcept override { return check_own_slot(); }
  port_counters counters() const override { return counters_; }
  std::uint64_t incidents() const noexcept override {
    return counters_.incidents();
  }
  void leave() noexcept override;
  std::uint32_t tickets() const noexcept override { return cap_; }

  std::uint32_t max_payload() const noexcept override;
  batch_result acquire(const std::uint32_t* sizes, std::size_t n,
                       lease* out) noexcept override;
  batch_result submit(const request_desc* r, std::size_t n) noexcept override;
  batch_result take_completed(completion* out, std::size_t n) noexcept override;
  void release(const std::uint32_t* tickets, std::size_t n) noexcept override;
  bool peer_up(clock::time_point now) noexcept override;
  bool lost(std::uint32_t ticket) noexcept override;
  std::size_t sweep() noexcept override;

  std::uint16_t slot() const noexcept { return slot_; }
  std::uint32_t epoch() const noexcept { return epoch_; }

private:
  enum class state : std::uint8_t { free, acquired, submitted, completed };

  /// A ticket: the request's payload, sequence number and ring position.
  struct flight {
    payload_block block;
    std::uint64_t seq = 0;
    std::uint64_t pos = 0;
    state st = state::free;
  };

  /// Requests the ring can still take (acquired ones count as taken), at
  /// least `want` if it can; false if the service's head makes no sense.
  bool ring_room(std::uint64_t want, std::uint64_t* room) noexcept;
  /// Reads one answer; true if it answers a request in flight.
  bool read_answer(std::uint64_t pos, completion& out) noexcept;
  bool held_by_service(std::uint32_t ticket) noexcept;
  bool answer_waiting(std::uint32_t ticket) noexcept;
  void give_back(std::uint32_t ticket) noexcept;

  ring_control& ring_;
  std::uint16_t slot_;
  std::uint32_t epoch_;
  std::uint64_t req_tail_;  ///< our copy of ring_.req_tail
  std::uint64_t resp_head_; ///< our copy of ring_.resp_head
  std::uint64_t head_seen_; ///< ring_.req_head as last read
  std::uint64_t unsubmitted_ = 0;
  payload_allocator payload_;
  liveness_monitor service_live_;
  std::vector<flight> flights_;     ///< by ticket
  std::vector<std::uint32_t> free_; ///< free tickets
};

class partitioned_service_port final : public service_port,
                                       private partitioned_base {
public:
  /// `self` holds slot 0 of `r` (a partitioned region).
  partitioned_service_port(std::shared_ptr<region> r, participant self,
                           const zone_options& o, zone_bells bells);

  doorbell& wait_bell() noexcept override { return *bells_.own; }
  void beat() noexcept override { self_.beat(); }
  self_check check_self() noexcept override { return check_own_slot(); }
  port_counters counters() const override { return counters_; }
  std::uint64_t incidents() const noexcept override {
    return counters_.incidents();
  }
  void leave() noexcept override;
  std::uint32_t tickets() const noexcept override { return cap_; }

  batch_result take_submitted(incoming* out, std::size_t n) noexcept override;
  batch_result complete(const outcome* o, std::size_t n) noexcept override;
  std::size_t abort_predecessor() noexcept override;
  std::size_t reap(clock::time_point now) noexcept override;

private:
  enum class state : std::uint8_t { free, held, answered, adopted };

  /// A service ticket: the request it names, and its answer once known.
  struct held {
    std::uint64_t seq = 0;
    std::uint64_t pos = 0;
    std::uint32_t epoch = 0;
    std::uint32_t ticket = 0; ///< the client's
    std::uint16_t slot = 0;
    state st = state::free;
    wire_status result = wire_status::pending;
    std::uint32_t length = 0;
  };

  /// The service's side of one client slot.
  struct lane {
    std::uint64_t req_head = 0;     ///< our copy of req_head
    std::uint64_t resp_tail = 0;    ///< our copy of resp_tail
    std::uint64_t resp_room = 0;    ///< answers that fit (this publish)
    std::uint64_t head_seen = 0;    ///< resp_head as last read
    std::uint32_t held = 0;         ///< service tickets of this slot
    bool room_known = false;        ///< resp_room read in this publish
    bool published = false;         ///< resp_tail to store and bell to ring
    std::uint32_t doomed_epoch = 0; ///< the dead client's epoch
    bool doomed = false; ///< its client (of doomed_epoch) is dead: serve none
  };

  void start_lanes() noexcept;
  void gather_pending() noexcept;
  /// Takes from slot s into out[0..n); true if its ring is drained.
  bool take_from(std::uint16_t s, incoming* out, std::size_t n,
                 std::size_t* got) noexcept;
  /// A taken request: checks it, records it; ok (out is set) or not.
  bool accept(std::uint16_t s, std::uint32_t epoch, std::uint64_t pos,
              incoming& out) noexcept;
  void answer(std::uint32_t t, wire_status st, std::uint32_t length) noexcept;
  /// Answers in waiting_ go to their rings (as room allows), resp_tail is
  /// published and each client rung once, then their tickets are freed.
  void publish() noexcept;
  /// Room in slot s's response ring (read at most once per publish; the
  /// shared head only when the last one seen leaves less than `want`).
  bool room_for(lane& l, std::uint16_t s, std::uint64_t want) noexcept;
  void free_ticket(std::uint32_t t) noexcept;
  void drop_answers_of(std::uint16_t s) noexcept;
  /// Empties the rings of dead client slot s and frees the slot.
  bool evict(std::uint16_t s, std::uint32_t epoch) noexcept;
  void set_pending(std::uint16_t s) noexcept {
    pending_[(s - 1u) / 64] |= pending_mask(s);
  }

  liveness_monitor clients_;
  std::vector<lane> lanes_;            ///< by client slot (0 unused)
  std::vector<held> held_;             ///< by service ticket
  std::vector<std::uint32_t> free_;    ///< free service tickets
  std::vector<std::uint32_t> waiting_; ///< answered, not yet published
  std::vector<std::uint32_t> done_;    ///< published: to free
  std::vector<std::uint16_t> touched_; ///< lanes with room_known or published
  std::uint64_t pending_[4] = {};      ///< slots to scan (local)
  std::uint32_t cursor_ = 1;           ///< the slot to scan first
};

} // namespace hyperamp::shm

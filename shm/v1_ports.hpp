// The queue ports of the hvisor-tool-v1 layout (shm/v1_layout.hpp): the
// same client_port / service_port a bridge uses for hyperamp's own layout,
// speaking hvisor-tool's AmpMsgQueue so that either side may be an
// unmodified hvisor-tool process. docs/compatibility.md describes the
// protocol and what the layout cannot give.
//
// The client (one process per queue at a time, as in hvisor-tool):
// - initialises the queue when it opens it, like every hvisor-tool client;
// - takes entries from the shared free list (empty_h), writes the payload
//   with its trailing NUL, and hands entries to the service one at a time:
//   when proc_ing_h is empty and working_mark is not BUSY, it writes BUSY,
//   publishes the entry as proc_ing_h and rings;
// - rings again when the service has not taken the entry after
//   layout_options::rering_ms (a ring sent before the service listened is
//   lost), or when the service set IDLE and left the entry on the list;
// - finds completions by polling deal_state of its outstanding entries
//   (wait_bell() is a probe_doorbell: there is no completion interrupt),
//   keeps each request's sequence number on its own side and echoes it;
// - returns an entry to the free list only after it has seen IDLE since
//   handing it over: hvisor-tool's service still unlinks the entry after
//   marking it done.
//
// The service (its pool of workers behind the bridge):
// - writes the readiness word 0xEEEEEEEE once it listens, clears it on leave;
// - takes the whole proc_ing_h list per take (bounded, cycle-checked),
//   unlinks it, writes IDLE, and only then runs the requests; completes
//   each with one 16-bit store of deal_state and result, after the payload
//   and the length, and after checking the entry still holds the request
//   it took (a client may have re-initialised the queue meanwhile).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shm/payload.hpp"
#include "shm/port.hpp"
#include "shm/ports.hpp"
#include "shm/v1_bells.hpp"
#include "shm/v1_region.hpp"

namespace hyperamp::shm::v1 {

/// The bell options of a zone's settings; "" or why they do not fit v1.
std::string bell_options_of(const bell_settings& b, bell_options& out);

/// Writes a fresh queue into the queue window, as every hvisor-tool client
/// does when it starts: buf_size entries (as many as the window holds),
/// entry i with cur_idx i and nxt_idx i + 1, empty_h 0, wait_h and
/// proc_ing_h buf_size, messages zeroed, then working_mark IDLE.
void init_queue(window_map& m) noexcept;

class client_port final : public shm::client_port, private probe {
public:
  client_port(std::unique_ptr<window_map> m, std::unique_ptr<ringer> r,
              const zone_options& o);
  ~client_port() override;

  doorbell& wait_bell() noexcept override { return bell_; }
  void beat() noexcept override {}
  port_counters counters() const override { return counters_; }
  std::uint64_t incidents() const noexcept override {
    return counters_.incidents();
  }
  void leave() noexcept override {}
  std::uint32_t tickets() const noexcept override { return end_; }
  /// The layout has no slots: a client's place is its process.
  self_check check_self() noexcept override { return self_check::ours; }

  std::uint32_t max_payload() const noexcept override;
  batch_result acquire(const std::uint32_t* sizes, std::size_t n,
                       lease* out) noexcept override;
  batch_result submit(const request_desc* r, std::size_t n) noexcept override;
  batch_result take_completed(completion* out, std::size_t n) noexcept override;
  void release(const std::uint32_t* tickets, std::size_t n) noexcept override;
  bool peer_up(clock::time_point now) noexcept override;
  /// True only for a request still waiting here to be handed over (it
  /// never reached the service, so no completion can come): withdrawn, its
  /// room given back. A handed-over request is never given up: the
  /// service may still write its result.
  bool lost(std::uint32_t idx) noexcept override;
  /// Nothing: the free list is this process's alone, nothing in the queue
  /// can name this client without the client knowing.
  std::size_t sweep() noexcept override { return 0; }

  /// Rings made again because the service had not taken an entry.
  std::uint64_t rerings() const noexcept { return rerings_; }
  const ringer& bell_out() const noexcept { return *ringer_; }

private:
  enum class state : std::uint8_t {
    free,     ///< on the shared free list
    leased,   ///< acquired, not submitted
    waiting,  ///< submitted, not yet handed over
    handed,   ///< handed over, not yet seen done
    done,     ///< seen done (or failed here), not yet released
    settling, ///< released, waiting for IDLE before going back to free
  };
  struct ticket {
    state st = state::free;
    bool local_fail = false; ///< failed before it was handed over
    bool none_seen = false;  ///< deal_state seen without a result
    std::uint16_t service_id = 0;
    std::uint32_t offset = 0; ///< from the buffer window
    std::uint32_t length = 0; ///< on the wire: request bytes + 1
    std::uint64_t seq = 0;
    std::uint64_t gen = 0; ///< busy_gen_ of its hand-over (or last re-ring)
    clock::time_point none_since{};
    payload_block block;
  };

  bool ready() noexcept override; // the probe, on the waiter thread
  void progress(clock::time_point now) noexcept;
  void hand_over(std::uint32_t idx, clock::time_point now) noexcept;
  void ring(std::uint32_t idx, clock::time_point now) noexcept;
  void settle() noexcept;
  std::uint32_t pop_free() noexcept;
  void push_free(std::uint32_t idx) noexcept;
  void rebuild_free() noexcept;
  void watch(std::uint32_t idx, bool on) noexcept;
  void publish_probe_state(clock::time_point now) noexcept;

  std::unique_ptr<window_map> map_;
  std::unique_ptr<ringer> ringer_;
  std::uint32_t end_; ///< buf_size: entries, and end of list
  std::chrono::nanoseconds rering_;
  payload_allocator payload_;
  probe_doorbell bell_;
  port_counters counters_;
  std::vector<ticket> t_;
  std::vector<std::uint32_t> waiting_; ///< ring buffer of end_ tickets
  std::size_t waiting_head_ = 0, waiting_count_ = 0;
  std::vector<std::uint32_t> outstanding_; ///< handed, not seen done
  std::vector<std::uint32_t> settling_;
  std::vector<std::uint32_t> local_done_; ///< failed before hand-over
  std::uint32_t free_count_ = 0;
  std::uint32_t on_list_;      ///< our entry at proc_ing_h, or end_
  std::uint64_t busy_gen_ = 0; ///< BUSY writes so far
  std::uint64_t idle_gen_ = 0; ///< busy_gen_ when IDLE was last seen
  clock::time_point last_ring_{};
  clock::time_point busy_empty_since_{};
  bool busy_empty_ = false;
  std::uint64_t rerings_ = 0;
  // -- read by the probe (waiter thread) --
  std::unique_ptr<std::atomic<std::uint64_t>[]> watch_;
  std::size_t watch_words_;
  std::atomic<std::uint32_t> probe_waiting_{0};
  std::atomic<std::uint32_t> probe_settling_{0};
  std::atomic<std::uint32_t> probe_on_list_{0};
  std::atomic<std::int64_t> probe_due_{0}; ///< steady ns, 0 = none
};

class service_port final : public shm::service_port {
public:
  service_port(std::unique_ptr<window_map> m,
               std::unique_ptr<listen_bell> bell);
  ~service_port() override;

  doorbell& wait_bell() noexcept override { return *bell_; }
  void beat() noexcept override {}
  port_counters counters() const override { return counters_; }
  std::uint64_t incidents() const noexcept override {
    return counters_.incidents();
  }
  /// Clears the readiness word (if it is still ours).
  void leave() noexcept override;
  std::uint32_t tickets() const noexcept override;
  /// The readiness word: overwritten (not 0xEEEEEEEE) while this service
  /// runs, it is written again (repaired).
  self_check check_self() noexcept override;

  batch_result take_submitted(incoming* out, std::size_t n) noexcept override;
  batch_result complete(const outcome* o, std::size_t n) noexcept override;
  /// Nothing: the layout cannot tell what a predecessor held.
  std::size_t abort_predecessor() noexcept override { return 0; }
  /// The tick: a BUSY mark over an empty list (the client wrote BUSY after
  /// we had taken its list) goes back to IDLE. Returns 0.
  std::size_t reap(clock::time_point now) noexcept override;

private:
  /// What the service took of an entry, to check before completing it.
  struct taken {
    bool valid = false;
    /// Handed over again while we held it: its first result is dropped
    /// and it is taken anew (requeue_) once the bridge completes it.
    bool rehanded = false;
    std::uint16_t service_id = 0;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  /// buf_size if it fits the queue window, else 0 (counted once per value).
  std::uint32_t entries() noexcept;
  void answer(std::uint32_t idx, result r) noexcept;
  /// Answers FAIL for failed_ (once they are off the list), clears it.
  void answer_failed() noexcept;
  /// Reads entry `idx`'s descriptor once; true and `in` if it is a request
  /// the service can run, else false (listed in failed_ or skipped, the
  /// reason counted).
  bool accept(std::uint32_t idx, incoming& in) noexcept;
  void fix_mark(std::uint32_t end) noexcept;

  std::unique_ptr<window_map> map_;
  std::unique_ptr<listen_bell> bell_;
  port_counters counters_;
  std::vector<taken> taken_;           ///< by entry
  std::vector<std::uint32_t> stamp_;   ///< walk_ of the walk that met it
  std::vector<std::uint32_t> failed_;  ///< scratch: entries answered FAIL
  std::vector<std::uint32_t> requeue_; ///< re-handed entries to take anew
  std::uint32_t walk_ = 0;
  std::uint32_t bad_size_ = 0; ///< last unusable buf_size counted
};

port_result<shm::client_port> open_client(const zone_options& o);
port_result<shm::service_port> open_service(const zone_options& o);

/// Waits until the readiness word says a service is up (0xEEEEEEEE, or
/// 0xBBBBBBBB as hvisor-tool's client also accepts), or the timeout
/// passes; "" or why not.
std::string wait_for_service(const region_options& o,
                             std::chrono::milliseconds timeout);

} // namespace hyperamp::shm::v1

// The client zone's bridge: the only code in the zone that touches the
// queue. Client actors send it (call_atom, service_id, bytes) requests and
// get bytes back, or a hyperamp error (actors/errors.hpp); or a batch,
// (call_atom, std::vector<call_spec>), answered by one call_replies in the
// same order once every request of it is answered (one message each way
// for many requests: the pipelined path).
//
// Protocol (each step one lock acquisition for the whole batch):
//   call  -> staged; flushed at once if the mailbox is empty, otherwise a
//            flush message to self, so every call already in the mailbox
//            joins the batch
//   flush -> payload space allocated (process-local), entries acquired,
//            payloads and descriptors written, batch submitted, one ring
//   wake  -> completed entries taken, sequence numbers checked, requesters
//            answered, payload freed, entries released, pending started
//   tick  -> deadlines (timeout), service liveness (peer_down / back up)
// Backpressure: without entries or payload space, requests wait in a
// bounded pending list; beyond it they fail at once with `overloaded`.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/endpoint.hpp"
#include "actors/fwd.hpp"
#include "actors/interrupt_waiter.hpp"
#include "shm/participant.hpp"
#include "shm/payload.hpp"
#include "shm/queue.hpp"
#include "shm/zone_lock.hpp"

namespace hyperamp::actors {

struct client_settings {
  std::uint32_t zone_id = 0;
  std::uint32_t pending_limit = 1024;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds heartbeat{20};
  std::chrono::milliseconds peer_dead{1000};
  bell_settings bell;
  /// Start the interrupt waiter thread (tests drive wake/tick by hand).
  bool start_waiter = true;
  shm::lock_options lock;
};

class client_bridge : public caf::event_based_actor {
public:
  /// `self` is this zone's claimed client slot in `r`.
  client_bridge(caf::actor_config& cfg, std::shared_ptr<shm::region> r,
                shm::participant self, client_settings s);
  ~client_bridge() override;

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "client_bridge"; }

  /// For tests: the bridge's counters.
  const bridge_stats& stats() const noexcept { return stats_; }

private:
  using time_point = caf::actor_clock::time_point;

  /// The answers of a batch call, delivered together when the last is in.
  struct batch_state {
    caf::response_promise rp;
    call_replies replies;
    std::size_t left = 0;
  };

  /// Where a request's answer goes: its own promise (a single call) or its
  /// place in a batch.
  struct reply_to {
    caf::response_promise rp;
    std::shared_ptr<batch_state> batch;
    std::size_t index = 0;
    void succeed(bytes data);
    void fail(caf::error err);
  };

  struct request {
    std::uint32_t service_id = 0;
    bytes data;
    reply_to to;
    time_point deadline{};
  };

  struct flight {
    std::uint64_t seq = 0;
    reply_to to;
    shm::payload_block block;
    time_point deadline{};
    bool active = false;   ///< the entry is ours and in the queue
    bool answered = false; ///< the requester already got an error
  };

  void on_call(std::uint32_t service_id, bytes& data);
  void on_batch(std::vector<call_spec>& calls);
  void admit(request req);
  void flush();
  std::size_t start(std::vector<request>& batch);
  void drain();
  void finish(std::uint32_t idx);
  void on_tick();
  void check_peer(time_point now);
  void fail_all(amp_errc code);
  void start_pending();
  void schedule_flush();
  void answer(flight& f, caf::error err);

  std::shared_ptr<shm::region> region_;
  shm::participant self_;
  client_settings settings_;
  shm::zone_lock lock_;
  shm::queue<shm::zone_lock> queue_;
  shm::payload_allocator payload_;
  std::unique_ptr<shm::doorbell> service_bell_;
  std::shared_ptr<waiter_flags> flags_;
  std::unique_ptr<interrupt_waiter> waiter_;
  shm::liveness_monitor service_live_;
  std::vector<flight> flights_; ///< indexed by entry
  std::vector<request> staged_;
  std::deque<request> pending_;
  std::vector<std::uint32_t> idx_buf_;
  std::vector<std::uint32_t> release_buf_;
  // Scratch buffers of flush/start, kept to avoid allocating per batch.
  std::vector<std::uint32_t> submit_buf_;
  std::vector<shm::payload_block> blocks_buf_;
  std::vector<request> pending_buf_;
  std::uint64_t next_seq_;
  bool peer_up_ = false;
  bool flush_scheduled_ = false;
  bridge_stats stats_;
};

} // namespace hyperamp::actors

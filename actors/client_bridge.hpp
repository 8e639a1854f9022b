// The client zone's bridge: moves requests between the zone's client actors
// and the shared queue (its client port). Client actors send it
// (call_atom, service_id, bytes) and get bytes back, or a hyperamp error
// (vocab/errors.hpp); or a batch, (call_atom, std::vector<call_spec>),
// answered by one call_replies in the same order once every request of it
// is answered (one message each way for many requests).
//
// Protocol (each step one port call for the whole batch):
//   call  -> staged; flushed at once if the mailbox is empty, otherwise a
//            flush message to self, so every call already in the mailbox
//            joins the batch
//   flush -> room acquired (payload and entries), payloads copied in,
//            the batch submitted (the port rings the service once)
//   wake  -> completions taken, sequence numbers checked, requesters
//            answered, room released, pending requests started
//   tick  -> deadlines (timeout), service liveness (peer_down / back up),
//            pending requests retried (room may have come free elsewhere)
// Backpressure: without room, requests wait in a bounded pending list;
// beyond it they fail at once with `overloaded`.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/bridge_core.hpp"
#include "actors/fwd.hpp"
#include "shm/bells.hpp"
#include "shm/port.hpp"

namespace hyperamp::actors {

struct client_settings {
  std::uint32_t zone_id = 0;
  std::uint32_t pending_limit = 1024;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds heartbeat{20};
  std::chrono::milliseconds peer_dead{1000};
  /// How long spawn_client_zone waits for a live service (0: not at all).
  std::chrono::milliseconds wait_for_service{0};
  shm::bell_settings bell;
  /// Start the interrupt waiter thread (tests drive wake/tick by hand).
  bool start_waiter = true;
  /// Which thread runs the bridge (actors/bridge_thread.hpp); with
  /// start_waiter only.
  bridge_shell shell = bridge_shell::automatic;
};

class client_bridge : public bridge_core<shm::client_port> {
public:
  client_bridge(caf::actor_config& cfg, std::unique_ptr<shm::client_port> port,
                client_settings s);

  caf::behavior make_behavior() override;
  const char* name() const override { return "client_bridge"; }

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

  /// A request in the queue, by ticket.
  struct flight {
    std::uint64_t seq = 0;
    reply_to to;
    time_point deadline{};
    bool active = false;   ///< the ticket is ours and in the queue
    bool answered = false; ///< the requester already got an error
  };

  void on_wake() override;
  void on_tick() override;
  void on_flush() override;
  void on_stop() override;

  void on_call(std::uint32_t service_id, bytes& data);
  void on_batch(std::vector<call_spec>& calls);
  void admit(request req);
  std::size_t start(std::vector<request>& batch);
  void finish(const shm::completion& c);
  /// Takes every published completion and gives the entries back.
  void collect();
  void check_peer(time_point now);
  void fail_all(amp_errc code);
  void start_pending();
  void answer(flight& f, caf::error err);

  client_settings settings_;
  std::vector<flight> flights_; ///< by ticket
  std::vector<request> staged_;
  std::deque<request> pending_;
  // Scratch buffers, kept to avoid allocating per batch.
  std::vector<shm::completion> done_buf_;
  std::vector<std::uint32_t> release_buf_;
  std::vector<std::uint32_t> sizes_buf_;
  std::vector<shm::lease> lease_buf_;
  std::vector<shm::request_desc> desc_buf_;
  std::vector<request> pending_buf_;
  std::uint64_t next_seq_;
  bool peer_up_ = false;
};

} // namespace hyperamp::actors

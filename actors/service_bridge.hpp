// The service zone's bridge: the only code in the zone that touches the
// queue. On every wake-up it drains submitted entries in batches (at most
// `batch` per lock acquisition, and never more than the workers have room
// for), validates each descriptor, hands it to the least-loaded worker of
// its service, collects results, publishes completions in batches and rings
// each client slot once per batch.
//
// Workers are service actors (services/registry). A worker never holds more
// than `worker_capacity` jobs. The bridge takes at most as many entries as
// all workers together have room for (it cannot know an entry's service
// before taking it); jobs for a service whose workers are full wait in that
// service's backlog in the bridge, everything beyond stays in the shared
// queue (backpressure reaches the clients through the entry count).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/endpoint.hpp"
#include "actors/fwd.hpp"
#include "actors/interrupt_waiter.hpp"
#include "shm/participant.hpp"
#include "shm/queue.hpp"
#include "shm/zone_lock.hpp"

#include "services/registry.hpp"

namespace hyperamp::actors {

struct service_settings {
  std::uint32_t zone_id = 1;
  std::uint32_t workers = 4;         ///< actors per registered service
  std::uint32_t worker_capacity = 8; ///< jobs a worker may hold
  std::uint32_t batch = 32;          ///< entries taken per lock acquisition
  /// Run services that offer a plain function inside the bridge instead of
  /// messaging a worker (faster for trivial services such as echo).
  bool inline_trivial = false;
  /// ... for payloads of at most this many bytes (a long transform would
  /// hold up the bridge and every other request behind it).
  std::uint32_t inline_max_bytes = 4096;
  std::chrono::milliseconds heartbeat{20};
  std::chrono::milliseconds peer_dead{1000}; ///< client death
  bell_settings bell;
  bool start_waiter = true;
  shm::lock_options lock;
};

class service_bridge : public caf::event_based_actor {
public:
  service_bridge(caf::actor_config& cfg, std::shared_ptr<shm::region> r,
                 shm::participant self, service_settings s,
                 std::vector<service_entry> table);
  ~service_bridge() override;

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "service_bridge"; }

private:
  struct worker {
    service_actor hdl;
    std::uint32_t in_flight = 0;
    std::vector<job> jobs; ///< sent to it and not answered yet
  };
  struct pool {
    service_entry entry;
    std::vector<worker> workers;
    std::deque<job> backlog; ///< taken, waiting for worker room
  };

  void spawn_workers(pool& p);
  void drain();
  void take_all();
  void publish();
  void accept(std::uint32_t idx);
  void reject(std::uint32_t idx, shm::wire_status st);
  void dispatch(const job& j);
  void send_to(pool& p, std::size_t w, const job& j);
  void on_result(pool& p, std::size_t w, const job& j, job_result r);
  void complete(const job& j, shm::wire_status st, std::uint32_t len);
  void flush();
  void on_tick();
  void abort_predecessor();
  void on_worker_down(const caf::down_msg& dm);
  std::size_t capacity() const;
  void ring(std::uint16_t slot);

  std::shared_ptr<shm::region> region_;
  shm::participant self_;
  service_settings settings_;
  shm::zone_lock lock_;
  shm::queue<shm::zone_lock> queue_;
  std::shared_ptr<waiter_flags> flags_;
  std::unique_ptr<interrupt_waiter> waiter_;
  shm::liveness_monitor clients_;
  std::unordered_map<std::uint32_t, pool> pools_;
  std::vector<std::unique_ptr<shm::doorbell>> client_bells_;
  std::vector<std::uint32_t> take_buf_;
  std::vector<std::uint32_t> done_;
  std::vector<std::uint16_t> ring_slots_;
  std::vector<std::uint32_t> aborted_;
  std::size_t held_ = 0; ///< jobs taken and not yet completed
  bool flush_scheduled_ = false;
  bool limited_ = false;  ///< the last drain stopped for lack of room
  bool stopping_ = false; ///< on_exit: no new entries are taken
  bool draining_ = false; ///< inside drain(): completions publish at its end
  bridge_stats stats_;
};

} // namespace hyperamp::actors

// The service zone's bridge: moves requests between the shared queue (its
// service port) and the services' pools. On every wake-up it takes
// submitted requests in batches of at most `batch` while some pool has
// room (actors/credit.hpp), hands each to its service's pool (one message
// per pool per drain), runs trivial services inline, and publishes
// completions in batches (the port rings each client once per batch).
// Load balancing and respawn live in the pools (actors/service_pool.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/bridge_core.hpp"
#include "actors/credit.hpp"
#include "actors/dispatch.hpp"
#include "actors/fwd.hpp"
#include "actors/service_pool.hpp"
#include "shm/bells.hpp"
#include "shm/port.hpp"

namespace hyperamp::actors {

struct service_settings {
  std::uint32_t zone_id = 1;
  std::uint32_t workers = 4;         ///< actors per registered service
  std::uint32_t worker_capacity = 8; ///< jobs a worker may hold
  dispatch_kind dispatch = dispatch_kind::least_loaded;
  std::uint32_t batch = 32; ///< requests taken per lock acquisition
  /// Run services that offer a plain function inside the bridge instead of
  /// messaging a worker (faster for trivial services such as echo) ...
  bool inline_trivial = false;
  /// ... for payloads of at most this many bytes (a long transform would
  /// hold up the bridge and every other request behind it).
  std::uint32_t inline_max_bytes = 4096;
  std::chrono::milliseconds heartbeat{20};
  std::chrono::milliseconds peer_dead{1000}; ///< client death
  shm::bell_settings bell;
  bool start_waiter = true;
  /// Which thread runs the bridge (actors/bridge_thread.hpp); with
  /// start_waiter only.
  bridge_shell shell = bridge_shell::automatic;
};

class service_bridge : public bridge_core<shm::service_port> {
public:
  service_bridge(caf::actor_config& cfg,
                 std::unique_ptr<shm::service_port> port, service_settings s,
                 std::vector<service_entry> table);

  caf::behavior make_behavior() override;
  const char* name() const override { return "service_bridge"; }

private:
  struct pool_ref {
    service_entry entry;
    caf::actor hdl;
    job_batch batch; ///< jobs of the current drain, sent at its end
  };

  void on_wake() override { drain(); }
  void on_tick() override;
  void on_flush() override { publish(); }
  void on_stop() override;

  /// Rounds of one drain before the bridge reads its mailbox (a wake it
  /// sent itself brings it back).
  static constexpr int k_rounds_per_wake = 4;

  void drain();
  void accept(const shm::incoming& in);
  void run_inline(pool_ref& p, const shm::incoming& in);
  void complete(std::uint32_t ticket, shm::wire_status st, std::uint32_t len);
  void publish();
  void on_done(std::uint32_t service, const job_done_batch& finished);
  void on_pool_down(const caf::down_msg& dm);
  pool_ref* find(std::uint32_t service);
  void spawn_pool(pool_ref& p);
  pool_settings pool_of() const;

  service_settings settings_;
  std::vector<pool_ref> pools_;
  credit_ledger credit_;
  std::vector<shm::incoming> in_buf_;
  std::vector<shm::outcome> outcomes_;
  /// By ticket: the service whose pool holds the request, + 1 (0: none).
  std::vector<std::uint32_t> held_by_;
  bool draining_ = false;
  bool starved_ = false; ///< the last drain stopped: no pool had room
  bool stopping_ = false;
};

} // namespace hyperamp::actors

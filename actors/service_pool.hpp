// A service's pool: one actor per registered service id that owns the
// service's workers (instances of its actor class), their backlog, the
// dispatch policy (actors/dispatch.hpp) and the respawn of failed workers.
//
// Protocol with its bridge:
//   pool -> bridge  (credit_atom, service_id, n)      once, at start: room
//   bridge -> pool  job_batch                         the jobs of one drain
//   pool -> bridge  (done_atom, service_id, job_done_batch)
//                                                     finished jobs; each
//                                                     returns one credit
// A worker holds at most worker_capacity jobs; what no worker can take
// waits in the backlog (bounded by the queue's entry count, since every
// job holds an entry). A worker that dies answers its jobs with
// service_failed and is replaced.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/dispatch.hpp"
#include "actors/fwd.hpp"

namespace hyperamp::actors {

struct pool_settings {
  std::uint32_t workers = 4;         ///< instances of the service actor
  std::uint32_t worker_capacity = 8; ///< jobs a worker may hold
  dispatch_kind dispatch = dispatch_kind::least_loaded;
};

class service_pool : public caf::event_based_actor {
public:
  service_pool(caf::actor_config& cfg, caf::actor bridge, service_entry entry,
               pool_settings s);

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "service_pool"; }

  /// The room a pool with these settings grants.
  static std::uint32_t capacity(const pool_settings& s);

private:
  /// A job a worker holds, with the pool's own number for it (tickets are
  /// reused once answered; a late answer must not match a newer job).
  struct held {
    std::uint64_t id;
    job j;
  };
  struct worker {
    service_actor hdl;
    std::vector<held> jobs;
  };

  void dispatch(const job& j);
  void send_to(std::size_t w, const job& j);
  void on_result(std::size_t w, std::uint64_t id, job_result r);
  void report(std::uint32_t ticket, job_result r);
  void flush();
  void on_down(const caf::down_msg& dm);
  void refill(std::size_t w);
  void spawn_worker(std::size_t w);

  caf::actor bridge_;
  service_entry entry_;
  pool_settings settings_;
  dispatch_policy policy_;
  std::vector<worker> workers_;
  std::vector<std::uint32_t> loads_; ///< jobs per worker, for the policy
  std::deque<job> backlog_;
  job_done_batch done_;
  std::uint64_t next_id_ = 1;
  bool flush_scheduled_ = false;
};

} // namespace hyperamp::actors

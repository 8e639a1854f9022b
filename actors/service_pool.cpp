#include "actors/service_pool.hpp"

#include <algorithm>

#include "actors/flush_soon.hpp"

namespace hyperamp::actors {

service_pool::service_pool(caf::actor_config& cfg, caf::actor bridge,
                           service_entry entry, pool_settings s)
    : caf::event_based_actor(cfg),
      bridge_(std::move(bridge)),
      entry_(std::move(entry)),
      settings_(s),
      policy_(make_policy(s.dispatch)) {
  settings_.workers = std::max<std::uint32_t>(settings_.workers, 1);
  settings_.worker_capacity = std::max<std::uint32_t>(s.worker_capacity, 1);
}

std::uint32_t service_pool::capacity(const pool_settings& s) {
  return std::max<std::uint32_t>(s.workers, 1) *
         std::max<std::uint32_t>(s.worker_capacity, 1);
}

caf::behavior service_pool::make_behavior() {
  set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
  workers_.resize(settings_.workers);
  loads_.assign(settings_.workers, 0);
  for (std::size_t w = 0; w < workers_.size(); ++w)
    spawn_worker(w);
  send(bridge_, credit_atom::value, entry_.id, capacity(settings_));
  return {
      [this](job_batch& batch) {
        for (const auto& j : batch)
          dispatch(j);
      },
      [this](flush_atom) { flush(); },
  };
}

void service_pool::on_exit() {
  for (auto& w : workers_)
    caf::anon_send_exit(w.hdl, caf::exit_reason::user_shutdown);
  workers_.clear();
  bridge_ = nullptr;
}

void service_pool::spawn_worker(std::size_t w) {
  workers_[w].hdl = entry_.spawn(system());
  monitor(workers_[w].hdl);
}

void service_pool::dispatch(const job& j) {
  const std::size_t w = policy_(loads_, settings_.worker_capacity);
  if (w == no_worker)
    backlog_.push_back(j);
  else
    send_to(w, j);
}

void service_pool::send_to(std::size_t w, const job& j) {
  const std::uint64_t id = next_id_++;
  workers_[w].jobs.push_back({id, j});
  ++loads_[w];
  request(workers_[w].hdl, caf::infinite, j)
      .then([this, w, id](job_result r) { on_result(w, id, r); },
            [this, w, id](caf::error&) {
              on_result(w, id, {shm::wire_status::service_failed, 0});
            });
}

void service_pool::on_result(std::size_t w, std::uint64_t id, job_result r) {
  auto& jobs = workers_[w].jobs;
  auto it = std::find_if(jobs.begin(), jobs.end(),
                         [id](const held& h) { return h.id == id; });
  if (it == jobs.end())
    return; // already failed when its worker went down
  const job j = it->j;
  jobs.erase(it);
  --loads_[w];
  if (r.length > j.capacity) // a service must stay inside its buffer
    r = {shm::wire_status::service_failed, 0};
  report(j.ticket, r);
  refill(w);
}

void service_pool::report(std::uint32_t ticket, job_result r) {
  done_.push_back({ticket, r});
  flush_soon(this, flush_scheduled_, [this] { flush(); });
}

void service_pool::flush() {
  flush_scheduled_ = false;
  if (done_.empty())
    return;
  send(bridge_, done_atom::value, entry_.id, std::move(done_));
  done_ = job_done_batch{};
}

void service_pool::refill(std::size_t w) {
  while (!backlog_.empty() && loads_[w] < settings_.worker_capacity) {
    const job next = backlog_.front();
    backlog_.pop_front();
    send_to(w, next);
  }
}

void service_pool::on_down(const caf::down_msg& dm) {
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (workers_[w].hdl.address() != dm.source)
      continue;
    // Jobs still in its mailbox bounce and fail through on_result; the one
    // it quit on never gets an answer. Whatever is outstanding fails here
    // (a bounce arriving later finds nothing and is ignored).
    for (const auto& h : workers_[w].jobs)
      report(h.j.ticket, {shm::wire_status::service_failed, 0});
    workers_[w].jobs.clear();
    loads_[w] = 0;
    spawn_worker(w); // a fresh worker takes its place, and the backlog
    refill(w);
  }
}

} // namespace hyperamp::actors

#include "actors/service_bridge.hpp"

#include <algorithm>

#include "actors/service_pool.hpp"

namespace hyperamp::actors {

namespace {

job to_job(const shm::incoming& in) {
  job j;
  j.ticket = in.ticket;
  j.service_id = in.service_id;
  j.data = in.data;
  j.length = in.length;
  j.capacity = in.capacity;
  return j;
}

} // namespace

service_bridge::service_bridge(caf::actor_config& cfg,
                               std::unique_ptr<shm::service_port> port,
                               service_settings s,
                               std::vector<service_entry> table)
    : bridge_core(cfg, std::move(port), s.heartbeat, s.start_waiter, s.shell,
                  nullptr, "service bridge"),
      settings_(std::move(s)),
      in_buf_(std::max<std::uint32_t>(settings_.batch, 1)),
      held_by_(this->port().tickets(), 0) {
  for (auto& e : table) {
    pools_.emplace_back();
    pools_.back().entry = std::move(e);
  }
  outcomes_.reserve(this->port().tickets());
}

caf::behavior service_bridge::make_behavior() {
  set_down_handler([this](caf::down_msg& dm) { on_pool_down(dm); });
  for (auto& p : pools_)
    spawn_pool(p);
  port().abort_predecessor();
  return with_core({
      [this](credit_atom, std::uint32_t service, std::uint32_t n) {
        credit_.grant(service, n);
        drain();
      },
      [this](done_atom, std::uint32_t service, const job_done_batch& finished) {
        on_done(service, finished);
      },
  });
}

pool_settings service_bridge::pool_of() const {
  pool_settings ps;
  ps.workers = settings_.workers;
  ps.worker_capacity = settings_.worker_capacity;
  ps.dispatch = settings_.dispatch;
  return ps;
}

void service_bridge::spawn_pool(pool_ref& p) {
  p.hdl = spawn<service_pool>(caf::actor{this}, p.entry, pool_of());
  monitor(p.hdl);
}

service_bridge::pool_ref* service_bridge::find(std::uint32_t service) {
  for (auto& p : pools_)
    if (p.entry.id == service)
      return &p;
  return nullptr;
}

void service_bridge::on_stop() {
  stopping_ = true; // publish what is done, take nothing new
  publish();
  for (auto& p : pools_)
    caf::anon_send_exit(p.hdl, caf::exit_reason::user_shutdown);
  pools_.clear();
}

void service_bridge::drain() {
  if (stopping_)
    return;
  // A port that holds all it can (`full`) while more may wait gets no bell
  // for the rest: take again once requests are completed. Inline results
  // are published at the end of a round, so a round that took something
  // is followed by another; work held by pools drains again in on_done.
  // Under a steady inflow that could go on for ever with the mailbox (exit,
  // stats, pool results) unread: after k_rounds_per_wake rounds the bridge
  // sends itself a wake and reads its mail first.
  int rounds = 0;
  for (bool again = true; again;) {
    publish(); // outcomes not yet published hold port records
    draining_ = true;
    starved_ = false;
    bool port_full = false;
    std::size_t took = 0;
    bridge_core::drain(
        in_buf_,
        [this, &port_full](shm::incoming* buf,
                           std::size_t n) -> shm::batch_result {
          const std::int64_t room = credit_.total_room();
          if (room <= 0) {
            starved_ = true; // when credit comes back, drain again
            return {0, shm::status::full};
          }
          const auto r = port().take_submitted(
              buf, std::min<std::size_t>(n, static_cast<std::size_t>(room)));
          if (r.st == shm::status::full)
            port_full = true;
          return r;
        },
        [this, &took](const shm::incoming& in) {
          ++took;
          accept(in);
        });
    draining_ = false;
    for (auto& p : pools_)
      if (!p.batch.empty()) {
        send(p.hdl, std::move(p.batch));
        p.batch = job_batch{};
      }
    publish();
    if (port_full)
      starved_ = true;
    again = port_full && took > 0 && !stopping_;
    if (again && ++rounds == k_rounds_per_wake) {
      send(caf::actor_cast<caf::actor>(this), wake_atom::value);
      return;
    }
  }
}

void service_bridge::accept(const shm::incoming& in) {
  if (held_by_[in.ticket] != 0) {
    // A worker still runs the request this entry carried before damage
    // put the entry back in circulation. The new request cannot share
    // that worker's buffer, nor may the old result be taken for it: it is
    // aborted (the late result of the old one finds nothing to complete).
    ++stats_.corrupt;
    complete(in.ticket, shm::wire_status::aborted, 0);
    return;
  }
  pool_ref* p = find(in.service_id);
  if (p == nullptr) {
    complete(in.ticket, shm::wire_status::unknown_service, 0);
    return;
  }
  if (settings_.inline_trivial && p->entry.run_inline &&
      in.length <= settings_.inline_max_bytes) {
    run_inline(*p, in);
    return;
  }
  p->batch.push_back(to_job(in));
  held_by_[in.ticket] = in.service_id + 1;
  credit_.spend(in.service_id);
}

void service_bridge::run_inline(pool_ref& p, const shm::incoming& in) {
  job j = to_job(in);
  ++stats_.inline_runs;
  auto r = p.entry.run_inline(j);
  if (r.length > in.capacity) // a service must stay inside its buffer
    r = {shm::wire_status::service_failed, 0};
  complete(in.ticket, r.status, r.length);
}

void service_bridge::complete(std::uint32_t ticket, shm::wire_status st,
                              std::uint32_t len) {
  shm::outcome o;
  o.ticket = ticket;
  o.status = st;
  o.length = len;
  outcomes_.push_back(o);
}

void service_bridge::publish() {
  if (outcomes_.empty())
    return;
  port().complete(outcomes_.data(), outcomes_.size());
  stats_.completed += outcomes_.size();
  outcomes_.clear();
}

void service_bridge::on_done(std::uint32_t service,
                             const job_done_batch& finished) {
  credit_.refund(service, static_cast<std::int64_t>(finished.size()));
  for (const auto& d : finished) {
    if (d.ticket >= held_by_.size() || held_by_[d.ticket] != service + 1)
      continue; // failed already (its pool went down)
    held_by_[d.ticket] = 0;
    complete(d.ticket, d.result.status, d.result.length);
  }
  // Completions of a busy moment share one lock acquisition and one ring
  // per client; a drain that stopped for lack of room goes on.
  if (starved_ && !stopping_)
    drain();
  else
    publish_soon();
}

void service_bridge::on_pool_down(const caf::down_msg& dm) {
  for (auto& p : pools_) {
    if (p.hdl.address() != dm.source)
      continue;
    // Whatever it held fails; a new pool takes its place and grants anew.
    const std::uint32_t mark = p.entry.id + 1;
    std::int64_t lost = 0;
    for (std::uint32_t t = 0; t < held_by_.size(); ++t)
      if (held_by_[t] == mark) {
        held_by_[t] = 0;
        complete(t, shm::wire_status::service_failed, 0);
        ++lost;
      }
    credit_.refund(p.entry.id, lost);
    credit_.grant(p.entry.id, -service_pool::capacity(pool_of()));
    log_once(std::string{"the pool of service "} + p.entry.name +
             " stopped; a new one replaces it");
    spawn_pool(p);
    publish_soon();
  }
}

void service_bridge::on_tick() {
  port().reap(clock().now());
  drain(); // a safety net: a lost wake-up costs one tick, never a hang
}

} // namespace hyperamp::actors

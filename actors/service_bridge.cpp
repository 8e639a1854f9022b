#include "actors/service_bridge.hpp"

#include <algorithm>

#include "actors/flush_soon.hpp"
#include "shm/wire.hpp"

namespace hyperamp::actors {

service_bridge::service_bridge(caf::actor_config& cfg,
                               std::shared_ptr<shm::region> r,
                               shm::participant self, service_settings s,
                               std::vector<service_entry> table)
    : caf::event_based_actor(cfg),
      region_(std::move(r)),
      self_(self),
      settings_(std::move(s)),
      lock_(*region_, self_.index(), settings_.zone_id, settings_.lock),
      queue_(*region_, lock_),
      flags_(std::make_shared<waiter_flags>()),
      clients_(*region_, settings_.peer_dead),
      client_bells_(region_->max_clients() + 1u) {
  for (auto& e : table)
    pools_[e.id].entry = e;
  std::string err;
  auto own = make_wait_bell(region_->slot_at(shm::k_service_slot),
                            zone_role::service, settings_.bell, &err);
  waiter_ = std::make_unique<interrupt_waiter>(std::move(own), flags_, &self_,
                                               settings_.heartbeat);
  take_buf_.resize(std::max<std::uint32_t>(settings_.batch, 1));
}

service_bridge::~service_bridge() = default;

caf::behavior service_bridge::make_behavior() {
  for (auto& kv : pools_)
    spawn_workers(kv.second);
  set_down_handler([this](caf::down_msg& dm) { on_worker_down(dm); });
  if (settings_.start_waiter)
    waiter_->start(caf::actor{this});
  abort_predecessor();
  drain();
  return {
      [this](wake_atom) {
        flags_->wake_pending.store(false, std::memory_order_release);
        drain();
      },
      [this](tick_atom) {
        flags_->tick_pending.store(false, std::memory_order_release);
        on_tick();
      },
      [this](flush_atom) { flush(); },
      [this](stats_atom) { return stats_; },
  };
}

void service_bridge::on_exit() {
  stopping_ = true; // publish what is done, take nothing new
  waiter_->stop();
  flush();
  for (auto& kv : pools_)
    for (auto& w : kv.second.workers)
      caf::anon_send_exit(w.hdl, caf::exit_reason::user_shutdown);
  pools_.clear();
  self_.release();
}

void service_bridge::spawn_workers(pool& p) {
  p.workers.resize(std::max<std::uint32_t>(settings_.workers, 1));
  for (auto& w : p.workers) {
    w.hdl = p.entry.spawn(system());
    monitor(w.hdl);
  }
}

std::size_t service_bridge::capacity() const {
  return pools_.size() * std::max<std::uint32_t>(settings_.workers, 1) *
         std::max<std::uint32_t>(settings_.worker_capacity, 1);
}

void service_bridge::drain() {
  draining_ = true;
  take_all();
  draining_ = false;
  if (!done_.empty())
    publish();
}

void service_bridge::take_all() {
  limited_ = false;
  for (;;) {
    const std::size_t room = capacity() > held_ ? capacity() - held_ : 0;
    if (room == 0) {
      limited_ = true;
      return;
    }
    const std::size_t n = std::min(room, take_buf_.size());
    auto r = queue_.take_submitted(take_buf_.data(), n);
    if (r.count > 0)
      ++stats_.batches;
    for (std::size_t i = 0; i < r.count; ++i)
      accept(take_buf_[i]);
    if (r.st == shm::status::corrupt) {
      ++stats_.corrupt;
      queue_.repair();
      continue;
    }
    if (r.count < n)
      return;
  }
}

void service_bridge::accept(std::uint32_t idx) {
  shm::request_view v;
  const char* why = nullptr;
  if (shm::read_request(*region_, idx, v, &why) != shm::status::ok) {
    ++stats_.corrupt;
    reject(idx, shm::wire_status::bad_request);
    return;
  }
  dispatch(job{idx, v.slot, v.seq, v.service_id, v.data, v.length, v.capacity});
}

void service_bridge::reject(std::uint32_t idx, shm::wire_status st) {
  // Complete an entry that failed validation if it names a usable client
  // slot; otherwise nobody can be answered and it goes back to the free
  // list. Each field is read once.
  const shm::entry& e = region_->entry_at(idx);
  const std::uint16_t slot = __atomic_load_n(&e.slot, __ATOMIC_RELAXED);
  const std::uint64_t seq = __atomic_load_n(&e.seq, __ATOMIC_RELAXED);
  if (slot < 1 || slot > region_->max_clients()) {
    queue_.discard(&idx, 1);
    return;
  }
  complete(job{idx, slot, seq, 0, nullptr, 0, 0}, st, 0);
}

void service_bridge::dispatch(const job& j) {
  auto it = pools_.find(j.service_id);
  if (it == pools_.end()) {
    complete(j, shm::wire_status::unknown_service, 0);
    return;
  }
  pool& p = it->second;
  if (settings_.inline_trivial && p.entry.run_inline &&
      j.length <= settings_.inline_max_bytes) {
    job copy = j;
    ++stats_.inline_runs;
    auto r = p.entry.run_inline(copy);
    complete(j, r.status, r.length);
    return;
  }
  auto best = std::min_element(p.workers.begin(), p.workers.end(),
                               [](const worker& a, const worker& b) {
                                 return a.in_flight < b.in_flight;
                               });
  ++held_;
  if (best->in_flight >= settings_.worker_capacity) {
    p.backlog.push_back(j);
    return;
  }
  send_to(p, static_cast<std::size_t>(best - p.workers.begin()), j);
}

void service_bridge::send_to(pool& p, std::size_t w, const job& j) {
  ++p.workers[w].in_flight;
  p.workers[w].jobs.push_back(j);
  pool* pp = &p;
  request(p.workers[w].hdl, caf::infinite, j)
      .then([this, pp, w, j](job_result r) { on_result(*pp, w, j, r); },
            [this, pp, w, j](caf::error&) {
              on_result(*pp, w, j, {shm::wire_status::service_failed, 0});
            });
}

void service_bridge::on_result(pool& p, std::size_t w, const job& j,
                               job_result r) {
  auto& jobs = p.workers[w].jobs;
  auto it = std::find_if(jobs.begin(), jobs.end(), [&j](const job& x) {
    return x.index == j.index && x.seq == j.seq && x.slot == j.slot;
  });
  if (it == jobs.end())
    return; // already failed when its worker went down
  jobs.erase(it);
  --p.workers[w].in_flight;
  --held_;
  if (r.length > j.capacity)
    r = {shm::wire_status::service_failed, 0};
  complete(j, r.status, r.length);
  if (!p.backlog.empty()) {
    job next = p.backlog.front();
    p.backlog.pop_front();
    send_to(p, w, next);
  }
}

void service_bridge::complete(const job& j, shm::wire_status st,
                              std::uint32_t len) {
  shm::write_completion(*region_, j.index, j.seq, st, len);
  done_.push_back(j.index);
  if (std::find(ring_slots_.begin(), ring_slots_.end(), j.slot) ==
      ring_slots_.end())
    ring_slots_.push_back(j.slot);
  if (!draining_)
    publish();
}

void service_bridge::publish() {
  // The completions of a busy moment share one lock acquisition and ring.
  flush_soon(this, flush_scheduled_, [this] { flush(); });
}

void service_bridge::flush() {
  flush_scheduled_ = false;
  std::size_t at = 0;
  while (at < done_.size()) {
    auto r = queue_.complete(done_.data() + at, done_.size() - at);
    ++stats_.batches;
    stats_.completed += r.count;
    at += r.count;
    if (r.st != shm::status::ok && at < done_.size()) {
      ++stats_.corrupt;
      queue_.discard(done_.data() + at, 1);
      ++at;
    }
  }
  done_.clear();
  for (auto s : ring_slots_)
    ring(s);
  ring_slots_.clear();
  if (limited_ && !stopping_)
    drain();
}

void service_bridge::ring(std::uint16_t slot) {
  if (slot < 1 || slot > region_->max_clients())
    return;
  auto& bell = client_bells_[slot];
  if (!bell) {
    std::string err;
    bell = make_ring_bell(region_->slot_at(slot), zone_role::service,
                          settings_.bell, &err);
  }
  bell->ring();
  ++stats_.rings;
}

void service_bridge::on_tick() {
  const auto now = clock().now();
  for (std::uint32_t s = 1; s <= region_->max_clients(); ++s) {
    const auto slot = static_cast<std::uint16_t>(s);
    std::uint32_t epoch = 0;
    if (clients_.dead(s, now, &epoch)) {
      // Entries back and the slot evicted in one hold of the lock; a new
      // epoch, so should the silent client only have been stalled, its own
      // release() later leaves the slot (and its next owner) alone.
      queue_.evict_client(slot, epoch);
      clients_.reset(s);
      continue;
    }
    // Completions for a client that has left (read without the lock as a
    // hint; reap_departed checks again under it).
    if (!shm::is_active(region_->slot_at(s)) &&
        __atomic_load_n(&region_->slot_at(s).completed_head,
                        __ATOMIC_RELAXED) != shm::k_nil)
      queue_.reap_departed(slot);
  }
  drain(); // a safety net: a lost wake-up costs one tick, never a hang
}

void service_bridge::abort_predecessor() {
  // Only a service moves entries to in_service, and there is one service
  // slot: whatever is in service now was left by a predecessor, whether it
  // died (took_over) or exited in an orderly way with jobs still held.
  aborted_.resize(region_->entry_count());
  auto r = queue_.abort_in_service(aborted_.data(), aborted_.size());
  for (std::size_t i = 0; i < r.count; ++i)
    ring(region_->entry_at(aborted_[i]).slot);
}

void service_bridge::on_worker_down(const caf::down_msg& dm) {
  for (auto& kv : pools_) {
    pool& p = kv.second;
    for (std::size_t i = 0; i < p.workers.size(); ++i) {
      worker& w = p.workers[i];
      if (w.hdl.address() != dm.source)
        continue;
      // Jobs still in its mailbox bounce and fail through on_result; the one
      // it quit on never gets an answer. Whatever is still outstanding
      // fails here (a bounce arriving later finds nothing and is ignored).
      for (const auto& j : w.jobs) {
        --held_;
        complete(j, shm::wire_status::service_failed, 0);
      }
      w.jobs.clear();
      w.in_flight = 0;
      // A fresh worker takes its place, and the backlog it had room for.
      w.hdl = p.entry.spawn(system());
      monitor(w.hdl);
      while (!p.backlog.empty() &&
             p.workers[i].in_flight < settings_.worker_capacity) {
        job next = p.backlog.front();
        p.backlog.pop_front();
        send_to(p, i, next);
      }
    }
  }
}

} // namespace hyperamp::actors

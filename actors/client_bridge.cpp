#include "actors/client_bridge.hpp"

#include <cstring>

#include "actors/flush_soon.hpp"
#include "shm/wire.hpp"

namespace hyperamp::actors {

namespace {

constexpr std::size_t k_drain_batch = 64;

amp_errc to_errc(shm::wire_status st) {
  switch (st) {
  case shm::wire_status::unknown_service:
    return amp_errc::unknown_service;
  case shm::wire_status::bad_request:
    return amp_errc::bad_request;
  case shm::wire_status::aborted:
    return amp_errc::aborted;
  case shm::wire_status::service_failed:
    return amp_errc::service_failed;
  default:
    return amp_errc::corrupt;
  }
}

} // namespace

client_bridge::client_bridge(caf::actor_config& cfg,
                             std::shared_ptr<shm::region> r,
                             shm::participant self, client_settings s)
    : caf::event_based_actor(cfg),
      region_(std::move(r)),
      self_(self),
      settings_(std::move(s)),
      lock_(*region_, self_.index(), settings_.zone_id, settings_.lock),
      queue_(*region_, lock_),
      payload_(shm::partition_offset(*region_,
                                     static_cast<std::uint16_t>(self_.index())),
               region_->geo().partition_size),
      flags_(std::make_shared<waiter_flags>()),
      service_live_(*region_, settings_.peer_dead),
      flights_(region_->entry_count()),
      next_seq_((std::uint64_t{self_.epoch()} << 32) + 1) {
  std::string err;
  service_bell_ = make_ring_bell(region_->slot_at(shm::k_service_slot),
                                 zone_role::client, settings_.bell, &err);
  auto own = make_wait_bell(region_->slot_at(self_.index()), zone_role::client,
                            settings_.bell, &err);
  waiter_ = std::make_unique<interrupt_waiter>(std::move(own), flags_, &self_,
                                               settings_.heartbeat);
  idx_buf_.resize(k_drain_batch);
}

client_bridge::~client_bridge() = default;

caf::behavior client_bridge::make_behavior() {
  if (settings_.start_waiter)
    waiter_->start(caf::actor{this});
  check_peer(clock().now());
  return {
      [this](call_atom, std::uint32_t service_id, bytes& data) {
        on_call(service_id, data);
      },
      [this](call_atom, std::vector<call_spec>& calls) { on_batch(calls); },
      [this](flush_atom) { flush(); },
      [this](wake_atom) {
        flags_->wake_pending.store(false, std::memory_order_release);
        drain();
      },
      [this](tick_atom) {
        flags_->tick_pending.store(false, std::memory_order_release);
        on_tick();
      },
      [this](stats_atom) { return stats_; },
  };
}

void client_bridge::on_exit() {
  waiter_->stop();
  fail_all(amp_errc::shutting_down);
  // Orderly exit: hand back everything of this slot except what the
  // service still holds (its completions are released by the next owner).
  queue_.reap_client(static_cast<std::uint16_t>(self_.index()));
  self_.release();
}

void client_bridge::reply_to::succeed(bytes data) {
  if (!batch) {
    rp.deliver(std::move(data));
    return;
  }
  auto& r = batch->replies[index];
  r.ok = true;
  r.data = std::move(data);
  if (--batch->left == 0)
    batch->rp.deliver(std::move(batch->replies));
}

void client_bridge::reply_to::fail(caf::error err) {
  if (!batch) {
    rp.deliver(std::move(err));
    return;
  }
  batch->replies[index].error = std::move(err);
  if (--batch->left == 0)
    batch->rp.deliver(std::move(batch->replies));
}

void client_bridge::on_call(std::uint32_t service_id, bytes& data) {
  reply_to to{make_response_promise(), nullptr, 0};
  admit({service_id, std::move(data), std::move(to),
         clock().now() + settings_.request_timeout});
}

void client_bridge::on_batch(std::vector<call_spec>& calls) {
  auto b = std::make_shared<batch_state>();
  b->rp = make_response_promise();
  if (calls.empty()) {
    b->rp.deliver(call_replies{});
    return;
  }
  b->replies.resize(calls.size());
  b->left = calls.size();
  const auto deadline = clock().now() + settings_.request_timeout;
  for (std::size_t i = 0; i < calls.size(); ++i)
    admit({calls[i].service_id, std::move(calls[i].data), reply_to{{}, b, i},
           deadline});
}

void client_bridge::admit(request req) {
  if (req.data.size() > region_->geo().partition_size) {
    req.to.fail(caf::make_error(amp_errc::too_large));
    return;
  }
  if (!peer_up_) {
    req.to.fail(caf::make_error(amp_errc::peer_down));
    return;
  }
  if (!pending_.empty()) {
    if (pending_.size() >= settings_.pending_limit) {
      ++stats_.overloaded;
      req.to.fail(caf::make_error(amp_errc::overloaded));
      return;
    }
    pending_.push_back(std::move(req));
    return;
  }
  staged_.push_back(std::move(req));
  schedule_flush();
}

void client_bridge::schedule_flush() {
  flush_soon(this, flush_scheduled_, [this] { flush(); });
}

void client_bridge::flush() {
  flush_scheduled_ = false;
  if (staged_.empty())
    return;
  const std::size_t started = start(staged_);
  // What found no entry or payload space waits, oldest first, up to the
  // bound; the newest beyond it are refused at once.
  for (std::size_t i = started; i < staged_.size(); ++i) {
    if (pending_.size() >= settings_.pending_limit) {
      ++stats_.overloaded;
      staged_[i].to.fail(caf::make_error(amp_errc::overloaded));
    } else {
      pending_.push_back(std::move(staged_[i]));
    }
  }
  staged_.clear();
}

std::size_t client_bridge::start(std::vector<request>& batch) {
  // 1. payload space, outside the lock (the allocator is process-local).
  auto& blocks = blocks_buf_;
  blocks.clear();
  for (auto& req : batch) {
    shm::payload_block b;
    if (payload_.allocate(static_cast<std::uint32_t>(req.data.size()), b) !=
        shm::status::ok)
      break;
    blocks.push_back(b);
  }
  // 2. entries: one lock acquisition.
  auto& idx = submit_buf_;
  idx.resize(blocks.size());
  auto got = queue_.acquire(static_cast<std::uint16_t>(self_.index()),
                            idx.data(), idx.size());
  for (std::size_t i = got.count; i < blocks.size(); ++i)
    payload_.release(blocks[i]);
  // 3. payloads and descriptors, outside the lock.
  for (std::size_t i = 0; i < got.count; ++i) {
    auto& req = batch[i];
    auto& f = flights_[idx[i]];
    if (!req.data.empty()) // data() may be null then: memcpy's UB
      std::memcpy(region_->payload() + blocks[i].offset, req.data.data(),
                  req.data.size());
    f = flight{next_seq_++, std::move(req.to), blocks[i], req.deadline, true,
               false};
    shm::write_request(
        *region_, idx[i], f.seq, req.service_id, blocks[i].offset,
        static_cast<std::uint32_t>(req.data.size()), blocks[i].capacity);
  }
  // 4. submit the batch: one lock acquisition, one ring.
  if (got.count > 0) {
    auto r = queue_.submit(static_cast<std::uint16_t>(self_.index()),
                           idx.data(), got.count);
    ++stats_.batches;
    // What could not be submitted (the lists failed validation) is answered
    // and handed back at once: its entries and payload are not in flight.
    for (std::size_t i = r.count; i < got.count; ++i) {
      ++stats_.corrupt;
      auto& f = flights_[idx[i]];
      answer(f, caf::make_error(amp_errc::corrupt));
      f.active = false;
      payload_.release(f.block);
    }
    if (r.count < got.count)
      queue_.release(static_cast<std::uint16_t>(self_.index()),
                     idx.data() + r.count, got.count - r.count);
    stats_.submitted += r.count;
    service_bell_->ring();
    ++stats_.rings;
  }
  return got.count;
}

void client_bridge::drain() {
  const auto slot = static_cast<std::uint16_t>(self_.index());
  for (;;) {
    auto r = queue_.take_completed(slot, idx_buf_.data(), idx_buf_.size());
    for (std::size_t i = 0; i < r.count; ++i)
      finish(idx_buf_[i]);
    if (r.st == shm::status::corrupt) {
      ++stats_.corrupt;
      queue_.repair();
      continue;
    }
    if (r.count < idx_buf_.size())
      break;
  }
  if (!release_buf_.empty()) {
    queue_.release(slot, release_buf_.data(), release_buf_.size());
    release_buf_.clear();
  }
  start_pending();
}

void client_bridge::finish(std::uint32_t idx) {
  release_buf_.push_back(idx);
  flight& f = flights_[idx];
  if (!f.active) {
    // A completion of this slot's previous owner, or garbage.
    ++stats_.stray;
    return;
  }
  f.active = false;
  ++stats_.completed;
  const char* why = nullptr;
  shm::completion_view v;
  auto st = shm::read_completion(*region_, idx, f.block.capacity, v, &why);
  if (st == shm::status::ok && v.done_seq != f.seq)
    st = shm::status::corrupt; // a completion for another request
  if (st != shm::status::ok) {
    ++stats_.corrupt;
    answer(f, caf::make_error(amp_errc::corrupt));
  } else if (v.result != shm::wire_status::ok) {
    answer(f, caf::make_error(to_errc(v.result)));
  } else if (!f.answered) {
    const auto* p = region_->payload() + f.block.offset;
    f.to.succeed(bytes(p, p + v.result_length));
    f.answered = true;
  }
  payload_.release(f.block);
}

void client_bridge::answer(flight& f, caf::error err) {
  if (!f.answered) {
    f.to.fail(std::move(err));
    f.answered = true;
  }
}

void client_bridge::start_pending() {
  while (!pending_.empty()) {
    auto& batch = pending_buf_;
    batch.clear();
    const std::size_t n = std::min<std::size_t>(pending_.size(), 64);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    const std::size_t started = start(batch);
    for (std::size_t i = batch.size(); i > started; --i)
      pending_.push_front(std::move(batch[i - 1]));
    if (started < batch.size())
      return;
  }
}

void client_bridge::on_tick() {
  const auto now = clock().now();
  check_peer(now);
  for (auto& f : flights_) {
    if (f.active && !f.answered && now >= f.deadline) {
      ++stats_.timeouts;
      answer(f, caf::make_error(amp_errc::timeout));
    }
  }
  while (!pending_.empty() && now >= pending_.front().deadline) {
    ++stats_.timeouts;
    pending_.front().to.fail(caf::make_error(amp_errc::timeout));
    pending_.pop_front();
  }
}

void client_bridge::check_peer(time_point now) {
  const bool present = shm::is_active(region_->slot_at(shm::k_service_slot));
  const bool up = present && !service_live_.dead(shm::k_service_slot, now);
  if (peer_up_ && !up)
    fail_all(amp_errc::peer_down);
  peer_up_ = up;
}

void client_bridge::fail_all(amp_errc code) {
  for (auto& f : flights_)
    if (f.active)
      answer(f, caf::make_error(code));
  for (auto& req : staged_)
    req.to.fail(caf::make_error(code));
  staged_.clear();
  for (auto& req : pending_)
    req.to.fail(caf::make_error(code));
  pending_.clear();
}

} // namespace hyperamp::actors

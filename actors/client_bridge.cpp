#include "actors/client_bridge.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "actors/client_actor.hpp"

namespace hyperamp::actors {

namespace {

constexpr std::size_t k_drain_batch = 64;
constexpr std::size_t k_start_batch = 64;

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

/// Sequence numbers start at a random point below 2^63 (so they never
/// wrap to 0, which is invalid): a completion left over from a former
/// owner of the slot cannot match a request of ours.
std::uint64_t first_seq() {
  std::random_device rd;
  return ((std::uint64_t{rd()} << 31) ^ rd()) + 1;
}

} // namespace

client_bridge::client_bridge(caf::actor_config& cfg,
                             std::unique_ptr<shm::client_port> port,
                             client_settings s)
    : bridge_core(cfg, std::move(port), s.heartbeat, s.start_waiter, s.shell,
                  is_client_actor, "client bridge"),
      settings_(std::move(s)),
      flights_(this->port().tickets()),
      done_buf_(k_drain_batch),
      next_seq_(first_seq()) {
  release_buf_.reserve(flights_.size());
}

caf::behavior client_bridge::make_behavior() {
  check_peer(clock().now());
  return with_core({
      [this](call_atom, std::uint32_t service_id, bytes& data) {
        on_call(service_id, data);
      },
      [this](call_atom, std::vector<call_spec>& calls) { on_batch(calls); },
  });
}

void client_bridge::on_stop() {
  // A zone that found its place given to another says so to its callers.
  const bool replaced = fail_state() == caf::make_error(amp_errc::replaced);
  fail_all(replaced ? amp_errc::replaced : amp_errc::shutting_down);
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
  request req;
  req.service_id = service_id;
  req.data = std::move(data);
  req.to.rp = make_response_promise();
  req.deadline = clock().now() + settings_.request_timeout;
  admit(std::move(req));
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
  for (std::size_t i = 0; i < calls.size(); ++i) {
    request req;
    req.service_id = calls[i].service_id;
    req.data = std::move(calls[i].data);
    req.to.batch = b;
    req.to.index = i;
    req.deadline = deadline;
    admit(std::move(req));
  }
}

void client_bridge::admit(request req) {
  if (req.data.size() > port().max_payload()) {
    req.to.fail(caf::make_error(amp_errc::too_large));
    return;
  }
  if (!peer_up_) {
    req.to.fail(caf::make_error(amp_errc::peer_down));
    return;
  }
  if (!pending_.empty()) { // first come, first served
    if (pending_.size() >= settings_.pending_limit) {
      ++stats_.overloaded;
      req.to.fail(caf::make_error(amp_errc::overloaded));
      return;
    }
    pending_.push_back(std::move(req));
    return;
  }
  staged_.push_back(std::move(req));
  publish_soon();
}

void client_bridge::on_flush() {
  if (staged_.empty())
    return;
  const std::size_t started = start(staged_);
  // What found no room waits, oldest first, up to the bound; the newest
  // beyond it are refused at once.
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
  // 1. room for the batch's prefix that fits.
  sizes_buf_.resize(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i)
    sizes_buf_[i] = static_cast<std::uint32_t>(batch[i].data.size());
  lease_buf_.resize(batch.size());
  const auto got =
      port().acquire(sizes_buf_.data(), batch.size(), lease_buf_.data());
  if (got.count == 0)
    return 0;
  // 2. payloads and descriptors.
  desc_buf_.resize(got.count);
  for (std::size_t i = 0; i < got.count; ++i) {
    auto& req = batch[i];
    const auto& l = lease_buf_[i];
    if (!req.data.empty()) // data() may be null then: memcpy's UB
      std::memcpy(l.data, req.data.data(), req.data.size());
    auto& f = flights_[l.ticket];
    if (f.active) {
      // The port handed out an entry we still count as in flight: damage
      // (or its repair) put that entry back on the free list, so the
      // request it carried will never be completed. It is answered now,
      // not dropped with the flight (its caller would wait forever).
      ++stats_.corrupt;
      answer(f, caf::make_error(amp_errc::corrupt));
    }
    f = flight{};
    f.seq = next_seq_++;
    f.to = std::move(req.to);
    f.deadline = req.deadline;
    f.active = true;
    auto& d = desc_buf_[i];
    d.ticket = l.ticket;
    d.seq = f.seq;
    d.service_id = req.service_id;
    d.length = static_cast<std::uint32_t>(req.data.size());
  }
  // 3. one submit, one ring.
  const auto r = port().submit(desc_buf_.data(), got.count);
  stats_.submitted += r.count;
  // What could not be submitted (the lists failed validation) is answered
  // and handed back at once: its room is not in flight.
  for (std::size_t i = r.count; i < got.count; ++i) {
    auto& f = flights_[desc_buf_[i].ticket];
    answer(f, caf::make_error(amp_errc::corrupt));
    f.active = false;
    release_buf_.push_back(desc_buf_[i].ticket);
  }
  if (!release_buf_.empty()) {
    port().release(release_buf_.data(), release_buf_.size());
    release_buf_.clear();
  }
  return got.count;
}

void client_bridge::on_wake() {
  collect();
  start_pending();
}

void client_bridge::collect() {
  drain(
      done_buf_,
      [this](shm::completion* buf, std::size_t n) {
        return port().take_completed(buf, n);
      },
      [this](const shm::completion& c) { finish(c); });
  if (!release_buf_.empty()) {
    port().release(release_buf_.data(), release_buf_.size());
    release_buf_.clear();
  }
}

void client_bridge::finish(const shm::completion& c) {
  release_buf_.push_back(c.ticket);
  flight& f = flights_[c.ticket];
  if (!f.active) {
    // A completion of this slot's previous owner, or garbage.
    ++stats_.stray;
    return;
  }
  f.active = false;
  ++stats_.completed;
  if (c.why != nullptr || c.done_seq != f.seq) {
    // Damaged, or a completion for another request: the port counted the
    // reason of the first kind; a wrong sequence number is counted here.
    if (c.why == nullptr)
      ++stats_.corrupt;
    answer(f, caf::make_error(amp_errc::corrupt));
  } else if (c.result != shm::wire_status::ok) {
    answer(f, caf::make_error(to_errc(c.result)));
  } else if (!f.answered) {
    f.to.succeed(bytes(c.data, c.data + c.length));
    f.answered = true;
  }
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
    const std::size_t n = std::min(pending_.size(), k_start_batch);
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
  port().sweep();
  for (std::uint32_t t = 0; t < flights_.size(); ++t) {
    flight& f = flights_[t];
    if (!f.active || now < f.deadline)
      continue;
    if (!f.answered) {
      ++stats_.timeouts;
      answer(f, caf::make_error(amp_errc::timeout));
    }
    // Its room stays reserved until its completion comes, unless damage
    // gave its entry away: then no completion ever will.
    if (port().lost(t))
      f.active = false;
  }
  while (!pending_.empty() && now >= pending_.front().deadline) {
    ++stats_.timeouts;
    pending_.front().to.fail(caf::make_error(amp_errc::timeout));
    pending_.pop_front();
  }
  // Room may have come free without a completion of ours (another client
  // released entries): waiting requests must not depend on our own
  // completions alone.
  start_pending();
}

void client_bridge::check_peer(time_point now) {
  const bool up = port().peer_up(now);
  if (peer_up_ && !up) {
    // What the service published before it fell silent is its answer,
    // not a failure: a completion whose bell was never rung or not yet
    // seen is taken first. Unless the lock is held (the service may have
    // died holding it): peer_down must not wait for its eviction.
    if (!port().lock_held())
      collect();
    fail_all(amp_errc::peer_down);
  }
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

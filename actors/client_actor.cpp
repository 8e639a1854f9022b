#include "actors/client_actor.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

namespace hyperamp::actors {

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now() - t0)
      .count();
}

/// A load being run.
struct load_run {
  load_spec spec;
  outcomes results;
  caf::typed_response_promise<outcomes> rp;
  std::size_t next = 0;      ///< first request not sent yet
  std::size_t left = 0;      ///< requests not answered yet
  std::size_t in_flight = 0; ///< sent and not answered
};

struct client_state {
  caf::actor bridge;
  std::size_t budget = 1;
  std::size_t in_flight = 0; ///< singles, batches and loads together
  std::vector<std::shared_ptr<load_run>> loads;
  static inline const char* name = "client_actor";

  std::size_t room() const { return budget - std::min(in_flight, budget); }
};

using client_ptr = caf::stateful_actor<client_state>*;

void pump_loads(client_ptr self);

/// Returns `n` of the budget and lets waiting loads use it.
void give_back(client_ptr self, std::size_t n) {
  self->state.in_flight -= n;
  pump_loads(self);
}

void single_call(client_ptr self, std::uint32_t service_id, bytes& data) {
  auto rp = self->make_response_promise<bytes>();
  if (self->state.room() == 0) {
    rp.deliver(caf::make_error(amp_errc::overloaded));
    return;
  }
  ++self->state.in_flight;
  self->request(self->state.bridge, caf::infinite, call_atom::value, service_id,
                std::move(data))
      .then(
          [self, rp](bytes& reply) mutable {
            rp.deliver(std::move(reply));
            give_back(self, 1);
          },
          [self, rp](caf::error& err) mutable {
            rp.deliver(std::move(err));
            give_back(self, 1);
          });
}

void batch_call(client_ptr self, std::vector<call_spec>& calls) {
  auto rp = self->make_response_promise<call_replies>();
  const std::size_t n = calls.size();
  if (n > self->state.room()) {
    call_replies refused(n);
    for (auto& r : refused)
      r.error = caf::make_error(amp_errc::overloaded);
    rp.deliver(std::move(refused));
    return;
  }
  self->state.in_flight += n;
  self->request(self->state.bridge, caf::infinite, call_atom::value,
                std::move(calls))
      .then(
          [self, rp, n](call_replies& replies) mutable {
            rp.deliver(std::move(replies));
            give_back(self, n);
          },
          [self, rp, n](caf::error& err) mutable {
            rp.deliver(std::move(err));
            give_back(self, n);
          });
}

/// Records the answers of one batch of a load (replies, or one error for
/// all of them) and delivers the outcomes once the load is done.
void finish_batch(client_ptr self, const std::shared_ptr<load_run>& run,
                  std::size_t first, std::size_t n, std::int64_t ns,
                  call_replies* replies, const caf::error* err) {
  for (std::size_t k = 0; k < n; ++k) {
    auto& o = run->results[first + k];
    o.index = first + k;
    o.latency_ns = ns;
    if (replies != nullptr && k < replies->size()) {
      auto& r = (*replies)[k];
      o.ok = r.ok;
      o.data = std::move(r.data);
      o.error = std::move(r.error);
    } else {
      o.error =
          err != nullptr ? *err : caf::make_error(caf::sec::invalid_argument);
    }
  }
  run->in_flight -= n;
  run->left -= n;
  if (run->left == 0) {
    run->rp.deliver(std::move(run->results));
    auto& loads = self->state.loads;
    loads.erase(std::remove(loads.begin(), loads.end(), run), loads.end());
  }
  give_back(self, n);
}

/// Sends the next batch of `run` if the budget has room for one.
bool send_batch(client_ptr self, const std::shared_ptr<load_run>& run) {
  auto& st = self->state;
  const std::size_t chunk = run->spec.batch > 0
                                ? run->spec.batch
                                : std::max<std::size_t>(1, st.budget / 2);
  const std::size_t n = std::min({chunk, run->spec.count - run->next, st.room(),
                                  st.budget - run->in_flight});
  if (n == 0)
    return false;
  std::vector<call_spec> batch(n, {run->spec.service_id, run->spec.data});
  const std::size_t first = run->next;
  run->next += n;
  run->in_flight += n;
  st.in_flight += n;
  const auto t0 = clock_type::now();
  self->request(st.bridge, caf::infinite, call_atom::value, std::move(batch))
      .then(
          [self, run, first, n, t0](call_replies& replies) {
            finish_batch(self, run, first, n, since(t0), &replies, nullptr);
          },
          [self, run, first, n, t0](caf::error& err) {
            finish_batch(self, run, first, n, since(t0), nullptr, &err);
          });
  return true;
}

void pump_loads(client_ptr self) {
  // Each load in turn, so concurrent loads share the budget.
  for (bool sent = true; sent;) {
    sent = false;
    for (auto run : self->state.loads)
      sent = send_batch(self, run) || sent;
  }
}

void run_load(client_ptr self, load_spec& spec) {
  auto run = std::make_shared<load_run>();
  run->rp = self->make_response_promise<outcomes>();
  if (spec.count == 0) {
    run->rp.deliver(outcomes{});
    return;
  }
  run->results.resize(spec.count);
  run->left = spec.count;
  run->spec = std::move(spec);
  self->state.loads.push_back(run);
  pump_loads(self);
}

caf::behavior client_actor(client_ptr self, caf::actor bridge,
                           std::uint32_t max_in_flight) {
  self->state.bridge = std::move(bridge);
  self->state.budget = std::max<std::uint32_t>(max_in_flight, 1);
  return {
      [self](call_atom, std::uint32_t service_id, bytes& data) {
        single_call(self, service_id, data);
      },
      [self](call_atom, std::vector<call_spec>& calls) {
        batch_call(self, calls);
      },
      [self](run_atom, load_spec& spec) { run_load(self, spec); },
  };
}

} // namespace

caf::actor spawn_client_actor(caf::actor_system& sys, caf::actor bridge,
                              std::uint32_t max_in_flight) {
  return sys.spawn(client_actor, std::move(bridge), max_in_flight);
}

bool is_client_actor(const caf::resumable* r) noexcept {
  return dynamic_cast<const caf::stateful_actor<client_state>*>(r) != nullptr;
}

} // namespace hyperamp::actors

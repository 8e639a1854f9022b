#include "actors/client_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <iterator>

namespace hyperamp::actors {

namespace {

using clock_type = std::chrono::steady_clock;

/// Called with the answer and the time from send to answer, in ns.
using done_fn = std::function<void(caf::expected<bytes>, std::int64_t)>;

std::int64_t since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now() - t0)
      .count();
}

struct client_state {
  struct waiting {
    std::uint32_t service_id;
    bytes data;
    done_fn done;
  };
  caf::actor bridge;
  std::uint32_t max_in_flight = 1;
  std::uint32_t in_flight = 0;
  std::deque<waiting> queue;
  static inline const char* name = "client_actor";
};

using client_ptr = caf::stateful_actor<client_state>*;

void pump(client_ptr self);

void send_one(client_ptr self, client_state::waiting w) {
  ++self->state.in_flight;
  auto done = std::make_shared<done_fn>(std::move(w.done));
  const auto t0 = clock_type::now();
  self->request(self->state.bridge, caf::infinite, call_atom::value,
                w.service_id, std::move(w.data))
      .then(
          [self, done, t0](bytes& reply) {
            --self->state.in_flight;
            (*done)(std::move(reply), since(t0));
            pump(self);
          },
          [self, done, t0](caf::error& err) {
            --self->state.in_flight;
            (*done)(std::move(err), since(t0));
            pump(self);
          });
}

void pump(client_ptr self) {
  auto& st = self->state;
  while (st.in_flight < st.max_in_flight && !st.queue.empty()) {
    auto w = std::move(st.queue.front());
    st.queue.pop_front();
    send_one(self, std::move(w));
  }
}

void submit(client_ptr self, std::uint32_t service_id, bytes data,
            done_fn done) {
  self->state.queue.push_back({service_id, std::move(data), std::move(done)});
  pump(self);
}

/// A load being run: its requests go to the bridge as batch calls of at
/// most half the in-flight bound each, so two batches overlap (one message
/// each way per batch instead of per request).
struct load_run {
  std::vector<call_spec> calls;
  outcomes results;
  caf::typed_response_promise<outcomes> rp;
  std::size_t next = 0;      ///< first request not sent yet
  std::size_t left = 0;      ///< requests not answered yet
  std::size_t in_flight = 0; ///< requests sent and not answered
};

void finish_batch(const std::shared_ptr<load_run>& run, std::size_t first,
                  std::size_t n, std::int64_t ns, call_replies* replies,
                  const caf::error* err) {
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
}

void pump_load(client_ptr self, std::shared_ptr<load_run> run) {
  const std::size_t bound = self->state.max_in_flight;
  const std::size_t chunk = std::max<std::size_t>(1, bound / 2);
  while (run->next < run->calls.size() && run->in_flight < bound) {
    const std::size_t first = run->next;
    const std::size_t n =
        std::min({chunk, run->calls.size() - first, bound - run->in_flight});
    std::vector<call_spec> batch(
        std::make_move_iterator(run->calls.begin() + static_cast<long>(first)),
        std::make_move_iterator(run->calls.begin() +
                                static_cast<long>(first + n)));
    run->next += n;
    run->in_flight += n;
    const auto t0 = clock_type::now();
    self->request(self->state.bridge, caf::infinite, call_atom::value,
                  std::move(batch))
        .then(
            [self, run, first, n, t0](call_replies& replies) {
              finish_batch(run, first, n, since(t0), &replies, nullptr);
              if (run->left == 0)
                run->rp.deliver(std::move(run->results));
              else
                pump_load(self, run);
            },
            [self, run, first, n, t0](caf::error& err) {
              finish_batch(run, first, n, since(t0), nullptr, &err);
              if (run->left == 0)
                run->rp.deliver(std::move(run->results));
              else
                pump_load(self, run);
            });
  }
}

/// Runs a load: at most max_in_flight requests outstanding; replies with
/// all outcomes, in the load's order, when the last one is in.
void run_load(client_ptr self, std::vector<call_spec>& load) {
  auto run = std::make_shared<load_run>();
  run->rp = self->make_response_promise<outcomes>();
  if (load.empty()) {
    run->rp.deliver(outcomes{});
    return;
  }
  run->results.resize(load.size());
  run->left = load.size();
  run->calls = std::move(load);
  pump_load(self, std::move(run));
}

caf::behavior client_actor(client_ptr self, caf::actor bridge,
                           std::uint32_t max_in_flight) {
  self->state.bridge = std::move(bridge);
  self->state.max_in_flight = max_in_flight == 0 ? 1 : max_in_flight;
  return {
      [self](call_atom, std::uint32_t service_id, bytes& data) {
        auto rp = self->make_response_promise<bytes>();
        submit(self, service_id, std::move(data),
               [rp](caf::expected<bytes> r, std::int64_t) mutable {
                 if (r)
                   rp.deliver(std::move(*r));
                 else
                   rp.deliver(std::move(r.error()));
               });
      },
      [self](run_atom, std::vector<call_spec>& load) { run_load(self, load); },
  };
}

} // namespace

caf::actor spawn_client_actor(caf::actor_system& sys, caf::actor bridge,
                              std::uint32_t max_in_flight) {
  return sys.spawn(client_actor, std::move(bridge), max_in_flight);
}

} // namespace hyperamp::actors

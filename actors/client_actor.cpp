#include "actors/client_actor.hpp"

#include <chrono>
#include <deque>
#include <functional>

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

/// Runs a load: every request submitted at once, at most max_in_flight of
/// them outstanding; replies with all outcomes when the last one is in.
void run_load(client_ptr self, std::vector<call_spec>& load) {
  auto rp = self->make_response_promise<outcomes>();
  if (load.empty()) {
    rp.deliver(outcomes{});
    return;
  }
  auto results = std::make_shared<outcomes>(load.size());
  auto left = std::make_shared<std::size_t>(load.size());
  for (std::size_t i = 0; i < load.size(); ++i) {
    auto on_done = [rp, results, left, i](caf::expected<bytes> r,
                                          std::int64_t ns) mutable {
      auto& o = (*results)[i];
      o.index = i;
      o.latency_ns = ns;
      o.ok = static_cast<bool>(r);
      if (r)
        o.data = std::move(*r);
      else
        o.error = r.error();
      if (--*left == 0)
        rp.deliver(std::move(*results));
    };
    self->state.queue.push_back(
        {load[i].service_id, std::move(load[i].data), std::move(on_done)});
  }
  pump(self);
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

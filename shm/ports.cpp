#include "shm/ports.hpp"

#include <thread>

#include "shm/locked_ports.hpp"
#include "shm/participant.hpp"
#include "shm/partitioned_ports.hpp"
#include "shm/v1_ports.hpp"

namespace hyperamp::shm {

namespace {

using clock = std::chrono::steady_clock;

std::shared_ptr<region> open_region(const region_options& o,
                                    std::string* error) {
  auto r = region::open(o);
  if (!r) {
    *error = r.message;
    return nullptr;
  }
  return std::shared_ptr<region>{std::move(r.value)};
}

/// Polls slot 0 until a service holds it; "" or why not.
std::string await_service(region& r, const std::string& path,
                          std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (!is_active(r.slot_at(k_service_slot))) {
    if (clock::now() >= deadline)
      return "no service zone attached to " + path + " after " +
             std::to_string(timeout.count()) + " ms";
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return {};
}

} // namespace

port_result<client_port> open_client_port(const zone_options& o) {
  if (o.region.layout == region_layout::hvisor_v1)
    return v1::open_client(o);
  port_result<client_port> out;
  auto r = open_region(o.region, &out.error);
  if (!r)
    return out;
  if (o.wait_for_service.count() > 0) {
    out.error = await_service(*r, o.region.path, o.wait_for_service);
    if (!out.error.empty())
      return out;
  }
  participant self;
  if (participant::claim_client(*r, o.zone_id, self) != status::ok) {
    out.error = "region " + o.region.path + ": all " +
                std::to_string(r->max_clients()) +
                " client slots are taken (raise region.max_clients)";
    return out;
  }
  zone_bells bells;
  if (!open_bells(*r, zone_role::client, self.index(), o.bell, bells,
                  &out.error)) {
    self.release();
    return out;
  }
  if (o.region.layout == wire_layout::partitioned)
    out.port = std::make_unique<partitioned_client_port>(std::move(r), self, o,
                                                         std::move(bells));
  else
    out.port = std::make_unique<locked_client_port>(std::move(r), self, o,
                                                    std::move(bells));
  return out;
}

port_result<service_port> open_service_port(const zone_options& o) {
  if (o.region.layout == region_layout::hvisor_v1)
    return v1::open_service(o);
  port_result<service_port> out;
  auto r = open_region(o.region, &out.error);
  if (!r)
    return out;
  participant self;
  if (participant::claim_service(*r, o.zone_id, o.peer_dead, self) !=
      status::ok) {
    const auto& s = r->slot_at(k_service_slot);
    const auto zone = __atomic_load_n(&s.zone_id, __ATOMIC_RELAXED);
    const auto pid = __atomic_load_n(&s.pid, __ATOMIC_RELAXED);
    out.error = "region " + o.region.path + ": another service zone (zone " +
                std::to_string(zone) + ", pid " + std::to_string(pid) +
                ") is attached and alive";
    return out;
  }
  zone_bells bells;
  if (!open_bells(*r, zone_role::service, k_service_slot, o.bell, bells,
                  &out.error)) {
    self.release();
    return out;
  }
  if (o.region.layout == wire_layout::partitioned)
    out.port = std::make_unique<partitioned_service_port>(std::move(r), self, o,
                                                          std::move(bells));
  else
    out.port = std::make_unique<locked_service_port>(std::move(r), self, o,
                                                     std::move(bells));
  return out;
}

std::string wait_for_service(const region_options& o,
                             std::chrono::milliseconds timeout) {
  if (o.layout == region_layout::hvisor_v1)
    return v1::wait_for_service(o, timeout);
  auto opts = o;
  opts.attach_timeout = timeout;
  std::string error;
  auto r = open_region(opts, &error);
  return r ? await_service(*r, o.path, timeout) : error;
}

} // namespace hyperamp::shm

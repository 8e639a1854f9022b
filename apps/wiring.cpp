#include "apps/wiring.hpp"

#include <cerrno>
#include <cstring>
#include <sys/resource.h>

#include "actors/fwd.hpp"
#include "services/registry.hpp"

namespace hyperamp::apps {

shm::region_options region_options(const config::role_config& cfg) {
  shm::region_options o;
  const auto& r = cfg.region;
  o.layout = r.layout == config::region_layout::hvisor_v1
                 ? shm::wire_layout::hvisor_v1
             : r.layout == config::region_layout::partitioned
                 ? shm::wire_layout::partitioned
                 : shm::wire_layout::hyperamp;
  o.backend = r.backend == config::region_backend::physical
                  ? shm::region_backend::physical
                  : shm::region_backend::file;
  o.path = r.path;
  o.phys_addr = r.phys_addr;
  o.size = r.size;
  o.entries = r.entries;
  o.max_clients = r.max_clients;
  o.payload_size = r.payload_size;
  o.create =
      r.create == config::region_create::create   ? shm::create_mode::create
      : r.create == config::region_create::attach ? shm::create_mode::attach
                                                  : shm::create_mode::auto_;
  o.attach_timeout = std::chrono::milliseconds(cfg.timeouts.attach_ms);
  o.channel = cfg.channel;
  o.v1.buffer = {cfg.v1.buffer_addr, cfg.v1.buffer_size};
  o.v1.queue = {cfg.v1.queue_addr, cfg.v1.queue_size};
  o.v1.ready_addr = cfg.v1.ready_addr;
  o.v1.rering_ms = cfg.v1.rering_ms;
  return o;
}

shm::bell_settings bell_settings(const config::role_config& cfg) {
  shm::bell_settings b;
  const auto& d = cfg.doorbell;
  b.kind =
      d.backend == config::doorbell_backend::hvisor    ? shm::bell_kind::hvisor
      : d.backend == config::doorbell_backend::polling ? shm::bell_kind::polling
      : d.backend == config::doorbell_backend::fifo    ? shm::bell_kind::fifo
                                                       : shm::bell_kind::futex;
  b.spin = std::chrono::microseconds(d.spin_us);
  b.hvisor.hvisor_device = d.hvisor_device;
  b.hvisor.hshm_device = d.hshm_device;
  b.hvisor.target_zone = d.target_zone;
  b.hvisor.swi = d.swi;
  b.fifo_path = d.fifo;
  return b;
}

namespace {

actors::bridge_shell shell_of(const config::role_config& cfg) {
  switch (cfg.scheduler.bridge) {
  case config::bridge_thread::threaded:
    return actors::bridge_shell::threaded;
  case config::bridge_thread::scheduled:
    return actors::bridge_shell::scheduled;
  default:
    return actors::bridge_shell::automatic;
  }
}

} // namespace

actors::client_settings client_settings(const config::role_config& cfg) {
  actors::client_settings s;
  s.zone_id = cfg.zone_id;
  s.pending_limit = cfg.client.pending_limit;
  s.request_timeout = std::chrono::milliseconds(cfg.timeouts.request_ms);
  s.heartbeat = std::chrono::milliseconds(cfg.timeouts.heartbeat_ms);
  s.peer_dead = std::chrono::milliseconds(cfg.timeouts.peer_dead_ms);
  s.wait_for_service = std::chrono::milliseconds(cfg.timeouts.attach_ms);
  s.bell = bell_settings(cfg);
  s.shell = shell_of(cfg);
  return s;
}

actors::service_settings service_settings(const config::role_config& cfg) {
  actors::service_settings s;
  s.zone_id = cfg.zone_id;
  s.workers = cfg.service.workers;
  s.worker_capacity = cfg.service.worker_capacity;
  s.dispatch = cfg.service.dispatch == config::dispatch_policy::round_robin
                   ? actors::dispatch_kind::round_robin
                   : actors::dispatch_kind::least_loaded;
  s.batch = cfg.service.batch;
  s.inline_trivial = cfg.service.inline_max > 0;
  s.inline_max_bytes = cfg.service.inline_max;
  s.heartbeat = std::chrono::milliseconds(cfg.timeouts.heartbeat_ms);
  s.peer_dead = std::chrono::milliseconds(cfg.timeouts.peer_dead_ms);
  s.bell = bell_settings(cfg);
  s.shell = shell_of(cfg);
  return s;
}

std::unique_ptr<caf::actor_system_config>
caf_config(const config::role_config& cfg) {
  auto c = std::make_unique<caf::actor_system_config>();
  c->set("scheduler.max-threads", std::size_t{cfg.scheduler.max_threads});
  c->set("scheduler.policy", cfg.scheduler.policy == "sharing"
                                 ? caf::atom("sharing")
                                 : caf::atom("stealing"));
  c->set("work-stealing.moderate-poll-attempts",
         std::size_t{cfg.scheduler.moderate_poll_attempts});
  actors::register_errors(*c);
  return c;
}

actors::gateway_settings gateway_settings(const config::role_config& cfg,
                                          const options& o) {
  actors::gateway_settings s;
  const auto& g = cfg.gateway;
  s.port = static_cast<std::uint16_t>(o.port.value_or(g.port));
  s.bind = o.bind.value_or(g.bind);
  s.max_connections = g.max_connections;
  s.max_in_flight = g.max_in_flight;
  s.allowed = config::parse_id_list(g.allow, cfg.source + ": gateway.allow");
  s.deadline = std::chrono::milliseconds(cfg.timeouts.request_ms);
  s.max_message = cfg.client.max_message;
  s.tls = gateway_tls(cfg).enabled();
  return s;
}

actors::tls_files gateway_tls(const config::role_config& cfg) {
  return {cfg.gateway.tls_ca, cfg.gateway.tls_certificate, cfg.gateway.tls_key};
}

std::unique_ptr<caf::actor_system_config>
remote_caf_config(const actors::tls_files& tls) {
  config::role_config defaults; // scheduler: 2 threads, stealing, mpa 0
  auto c = caf_config(defaults);
  actors::configure_network(*c, tls);
  return c;
}

std::string raise_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return std::string{"getrlimit: "} + std::strerror(errno);
  if (lim.rlim_cur >= lim.rlim_max)
    return {};
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    return std::string{"setrlimit: "} + std::strerror(errno);
  return {};
}

void check_role(const config::role_config& cfg, const options& o) {
  const bool service = cfg.role == config::role_kind::service;
  if (o.cmd == command::serve && !service)
    throw config::config_error(cfg.source +
                               ": role is \"client\"; serve needs a role "
                               "file with role = \"service\"");
  if (o.cmd == command::call && service)
    throw config::config_error(cfg.source +
                               ": role is \"service\"; call needs a role "
                               "file with role = \"client\"");
  if (o.cmd == command::gateway && service)
    throw config::config_error(cfg.source +
                               ": role is \"service\"; gateway needs a role "
                               "file with role = \"client\" (the gateway "
                               "runs in the client zone)");
}

std::string service_list() {
  std::string out;
  for (const auto& e : services::registry())
    out += (out.empty() ? "" : ", ") + std::to_string(e.id) + " " + e.name;
  return out;
}

} // namespace hyperamp::apps

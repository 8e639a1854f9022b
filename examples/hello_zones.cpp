// A service zone and a client zone in one process, on a region file under
// /dev/shm: encrypts "hello" through service 1 and prints the result in hex
// (164e2c2f12). Built against an installed hyperamp (examples/CMakeLists.txt).
#include <cstdio>
#include <string>

#include <unistd.h>

#include <caf/all.hpp>

#include "actors/zone.hpp"
#include "services/registry.hpp"

using namespace hyperamp;

namespace {

int run(caf::actor_system& sys, const shm::region_options& region) {
  auto service =
      actors::spawn_service_zone(sys, region, {}, services::registry());
  if (!service) {
    std::fprintf(stderr, "service zone: %s\n",
                 actors::describe(service.error()).c_str());
    return 1;
  }
  auto client = actors::spawn_client_zone(sys, region, {});
  if (!client) {
    std::fprintf(stderr, "client zone: %s\n",
                 actors::describe(client.error()).c_str());
    caf::anon_send_exit(*service, caf::exit_reason::user_shutdown);
    return 1;
  }
  caf::scoped_actor self{sys};
  auto reply = actors::call(self, *client, 1, {'h', 'e', 'l', 'l', 'o'});
  caf::anon_send_exit(*client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*service, caf::exit_reason::user_shutdown);
  if (!reply) {
    std::fprintf(stderr, "call: %s\n", actors::describe(reply.error()).c_str());
    return 1;
  }
  for (auto b : *reply)
    std::printf("%02x", static_cast<unsigned>(b));
  std::printf("\n");
  return 0;
}

} // namespace

int main() {
  shm::region_options region;
  region.path = "/dev/shm/hyperamp-hello-" + std::to_string(::getpid());
  region.entries = 16;
  region.max_clients = 2;
  region.payload_size = 1 << 16;
  int rc;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", std::size_t{2});
    caf::actor_system sys{cfg};
    rc = run(sys, region);
  }
  ::unlink(region.path.c_str());
  return rc;
}

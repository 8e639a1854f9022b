// Compiles docs/examples/reverse.cpp and runs it through a service zone and
// a client zone in one process (real scheduler threads, a real region).
#include <doctest/doctest.h>

#include <unistd.h>

#include "actors/zone.hpp"
#include "services/registry.hpp"

namespace hyperamp::services {
service_entry reverse_entry();
}

using namespace hyperamp;

TEST_CASE("example: the reverse service of docs/adding-a-service.md works") {
  shm::region_options ro;
  ro.path = "/dev/shm/hyperamp-example-" + std::to_string(::getpid());
  ro.entries = 16;
  ro.max_clients = 2;
  ro.payload_size = 1 << 16;
  auto table = services::registry();
  table.push_back(services::reverse_entry());
  table.back().id = 3;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", std::size_t{2});
    caf::actor_system sys{cfg};
    auto service = actors::spawn_service_zone(sys, ro, {}, table);
    REQUIRE_MESSAGE(service, actors::describe(service.error()));
    auto client = actors::spawn_client_zone(sys, ro, {});
    REQUIRE_MESSAGE(client, actors::describe(client.error()));
    caf::scoped_actor self{sys};
    auto r = actors::call(self, *client, 3, {'a', 'b', 'c'});
    REQUIRE(r);
    CHECK(*r == actors::bytes{'c', 'b', 'a'});
    auto e = actors::call(self, *client, 1, {'h', 'e', 'l', 'l', 'o'});
    REQUIRE(e);
    CHECK(*e == actors::bytes{0x16, 0x4e, 0x2c, 0x2f, 0x12});
    caf::anon_send_exit(*client, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*service, caf::exit_reason::user_shutdown);
  }
  ::unlink(ro.path.c_str());
}

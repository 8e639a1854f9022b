// The ports of hyperamp's own (locked) layout, driven directly: what the
// service does with a client that died while the service still works on
// one of its requests.
#include "partitioned_util.hpp"
#include "shm/participant.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

zone_options locked_options(const std::string& path) {
  auto o = t::partitioned_options(path, 16, 1);
  o.region.layout = wire_layout::hyperamp;
  o.peer_dead = std::chrono::milliseconds(30);
  return o;
}

} // namespace

TEST_CASE("locked: a dead client's slot is evicted only once the service "
          "holds none of its requests (its partition may still be written)") {
  t::temp_path file("locked");
  const auto o = locked_options(file.path);
  auto svc = t::open_service(o);
  auto peek = region::open(o.region);
  REQUIRE(peek);
  region& r = *peek.value;
  auto dead = t::open_client(o);
  for (std::uint64_t s = 1; s <= 4; ++s)
    t::send(*dead, "abc", s);
  incoming in[1];
  REQUIRE(svc->take_submitted(in, 1).count == 1); // held by the service
  dead.reset();                                   // dies: no leave

  // The service's own clock, driven here: silent for ten times peer_dead,
  // the client is dead, but its slot stays claimed (the only one: no
  // second client) while the service holds one of its requests.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i <= 10; ++i)
    svc->reap(t0 + i * o.peer_dead);
  CHECK(is_active(r.slot_at(1)));
  CHECK_FALSE(open_client_port(o));

  // Completed: the next reap evicts the slot and gives every entry back.
  outcome out{in[0].ticket, wire_status::ok, 3};
  svc->complete(&out, 1);
  CHECK(svc->reap(t0 + 11 * o.peer_dead) == 4u);
  CHECK_FALSE(is_active(r.slot_at(1)));

  // The next owner starts clean: the three requests never taken are gone.
  auto next = t::open_client(o);
  t::send(*next, "new", 100);
  CHECK(t::echo_all(*svc) == 1);
  const auto done = t::take_all(*next);
  REQUIRE(done.size() == 1);
  CHECK(done[0].done_seq == 100);
  CHECK(next->incidents() == 0);
}

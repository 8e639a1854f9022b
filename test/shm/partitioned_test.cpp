// The partitioned layout's ports in one process: round trips around the
// rings, the layout check at attach, room, coalesced bells, validation of
// what the peer wrote, a restarted service and a dead client.
#include "partitioned_util.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

using t::release_all;
using t::take_all;

} // namespace

TEST_CASE("partitioned: requests go round the rings many times") {
  t::temp_path file("part");
  const auto o = t::partitioned_options(file.path);
  auto svc = t::open_service(o);
  auto cli = t::open_client(o);
  CHECK(cli->tickets() == 16);
  CHECK(svc->abort_predecessor() == 0);
  std::uint64_t seq = 1000;
  for (int round = 0; round < 20; ++round) { // 20 x 5 = 100 > 6 x 16
    std::set<std::uint64_t> sent;
    for (int i = 0; i < 5; ++i) {
      t::send(*cli, "hello " + std::to_string(seq), seq);
      sent.insert(seq++);
    }
    CHECK(t::echo_all(*svc) == 5);
    const auto done = take_all(*cli);
    REQUIRE(done.size() == 5);
    for (const auto& d : done) {
      CHECK(d.why == nullptr);
      CHECK(d.result == wire_status::ok);
      CHECK(sent.erase(d.done_seq) == 1);
      CHECK(std::string(reinterpret_cast<const char*>(d.data), d.length) ==
            "hello " + std::to_string(d.done_seq));
    }
    release_all(*cli, done);
  }
  CHECK(cli->incidents() == 0);
  CHECK(svc->incidents() == 0);
  cli->leave();
  svc->leave();
}

TEST_CASE("partitioned: a zone of the other layout is refused, naming both") {
  t::temp_path file("part");
  auto o = t::partitioned_options(file.path);
  auto svc = t::open_service(o);
  o.region.layout = wire_layout::hyperamp;
  auto r = open_client_port(o);
  REQUIRE_FALSE(r);
  CHECK(r.error.find("partitioned wire layout") != std::string::npos);
  CHECK(r.error.find("region.layout = \"hyperamp\"") != std::string::npos);
  svc->leave();

  t::temp_path other("locked");
  auto lo = t::partitioned_options(other.path);
  lo.region.layout = wire_layout::hyperamp;
  auto locked = t::open_service(lo);
  lo.region.layout = wire_layout::partitioned;
  auto p = open_client_port(lo);
  REQUIRE_FALSE(p);
  CHECK(p.error.find("hyperamp wire layout") != std::string::npos);
  locked->leave();
}

TEST_CASE("partitioned: room is the ring; acquire says full, not more") {
  t::temp_path file("part");
  const auto o = t::partitioned_options(file.path);
  auto svc = t::open_service(o);
  auto cli = t::open_client(o);
  std::vector<std::uint32_t> sizes(20, 8);
  std::vector<lease> l(20);
  const auto got = cli->acquire(sizes.data(), sizes.size(), l.data());
  CHECK(got.count == 16);
  CHECK(got.st == status::full);
  std::vector<std::uint32_t> tickets;
  for (std::size_t i = 0; i < got.count; ++i)
    tickets.push_back(l[i].ticket);
  CHECK(std::set<std::uint32_t>(tickets.begin(), tickets.end()).size() == 16);
  cli->release(tickets.data(), tickets.size());
  CHECK(cli->acquire(sizes.data(), 1, l.data()).count == 1);
}

TEST_CASE("partitioned: bells are coalesced: one ring until the service "
          "scans") {
  t::temp_path file("part");
  const auto o = t::partitioned_options(file.path);
  auto svc = t::open_service(o);
  auto cli = t::open_client(o);
  for (std::uint64_t s = 1; s <= 5; ++s)
    t::send(*cli, "x", s);
  CHECK(cli->counters().rings == 1);
  CHECK(t::echo_all(*svc) == 5);
  t::send(*cli, "y", 6); // the service scanned: the next batch rings again
  CHECK(cli->counters().rings == 2);
  CHECK(t::echo_all(*svc) == 1);
  CHECK(take_all(*cli).size() == 6);
}

TEST_CASE("partitioned: a bad request fails alone; a bad answer too") {
  t::temp_path file("part");
  const auto o = t::partitioned_options(file.path);
  auto svc = t::open_service(o);
  auto cli = t::open_client(o);
  auto* ppc = dynamic_cast<partitioned_client_port*>(cli.get());
  REQUIRE(ppc != nullptr);
  region_options ro = o.region;
  auto peek = region::open(ro);
  REQUIRE(peek);
  region& r = *peek.value;
  for (std::uint64_t s = 1; s <= 3; ++s)
    t::send(*cli, "abc", s);
  // The second request's offset now points into another slot's partition.
  request_cell& bad = request_at(r, ppc->slot(), 1);
  bad.payload_offset += static_cast<std::uint32_t>(r.geo().partition_size);
  CHECK(t::echo_all(*svc) == 2);
  auto done = take_all(*cli);
  REQUIRE(done.size() == 3);
  for (const auto& d : done)
    CHECK(d.result ==
          (d.done_seq == 2 ? wire_status::bad_request : wire_status::ok));
  release_all(*cli, done);
  CHECK(svc->counters().rejected_total == 1);
  // An answer whose status is garbage fails that request only.
  t::send(*cli, "abc", 4);
  t::send(*cli, "abc", 5);
  incoming in[2];
  REQUIRE(svc->take_submitted(in, 2).count == 2);
  outcome out[2] = {{in[0].ticket, wire_status::ok, 3},
                    {in[1].ticket, wire_status::ok, 3}};
  svc->complete(out, 2);
  const std::uint64_t tail =
      ring_of(r, ppc->slot()).resp_tail.load(std::memory_order_acquire);
  response_cell& cell = response_at(r, ppc->slot(), tail - 1);
  cell.status = 77;
  done = take_all(*cli);
  REQUIRE(done.size() == 2);
  CHECK(done[0].why == nullptr);
  CHECK(done[1].why != nullptr);
  // An answer for a sequence number not in flight is dropped and counted.
  t::send(*cli, "abc", 6);
  REQUIRE(svc->take_submitted(in, 1).count == 1);
  out[0] = {in[0].ticket, wire_status::ok, 3};
  svc->complete(out, 1);
  response_at(r, ppc->slot(), tail).done_seq = 99;
  CHECK(take_all(*cli).empty());
  CHECK(cli->counters().rejected_total == 2);
}

TEST_CASE("partitioned: a restarted service aborts its predecessor's work "
          "and serves the rest") {
  t::temp_path file("part");
  auto o = t::partitioned_options(file.path);
  o.peer_dead = std::chrono::milliseconds(50);
  auto svc = t::open_service(o);
  auto cli = t::open_client(o);
  for (std::uint64_t s = 1; s <= 5; ++s)
    t::send(*cli, "abc", s);
  incoming in[3];
  REQUIRE(svc->take_submitted(in, 3).count == 3);
  svc.reset(); // dies holding 3 (no leave: its slot stays taken)
  auto next = t::open_service(o); // takes over once slot 0 is silent
  CHECK(next->abort_predecessor() == 3);
  CHECK(t::echo_all(*next) == 2);
  const auto done = take_all(*cli);
  REQUIRE(done.size() == 5);
  for (const auto& d : done)
    CHECK(d.result ==
          (d.done_seq <= 3 ? wire_status::aborted : wire_status::ok));
  release_all(*cli, done);
  // And it goes on working.
  t::send(*cli, "more", 6);
  CHECK(t::echo_all(*next) == 1);
  CHECK(take_all(*cli).size() == 1);
}

TEST_CASE("partitioned: a dead client's partition is reclaimed; its "
          "requests are not served to the next owner") {
  t::temp_path file("part");
  auto o = t::partitioned_options(file.path, 16, 1);
  o.peer_dead = std::chrono::milliseconds(30);
  auto svc = t::open_service(o);
  auto dead = t::open_client(o);
  for (std::uint64_t s = 1; s <= 4; ++s)
    t::send(*dead, "abc", s);
  incoming in[1];
  REQUIRE(svc->take_submitted(in, 1).count == 1); // held by the service
  dead.reset();                                   // dies: no leave
  // The only slot is taken: no second client yet.
  CHECK_FALSE(open_client_port(o));
  // Silent for three times peer_dead: dead, but not evicted while the
  // service holds one of its requests.
  const auto dead_by = std::chrono::steady_clock::now() + 3 * o.peer_dead;
  std::size_t early = 0;
  while (std::chrono::steady_clock::now() < dead_by)
    early += svc->reap(std::chrono::steady_clock::now());
  CHECK(early == 0);
  CHECK_FALSE(open_client_port(o));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  outcome out{in[0].ticket, wire_status::ok, 3};
  svc->complete(&out, 1);
  std::size_t evicted = 0;
  while (evicted == 0 && std::chrono::steady_clock::now() < until)
    evicted = svc->reap(std::chrono::steady_clock::now());
  REQUIRE(evicted == 1);
  auto next = t::open_client(o);
  t::send(*next, "new", 100);
  CHECK(t::echo_all(*svc) == 1); // the three old ones are dropped
  const auto done = take_all(*next);
  REQUIRE(done.size() == 1);
  CHECK(done[0].done_seq == 100);
  CHECK(next->incidents() == 0);
}

TEST_CASE("partitioned: a request whose answer was damaged away is given "
          "up by lost(), one in service or in the ring is not") {
  t::temp_path file("part");
  const auto o = t::partitioned_options(file.path);
  auto svc = t::open_service(o);
  auto cli = t::open_client(o);
  auto* ppc = dynamic_cast<partitioned_client_port*>(cli.get());
  auto peek = region::open(o.region);
  REQUIRE(peek);
  const std::uint32_t a = t::send(*cli, "abc", 1);
  CHECK_FALSE(cli->lost(a)); // in the ring
  incoming in[1];
  REQUIRE(svc->take_submitted(in, 1).count == 1);
  CHECK_FALSE(cli->lost(a)); // held by the service
  outcome out{in[0].ticket, wire_status::ok, 3};
  svc->complete(&out, 1);
  CHECK_FALSE(cli->lost(a)); // answered, not yet taken
  response_at(*peek.value, ppc->slot(), 0).ticket = 9999;
  CHECK(take_all(*cli).empty());
  CHECK(cli->lost(a)); // its answer is gone
  CHECK_FALSE(cli->lost(a));
}

// Fuzz: random bytes in every field the peer can write in the partitioned
// layout (request and response cells, the four ring indices, the pending
// bits, the service records, the slots), between valid operations of both
// ports. Properties: no crash, no read outside the rings (the payload area
// and a page after the region are PROT_NONE, and the rings end exactly
// where the payload begins: the ports only compute payload pointers), every
// request handed out lies inside its client's partition with length <=
// capacity, every answer handed out names a ticket in range and lies in
// the client's own partition; a service that takes over the damaged region
// survives it too.
#include "partitioned_util.hpp"
#include "shm/wire.hpp"

#include <doctest/doctest.h>

#include <sys/mman.h>

#include <random>
#include <string>
#include <vector>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

// 3 client slots, 10 entries: the last ring ends at 4096, where the
// payload area (3 x 4 KiB) begins.
constexpr std::uint32_t k_entries = 10;
constexpr std::uint32_t k_clients = 3;
constexpr std::uint64_t k_payload = 3 * 4096;
constexpr std::size_t k_page = 4096;
constexpr geometry k_geo =
    make_geometry(k_entries, k_clients, k_payload, wire_layout::partitioned);
static_assert(k_geo.rings_offset + k_geo.ring_stride * k_clients ==
                  k_geo.payload_offset,
              "the guard layout needs the rings to end at the payload");
static_assert(k_geo.region_size % k_page == 0);

struct fuzz_round {
  std::mt19937_64& rng;
  std::shared_ptr<region> r;
  zone_options o;
  std::uint64_t failures = 0, handed_out = 0, answers = 0;
  std::string first;

  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(rng() % n);
  }

  void check(bool ok, const char* what) {
    if (!ok && failures++ == 0)
      first = what;
  }

  /// Random bytes somewhere the peer may write: slots, summary, records,
  /// rings (indices and cells).
  void damage() {
    const std::uint64_t lo = k_geo.slots_offset, hi = k_geo.payload_offset;
    const std::uint32_t what = below(4);
    std::uint8_t* at = nullptr;
    if (what == 0) { // an index of a ring
      at = ring_block(*r, 1 + below(k_clients)) + 64 * below(4);
    } else if (what == 1) { // a cell
      at = ring_block(*r, 1 + below(k_clients)) + k_ring_control_size +
           k_cell_size * below(2 * k_entries);
    } else { // anywhere
      at = r->base() + lo + below(static_cast<std::uint32_t>(hi - lo - 8));
    }
    const std::uint64_t v = below(4) == 0 ? rng() : rng() % 64;
    const std::uint32_t n = 1 + below(8);
    for (std::uint32_t i = 0; i < n && at + i < r->base() + hi; ++i)
      at[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }

  void serve(service_port& s) {
    incoming in[16];
    outcome out[16];
    const auto got = s.take_submitted(in, 16);
    for (std::size_t i = 0; i < got.count; ++i) {
      const std::uint8_t* p = in[i].data;
      const std::uint8_t* base = r->payload();
      const bool inside =
          p >= base && in[i].length <= in[i].capacity &&
          p + in[i].capacity <= base + r->geo().payload_size &&
          static_cast<std::uint64_t>(p - base) / r->geo().partition_size ==
              static_cast<std::uint64_t>(p + in[i].capacity - 1 - base) /
                  r->geo().partition_size;
      check(inside, "a request handed out outside a partition");
      check(in[i].ticket < s.tickets(), "a service ticket out of range");
      out[i] = {in[i].ticket, wire_status::ok, in[i].length};
      ++handed_out;
    }
    s.complete(out, got.count);
  }

  void collect(client_port& c, std::uint16_t slot) {
    completion done[16];
    const auto got = c.take_completed(done, 16);
    const std::uint8_t* lo = r->payload() + partition_offset(*r, slot);
    for (std::size_t i = 0; i < got.count; ++i) {
      check(done[i].ticket < c.tickets(), "an answer's ticket out of range");
      if (done[i].why == nullptr)
        check(done[i].data >= lo &&
                  done[i].data + done[i].length <= lo + r->geo().partition_size,
              "an answer outside the client's partition");
      c.release(&done[i].ticket, 1);
      ++answers;
    }
  }

  void send_some(client_port& c, std::uint64_t& seq) {
    const std::uint32_t n = below(4);
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t size = below(300);
      lease l;
      if (c.acquire(&size, 1, &l).count != 1)
        return;
      request_desc d{l.ticket, seq++, 66, size};
      if (c.submit(&d, 1).count != 1)
        c.release(&l.ticket, 1);
    }
  }

  void run() {
    region::initialise(r->base(), k_geo, "default");
    r->header().init_state.store(2);
    participant sp, cp;
    REQUIRE(participant::claim_service(*r, 1, o.peer_dead, sp) == status::ok);
    REQUIRE(participant::claim_client(*r, 2, cp) == status::ok);
    zone_bells sb, cb;
    std::string err;
    REQUIRE(open_bells(*r, zone_role::service, 0, o.bell, sb, &err));
    REQUIRE(open_bells(*r, zone_role::client, cp.index(), o.bell, cb, &err));
    partitioned_service_port s(r, sp, o, std::move(sb));
    partitioned_client_port c(r, cp, o, std::move(cb));
    s.abort_predecessor();
    std::uint64_t seq = 1;
    const std::uint32_t steps = 4 + below(20);
    for (std::uint32_t k = 0; k < steps; ++k) {
      switch (below(6)) {
      case 0:
        send_some(c, seq);
        break;
      case 1:
        serve(s);
        break;
      case 2:
        collect(c, c.slot());
        break;
      case 3:
        s.reap(std::chrono::steady_clock::now());
        break;
      case 4:
        c.sweep();
        for (std::uint32_t t2 = 0; t2 < c.tickets(); ++t2)
          c.lost(t2);
        break;
      default:
        damage();
        break;
      }
    }
    // A service that takes over the damaged region must survive it too.
    zone_bells sb2;
    REQUIRE(open_bells(*r, zone_role::service, 0, o.bell, sb2, &err));
    partitioned_service_port s2(r, sp, o, std::move(sb2));
    s2.abort_predecessor();
    serve(s2);
  }
};

} // namespace

TEST_CASE("partitioned fuzz: the ports survive random bytes in everything "
          "the peer writes") {
  t::temp_path file("pfuzz");
  region_options ro =
      t::small_options(file.path, k_entries, k_clients, k_payload);
  ro.layout = wire_layout::partitioned;
  ro.size = k_geo.region_size + k_page;
  auto res = region::open(ro);
  REQUIRE(res);
  std::shared_ptr<region> r{std::move(res.value)};
  REQUIRE(::mprotect(r->payload(), k_geo.payload_size + k_page, PROT_NONE) ==
          0);
  std::mt19937_64 rng(0x9a27);
  zone_options o =
      t::partitioned_options(file.path, k_entries, k_clients, k_payload);
  o.bell.kind = bell_kind::polling;
  fuzz_round f{rng, r, o, 0, 0, 0, {}};
  const std::size_t rounds = t::scaled(20'000, 2'000);
  for (std::size_t i = 0; i < rounds && f.failures == 0; ++i)
    f.run();
  MESSAGE("requests handed out " << f.handed_out << ", answers " << f.answers);
  INFO("first failed property: " << f.first);
  CHECK(f.failures == 0);
  CHECK(f.handed_out > rounds / 10);
  CHECK(f.answers > rounds / 10);
  ::mprotect(r->payload(), k_geo.payload_size + k_page, PROT_READ | PROT_WRITE);
}

// Binary-compatibility mirror of the wire layout (iceoryx style): the
// expected offsets and sizes are written out here a second time, by hand,
// and compared with what the compiler made of shm/layout.hpp. A change to
// the wire structs must change this table and bump k_layout_version.
#include "shm/layout.hpp"
#include "shm/region.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

using namespace hyperamp::shm;

namespace {

struct field {
  std::string name;
  std::size_t offset;
  std::size_t size;
};

bool operator==(const field& a, const field& b) {
  return a.name == b.name && a.offset == b.offset && a.size == b.size;
}

doctest::String toString(const field& f) {
  return (f.name + "@" + std::to_string(f.offset) + "+" +
          std::to_string(f.size))
      .c_str();
}

// clang-format off
#define HA_FIELD(type, member) \
  field{#member, offsetof(type, member), sizeof(type::member)}
// clang-format on

// -- the expected layout, version 2 -----------------------------------------

const std::vector<field> expected_header = {
    {"magic", 0, 8},
    {"layout_version", 8, 4},
    {"header_size", 12, 4},
    {"region_size", 16, 8},
    {"entry_count", 24, 4},
    {"entry_size", 28, 4},
    {"entries_offset", 32, 8},
    {"payload_offset", 40, 8},
    {"payload_size", 48, 8},
    {"max_clients", 56, 4},
    {"init_state", 60, 4},
    {"queue_lock", 64, 4},
    {"lock_recoveries", 68, 4},
    {"free_head", 72, 4},
    {"free_tail", 76, 4},
    {"submitted_head", 80, 4},
    {"submitted_tail", 84, 4},
    {"in_service_head", 88, 4},
    {"in_service_tail", 92, 4},
    {"slot_size", 96, 4},
    {"slots_offset", 100, 4},
    {"partition_size", 104, 8},
    {"corrupt_found", 112, 8},
    {"repairs", 120, 8},
    {"channel", 128, 64},
    {"reserved2", 192, 64},
};

const std::vector<field> expected_slot = {
    {"owner", 0, 8},
    {"heartbeat", 8, 8},
    {"pid", 16, 4},
    {"zone_id", 20, 4},
    {"reserved_a", 24, 40},
    {"completed_head", 64, 4},
    {"completed_tail", 68, 4},
    {"reserved_b", 72, 56},
    {"bell_seq", 128, 4},
    {"bell_sleeping", 132, 4},
    {"reserved_c", 136, 56},
};

const std::vector<field> expected_entry = {
    {"next", 0, 4},
    {"prev", 4, 4},
    {"tag", 8, 8},
    {"seq", 16, 8},
    {"service_id", 24, 4},
    {"payload_offset", 28, 4},
    {"payload_length", 32, 4},
    {"payload_capacity", 36, 4},
    {"done_seq", 40, 8},
    {"result_length", 48, 4},
    {"status", 52, 4},
    {"reserved1", 56, 8},
};

// -- what the compiler made of layout.hpp -------------------------------------

std::vector<field> actual_header() {
  using h = region_header;
  return {
      HA_FIELD(h, magic),           HA_FIELD(h, layout_version),
      HA_FIELD(h, header_size),     HA_FIELD(h, region_size),
      HA_FIELD(h, entry_count),     HA_FIELD(h, entry_size),
      HA_FIELD(h, entries_offset),  HA_FIELD(h, payload_offset),
      HA_FIELD(h, payload_size),    HA_FIELD(h, max_clients),
      HA_FIELD(h, init_state),      HA_FIELD(h, queue_lock),
      HA_FIELD(h, lock_recoveries), HA_FIELD(h, free_head),
      HA_FIELD(h, free_tail),       HA_FIELD(h, submitted_head),
      HA_FIELD(h, submitted_tail),  HA_FIELD(h, in_service_head),
      HA_FIELD(h, in_service_tail), HA_FIELD(h, slot_size),
      HA_FIELD(h, slots_offset),    HA_FIELD(h, partition_size),
      HA_FIELD(h, corrupt_found),   HA_FIELD(h, repairs),
      HA_FIELD(h, channel),         HA_FIELD(h, reserved2),
  };
}

std::vector<field> actual_slot() {
  return {
      HA_FIELD(slot, owner),
      HA_FIELD(slot, heartbeat),
      HA_FIELD(slot, pid),
      HA_FIELD(slot, zone_id),
      HA_FIELD(slot, reserved_a),
      HA_FIELD(slot, completed_head),
      HA_FIELD(slot, completed_tail),
      HA_FIELD(slot, reserved_b),
      HA_FIELD(slot, bell_seq),
      HA_FIELD(slot, bell_sleeping),
      HA_FIELD(slot, reserved_c),
  };
}

std::vector<field> actual_entry() {
  return {
      HA_FIELD(entry, next),
      HA_FIELD(entry, prev),

      HA_FIELD(entry, tag),
      HA_FIELD(entry, seq),
      HA_FIELD(entry, service_id),
      HA_FIELD(entry, payload_offset),
      HA_FIELD(entry, payload_length),
      HA_FIELD(entry, payload_capacity),
      HA_FIELD(entry, done_seq),
      HA_FIELD(entry, result_length),
      HA_FIELD(entry, status),
      HA_FIELD(entry, reserved1),
  };
}

/// Row by row; then the table itself must tile the struct without gaps or
/// overlaps (so no field can hide in padding the table does not mention).
void check_table(const std::vector<field>& expected,
                 const std::vector<field>& actual, std::size_t struct_size) {
  REQUIRE(expected.size() == actual.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == expected[i]);
  }
  std::size_t at = 0;
  for (const auto& f : expected) {
    CAPTURE(f.name);
    CHECK(f.offset == at);
    at = f.offset + f.size;
  }
  CHECK(at == struct_size);
}

} // namespace

TEST_CASE("layout: region_header matches the version-2 table") {
  check_table(expected_header, actual_header(), sizeof(region_header));
  CHECK(sizeof(region_header) == 256);
  CHECK(alignof(region_header) == 8);
}

TEST_CASE("layout: slot matches the version-2 table") {
  check_table(expected_slot, actual_slot(), sizeof(slot));
  CHECK(sizeof(slot) == 192);
  CHECK(alignof(slot) == 8);
}

TEST_CASE("layout: entry matches the version-2 table") {
  check_table(expected_entry, actual_entry(), sizeof(entry));
  CHECK(sizeof(entry) == 64);
  CHECK(alignof(entry) == 8);
}

TEST_CASE("layout: fields written by different sides sit on their own lines") {
  const auto line = [](std::size_t off) { return off / k_cache_line; };
  CHECK(line(offsetof(region_header, init_state)) == 0);
  CHECK(line(offsetof(region_header, queue_lock)) == 1);
  CHECK(line(offsetof(region_header, in_service_tail)) == 1);
  CHECK(line(offsetof(slot, heartbeat)) == 0);
  CHECK(line(offsetof(slot, completed_head)) == 1);
  CHECK(line(offsetof(slot, bell_seq)) == 2);
  CHECK(line(offsetof(slot, bell_sleeping)) == 2);
  // Every atomic word is naturally aligned (a torn word would be garbage).
  CHECK(offsetof(region_header, queue_lock) % 4 == 0);
  CHECK(offsetof(slot, heartbeat) % 8 == 0);
  CHECK(k_cache_line == 64);
  CHECK(k_payload_align == 64);
}

TEST_CASE("layout: version and magic") {
  CHECK(k_layout_version == 2);
  char bytes[sizeof(k_magic)];
  std::memcpy(bytes, &k_magic, sizeof(bytes));
  CHECK(std::string(bytes, sizeof(bytes)) == "HYPERAMP");
  CHECK(k_nil == 0xFFFFFFFFu);
  CHECK(k_max_entries == 65535);
  CHECK(k_max_clients == 256);
  CHECK(k_service_slot == 0);
}

TEST_CASE("layout: enum values on the wire") {
  CHECK(static_cast<std::uint32_t>(init_state::raw) == 0);
  CHECK(static_cast<std::uint32_t>(init_state::initializing) == 1);
  CHECK(static_cast<std::uint32_t>(init_state::ready) == 2);
  CHECK(static_cast<std::uint16_t>(list_id::none) == 0);
  CHECK(static_cast<std::uint16_t>(list_id::free) == 1);
  CHECK(static_cast<std::uint16_t>(list_id::client) == 2);
  CHECK(static_cast<std::uint16_t>(list_id::submitted) == 3);
  CHECK(static_cast<std::uint16_t>(list_id::in_service) == 4);
  CHECK(static_cast<std::uint16_t>(list_id::completed) == 5);
  CHECK(k_list_id_max == 5);
  CHECK(static_cast<std::uint32_t>(slot_state::free) == 0);
  CHECK(static_cast<std::uint32_t>(slot_state::active) == 1);
  CHECK(static_cast<std::uint32_t>(wire_status::pending) == 0);
  CHECK(static_cast<std::uint32_t>(wire_status::ok) == 1);
  CHECK(static_cast<std::uint32_t>(wire_status::unknown_service) == 2);
  CHECK(static_cast<std::uint32_t>(wire_status::bad_request) == 3);
  CHECK(static_cast<std::uint32_t>(wire_status::service_failed) == 4);
  CHECK(static_cast<std::uint32_t>(wire_status::aborted) == 5);
  CHECK(k_wire_status_max == 5);
}

TEST_CASE(
    "layout: geometry for the defaults (256 entries, 32 clients, 8 MiB)") {
  constexpr geometry g = make_geometry(256, 32, 8u << 20);
  CHECK(g.entry_count == 256);
  CHECK(g.max_clients == 32);
  CHECK(g.slots_offset == 0x100);
  CHECK(g.entries_offset == 6592);  // 256 + 33 * 192, already 64-aligned
  CHECK(g.payload_offset == 24576); // 6592 + 256 * 64 = 22976 -> 6 pages
  CHECK(g.partition_size == 262144);
  CHECK(g.payload_size == 8u << 20);
  CHECK(g.region_size == 24576 + (8u << 20));
  // The diagram in layout.hpp: slot[1] at 0x1C0.
  CHECK(g.slots_offset + sizeof(slot) == 0x1C0);
}

TEST_CASE("layout: geometry for other sizes") {
  SUBCASE("smallest: 2 entries, 1 client, 64 bytes") {
    constexpr geometry g = make_geometry(2, 1, 64);
    CHECK(g.entries_offset == 640);
    CHECK(g.payload_offset == 4096);
    CHECK(g.partition_size == 64);
    CHECK(g.payload_size == 64);
    CHECK(g.region_size == 4160);
  }
  SUBCASE("largest: 65535 entries, 256 clients, 1 GiB") {
    constexpr geometry g = make_geometry(65535, 256, 1u << 30);
    CHECK(g.entries_offset == 49600);
    CHECK(g.payload_offset == 4247552);
    CHECK(g.partition_size == 4194304);
    CHECK(g.region_size == 4247552ull + (1u << 30));
  }
  SUBCASE("payload rounds down per partition: 100 entries, 3 clients, 1000 B") {
    constexpr geometry g = make_geometry(100, 3, 1000);
    CHECK(g.entries_offset == 1024);
    CHECK(g.payload_offset == 8192);
    CHECK(g.partition_size == 320);
    CHECK(g.payload_size == 960);
    CHECK(g.region_size == 9152);
  }
  SUBCASE("no clients: no partitions") {
    constexpr geometry g = make_geometry(4, 0, 4096);
    CHECK(g.partition_size == 0);
    CHECK(g.payload_size == 0);
  }
}

TEST_CASE("layout: geometry invariants over a sweep") {
  const std::uint32_t entries[] = {2, 3, 63, 64, 65, 255, 256, 1000, 65535};
  const std::uint32_t clients[] = {1, 2, 3, 7, 32, 33, 255, 256};
  const std::uint64_t payloads[] = {64 * 256, 100000, 8u << 20, 1u << 30};
  for (auto e : entries)
    for (auto c : clients)
      for (auto p : payloads) {
        CAPTURE(e);
        CAPTURE(c);
        CAPTURE(p);
        const geometry g = make_geometry(e, c, p);
        CHECK(g.slots_offset == sizeof(region_header));
        CHECK(g.entries_offset % 64 == 0);
        CHECK(g.entries_offset >= g.slots_offset + sizeof(slot) * (c + 1ull));
        CHECK(g.entries_offset <
              g.slots_offset + sizeof(slot) * (c + 1ull) + 64);
        CHECK(g.payload_offset % 4096 == 0);
        CHECK(g.payload_offset >= g.entries_offset + sizeof(entry) * e);
        CHECK(g.payload_offset < g.entries_offset + sizeof(entry) * e + 4096);
        CHECK(g.partition_size % 64 == 0);
        CHECK(g.payload_size == g.partition_size * c);
        CHECK(g.payload_size <= p);
        CHECK(p - g.payload_size < k_payload_align * c);
        CHECK(g.region_size == g.payload_offset + g.payload_size);
      }
}

TEST_CASE("layout: an initialised region carries its identity in memory") {
  hyperamp::shm::test::test_region tr(64, 4, 4 * 4096);
  const std::uint8_t* base = tr->base();
  CHECK(std::memcmp(base, "HYPERAMP", 8) == 0);
  const geometry g = make_geometry(64, 4, 4 * 4096);
  const region_header& h = tr->header();
  CHECK(h.layout_version == 2);
  CHECK(h.header_size == 256);
  CHECK(h.entry_size == 64);
  CHECK(h.slot_size == 192);
  CHECK(h.region_size == g.region_size);
  CHECK(h.entries_offset == g.entries_offset);
  CHECK(h.payload_offset == g.payload_offset);
  CHECK(h.slots_offset == g.slots_offset);
  CHECK(h.partition_size == g.partition_size);
  CHECK(h.init_state.load() == static_cast<std::uint32_t>(init_state::ready));
  CHECK(h.queue_lock.load() == 0);
  // Accessors land where the geometry says.
  CHECK(reinterpret_cast<const std::uint8_t*>(&tr->slot_at(1)) ==
        base + g.slots_offset + sizeof(slot));
  CHECK(reinterpret_cast<const std::uint8_t*>(&tr->entry_at(3)) ==
        base + g.entries_offset + 3 * sizeof(entry));
  CHECK(tr->payload() == base + g.payload_offset);
  std::string why;
  CHECK(region::check(base, tr->mapped_size(), &why) == open_error::none);
}
